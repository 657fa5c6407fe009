"""JSON encoding and decoding for large payloads: msgspec, with the collector paused.

msgspec writes the same compact UTF-8 text as ``json.dumps(obj, separators=(",", ":"),
ensure_ascii=False)`` (floats may be spelt differently: ``1e20`` for ``1e+20``) several times
faster, and decodes a 35 MB listing in about 0.2 s once the garbage collector is paused (see
:mod:`directorsync.gcpause`); the standard library needs over 1 s. Text msgspec refuses but the
standard library reads (``NaN``) falls back to :func:`json.loads`, so nothing valid is rejected.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import msgspec

from directorsync.gcpause import gc_paused

_BIG = 1 << 20
_decoding = threading.Lock()
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def loads(data: bytes | str) -> Any:
    """Decode JSON text (``ValueError`` when it is not JSON).

    Large texts are decoded one at a time: decoding holds the interpreter lock anyway, and
    threads taking turns on several 30 MB listings only thrash each other's caches.
    """
    if len(data) >= _BIG:
        with _decoding, gc_paused():
            return _loads(data)
    return _loads(data)


def _loads(data: bytes | str) -> Any:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII kept as is)."""
    try:
        return _encoder.encode(obj)
    except (TypeError, msgspec.EncodeError):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

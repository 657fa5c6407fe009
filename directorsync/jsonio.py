"""JSON encoding and decoding for large payloads: msgspec, with the collector paused.

msgspec writes the same compact UTF-8 text as ``json.dumps(obj, separators=(",", ":"),
ensure_ascii=False)`` (floats may be spelt differently: ``1e20`` for ``1e+20``) several times
faster, and decodes a 35 MB listing in about 0.2 s once the garbage collector is paused (see
:mod:`directorsync.gcpause`); the standard library needs over 1 s. Text msgspec refuses but the
standard library reads (``NaN``) falls back to :func:`json.loads`, so nothing valid is rejected.

:func:`loads_columns` decodes a listing (a JSON array of objects) keeping only the named fields,
column by column: msgspec skips the other fields without building them, which halves the time
of a large listing of which a plan compares a few fields.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from functools import lru_cache
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


def loads_columns(data: bytes | str, fields: Sequence[str]) -> dict[str, list[Any]]:
    """Decode a JSON array of objects into columns of the named fields.

    Returns:
        ``{field: [value per object]}`` for every field that at least one object has (an
        object without the field gives None, like a frame built from the objects).

    Raises:
        ValueError: the text is not JSON, or not an array of objects.
    """
    fields = tuple(dict.fromkeys(fields))
    decoder = _projection(fields)
    try:
        if len(data) >= _BIG:
            with _decoding, gc_paused():
                objects = decoder.decode(data)
        else:
            objects = decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ValueError(f"not a JSON array of objects ({exc})") from exc
    except msgspec.DecodeError:
        return _columns_of(loads(data), fields)  # JSON msgspec refuses (NaN): the slow path
    with gc_paused():
        rows = list(map(msgspec.structs.astuple, objects))
        del objects
        columns = zip(*rows) if rows else ([] for _ in fields)
        return {f: values for f, values in zip(fields, map(list, columns)) if _present(values)}


def _present(values: list[Any]) -> bool:
    """True if one object has the field; absent values (UNSET) become None in place."""
    absent = values.count(msgspec.UNSET)
    if absent == len(values):
        return False
    if absent:
        values[:] = [None if v is msgspec.UNSET else v for v in values]
    return True


def _columns_of(items: Any, fields: tuple[str, ...]) -> dict[str, list[Any]]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"not a JSON array of objects (got {type(items).__name__})")
    return {f: [i.get(f) for i in items] for f in fields if any(f in i for i in items)}


@lru_cache(maxsize=64)
def _projection(fields: tuple[str, ...]) -> msgspec.json.Decoder:
    """A decoder of ``[{field: any, …}, …]`` that builds only the named fields."""
    struct = msgspec.defstruct(
        "Projection",
        [(f"f{i}", Any, msgspec.UNSET) for i in range(len(fields))],
        rename={f"f{i}": name for i, name in enumerate(fields)},
        gc=False,  # decoded JSON holds no reference cycles: no collector tracking needed
    )
    return msgspec.json.Decoder(list[struct])

"""JSON encoding and decoding for large payloads (msgspec), and the collector pause they need.

msgspec writes the same compact UTF-8 text as ``json.dumps(obj, separators=(",", ":"),
ensure_ascii=False)`` (floats may be spelt differently: ``1e20`` for ``1e+20``) several times
faster, and decodes a 35 MB listing in about 0.2 s once the garbage collector is paused; the
standard library needs over 1 s. The collector is paused once at the edges of a plan and an
apply (:func:`collector_paused`: building the plan, applying it, reading and writing plan and
result files, loading the simulator's state), not around each decode. Text msgspec refuses but the
standard library reads (``NaN``) falls back to :func:`json.loads`, so nothing valid is rejected.

:func:`loads_columns` decodes a listing (a JSON array of objects) keeping only the named fields,
column by column: msgspec skips the other fields without building them, which halves the time
of a large listing of which a plan compares a few fields (the exact decoder of
:mod:`directorsync.director.listing`).
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from types import GenericAlias
from typing import Any

import msgspec

_BIG = 1 << 20
_decoding = threading.Lock()
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class _WhileNeeded:
    """A process-wide setting changed while at least one block needs it (re-entrant, threads).

    ``change()`` runs when the first block enters and returns what ``restore(saved)`` gets when
    the last one leaves, so nested and concurrent blocks (threads) share one change.
    """

    def __init__(self, change: Callable[[], Any], restore: Callable[[Any], None]) -> None:
        self._change, self._restore = change, restore
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._saved = self._change()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._restore(self._saved)


def _pause_collector() -> bool:
    enabled = gc.isenabled()
    gc.disable()
    return enabled


def _resume_collector(was_enabled: bool) -> None:
    if was_enabled:
        # What was built survives as the oldest generation: the next young collections need not
        # walk millions of fresh containers (a freeze moves them without a walk; unfreezing keeps
        # them collectable by the next full collection).
        gc.freeze()
        gc.unfreeze()
        gc.enable()


_collector = _WhileNeeded(_pause_collector, _resume_collector)


def collector_paused() -> AbstractContextManager[None]:
    """Run the block with Python's cyclic garbage collector paused.

    Decoding a listing of 100,000 objects or transforming columns of 300,000 cells allocates millions
    of containers; each allocation burst triggers generational collections that walk every young
    container (decoding 35 MB of JSON takes 1.0 s with the collector on, 0.2 s with it paused). None
    of that data forms reference cycles, so pausing loses nothing; reference counting still frees
    everything as usual. Nested and concurrent pauses (threads) are counted: the collector resumes
    when the last one ends, and only if it was on before the first. What survives the pause is then
    moved to the oldest generation without a walk (``gc.freeze()`` + ``gc.unfreeze()``), so the first
    young collections after the pause do not walk it all either (0.4 s after a 100,000-device plan).
    """
    return _collector()


#: The interpreter's switch interval while a plan runs (:func:`prompt_handoffs`), in seconds.
HANDOFF_INTERVAL = 0.0002


def _shorten_switch_interval() -> float | None:
    saved = sys.getswitchinterval()
    if saved <= HANDOFF_INTERVAL:
        return None  # already as short: left alone (setting what was read can round it down)
    sys.setswitchinterval(HANDOFF_INTERVAL)
    return saved


def _restore_switch_interval(saved: float | None) -> None:
    if saved is not None:
        sys.setswitchinterval(saved)


_handoffs = _WhileNeeded(_shorten_switch_interval, _restore_switch_interval)


def prompt_handoffs() -> AbstractContextManager[None]:
    """Run the block with the interpreter lock handed over every 0.2 ms.

    While a plan maps and checks a sheet, other threads receive and parse its listings: each socket
    read and each pyarrow or polars call gives up the interpreter lock and must take it back, and with the
    default 5 ms switch interval each of those waits up to 5 ms behind the planning thread (35 MB in
    1 MB reads: 0.25-0.5 s per listing instead of 0.05 s). A shorter interval makes those waits short;
    the planning thread only pays the hand-overs other threads ask for. Counted like
    :func:`collector_paused`; the interval is restored when the last block ends.
    """
    return _handoffs()


def json_default(value: Any) -> Any:
    """What JSON has no type for, as JSON values.

    Numpy numbers as numbers, arrays and Series as lists, dates and times (pandas
    ``Timestamp``, numpy ``datetime64``) in ISO 8601, anything else as text.
    """
    if type(value).__name__ == "NaTType":  # pandas' missing time
        return None
    if isinstance(value, dt.date | dt.time):  # subclasses msgspec leaves to us (Timestamp)
        return value.isoformat()
    if getattr(value, "ndim", 0) or hasattr(value, "to_list"):  # an array, a Series
        return value.tolist()
    if type(value).__name__ == "datetime64":  # numpy: .item() could be nanoseconds
        return str(value)
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return str(value)


_lenient = msgspec.json.Encoder(enc_hook=json_default)  # NaN and infinities become null


def loads(data: bytes | str) -> Any:
    """Decode JSON text (``ValueError`` when it is not JSON).

    Large texts are decoded one at a time: decoding holds the interpreter lock anyway, and
    threads taking turns on several 30 MB listings only thrash each other's caches.
    """
    if len(data) >= _BIG:
        with _decoding:
            return _loads(data)
    return _loads(data)


def _loads(data: bytes | str) -> Any:
    try:
        try:
            return _decoder.decode(data)
        except msgspec.DecodeError:
            return json.loads(data if isinstance(data, (str, bytes, bytearray)) else bytes(data))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII kept as is)."""
    try:
        return _encoder.encode(obj)
    except (TypeError, msgspec.EncodeError):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def dumps_lenient(obj: Any) -> bytes:
    """Compact UTF-8 JSON of any report value.

    Numpy numbers as numbers, NaN as null, datetimes in ISO 8601, anything else JSON has no
    type for as its text.
    """
    try:
        return _lenient.encode(obj)
    except (TypeError, msgspec.EncodeError, UnicodeEncodeError):
        # keys that are neither text nor numbers; text that is not Unicode (lone surrogates,
        # written as \u escapes)
        return json.dumps(obj, separators=(",", ":"), default=json_default).encode()


class Columns(dict):
    """``{field: values}`` of a listing.

    ``rows`` is the number of objects it holds, ``decoder`` what decoded it.
    """

    rows: int = 0
    decoder: str = "msgspec"


def loads_columns(data: bytes | str, fields: Sequence[str]) -> Columns:
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
            with _decoding:
                objects = decoder.decode(data)
        else:
            objects = decoder.decode(data)
    except msgspec.MsgspecError:  # not JSON, not objects, or JSON msgspec refuses (NaN, 1e400)
        return columns_of(loads(data), fields)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    rows = list(map(msgspec.structs.astuple, objects))
    del objects
    columns = zip(*rows) if rows else ([] for _ in fields)
    out = Columns((f, v) for f, v in zip(fields, map(list, columns)) if _present(v))
    out.rows = len(rows)
    return out


def _present(values: list[Any]) -> bool:
    """True if one object has the field; absent values (UNSET) become None in place."""
    absent = values.count(msgspec.UNSET)
    if absent == len(values):
        return False
    if absent:
        values[:] = [None if v is msgspec.UNSET else v for v in values]
    return True


def columns_of(items: Any, fields: Sequence[str]) -> Columns:
    """:func:`loads_columns` of a decoded listing (``ValueError`` if not a list of objects)."""
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError(f"not a JSON array of objects (got {type(items).__name__})")
    out = Columns((f, [i.get(f) for i in items]) for f in fields if any(f in i for i in items))
    out.rows = len(items)
    return out


@lru_cache(maxsize=64)
def _projection(fields: tuple[str, ...]) -> msgspec.json.Decoder:
    """A decoder of ``[{field: any, …}, …]`` that builds only the named fields."""
    struct = msgspec.defstruct(
        "Projection",
        [(f"f{i}", Any, msgspec.UNSET) for i in range(len(fields))],
        rename={f"f{i}": name for i, name in enumerate(fields)},
        gc=False,  # decoded JSON holds no reference cycles: no collector tracking needed
    )
    # the element type is built at run time: the decoder is typed by its Any overload
    return msgspec.json.Decoder(GenericAlias(list, (struct,)))

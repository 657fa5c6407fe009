"""A listing's JSON decoded straight to the columns a plan reads.

A plan compares a few fields of listings of 100,000 objects. :func:`decode_columns` turns the body
of such a listing (a JSON array of objects) into ``{field: values}`` for the named fields, one
column per key for the object fields it unnests, without building the objects themselves.

Two decoders give the same columns:

* **columnar** (large bodies): pyarrow parses the whole body in native code, without the
  interpreter lock — on the listing's prefetch thread, beside the thread that maps and checks the
  sheet, one listing at a time — building the wanted fields only (the others are skipped), and
  the columns are then taken out as Python values, column by column (through polars); a column
  of few distinct cells (time zones, risk values, group lists) comes out as one value per
  distinct cell, shared by its rows. pyarrow reads with types given to it, and refuses any value
  of another kind instead of converting it: the types are those of the first
  :data:`INFER_ROWS` objects (decoded alone by msgspec; a wanted field they lack is null-typed,
  so a later value of it is refused too). This path takes fields whose values are texts,
  booleans or nulls (lists of one of those, and objects of those for unnested fields) in those
  first objects. Before pyarrow reads it, the body is checked to be a JSON array of objects that
  msgspec reads, all UTF-8 (pyarrow would read more leniently around the wanted fields: what
  follows the array, a null item, ``Inf``). A refusal, or any other type, sends the body to the
  exact decoder. (One difference remains: a wanted field none of the first objects has and
  later ones only have as null is absent here, a column of nulls there.)
* **exact** (small bodies, and whatever the columnar one declines): msgspec decodes the named
  fields only (:func:`directorsync.jsonio.loads_columns`), values exactly as JSON has them.

Both raise :class:`ValueError` with a short reason when the body is not JSON or not an array of
objects. :class:`ReceivedListing` holds a received answer until it is decoded.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.json as pj

from directorsync.jsonio import Columns, loads_columns

LOG = logging.getLogger(__name__)

#: Bodies from this size on go to the columnar decoder (smaller ones decode faster exactly).
COLUMNAR_FROM = 1 << 20
#: ... and up to this size (pyarrow reads the body as one block, of at most 2 GiB).
COLUMNAR_UP_TO = (1 << 31) - 64
#: Objects whose types are read off first (the types pyarrow then reads every object with; a
#: later object of another type is refused: see :func:`_columnar`).
INFER_ROWS = 1000
#: One parse at a time: each runs on the thread that asks, and the planning thread needs
#: a core of its own (three listings parsed at once on two cores slow it down twice over).
_parsing = threading.Lock()
_ARRAY = re.compile(rb"\s*\[")
#: Where one object of the array may end and the next begin (a match inside an object or a text
#: cuts a sample that is not JSON, or holds fewer objects than asked: a small body is then
#: sampled whole, a larger one decoded exactly).
_NEXT_OBJECT = re.compile(rb"\}\s*,\s*\{")
#: The first :data:`INFER_ROWS` objects are looked for in this many bytes at most (the search
#: holds the interpreter lock); a body of larger objects is decoded exactly.
SAMPLE_BYTES = 1 << 22


class Unnested(dict):
    """A column of objects as one column per key (``{key: values}``)."""


def decode_columns(
    body: bytes,
    fields: Sequence[str],
    unnest: Mapping[str, Sequence[str]] | None = None,
    *,
    columnar_from: int = COLUMNAR_FROM,
) -> Columns:
    """``{field: values}`` of a JSON array of objects, for the fields one object has.

    An object without a field gives None. Each ``unnest`` field (``{field: [keys]}``) comes back
    as an :class:`Unnested` of the listed keys that one of its objects has (a cell that is not an
    object counts as an empty object). ``rows`` of the result is the number of objects.

    Raises:
        ValueError: the body is not JSON, or not an array of objects.
    """
    return parse_columns(body, fields, unnest, columnar_from=columnar_from).columns()


class ParsedListing:
    """A listing parsed ahead, its columns not yet taken out as Python values.

    :func:`parse_columns` does the part that runs without the interpreter lock (pyarrow parsing
    the body, checking its types); :meth:`columns` builds the Python values, on the thread that
    reads them. A prefetch thread that built them itself would hold the lock for that work while
    the planning thread maps and checks the sheet, and slow it down as much as it saves.
    """

    def __init__(
        self,
        body: bytes,
        fields: list[str],
        unnest: dict[str, list[str]],
        parsed: tuple[Any, int] | None = None,
    ) -> None:
        self._body, self._fields, self._unnest, self._parsed = body, fields, unnest, parsed

    def columns(self) -> Columns:
        """The columns (see :func:`decode_columns`).

        Raises:
            ValueError: the body is not JSON, or not an array of objects.
        """
        if self._parsed is None:
            return _exact(self._body, self._fields, self._unnest)
        return _taken_out(self._parsed, self._unnest)


def parse_columns(
    body: bytes,
    fields: Sequence[str],
    unnest: Mapping[str, Sequence[str]] | None = None,
    *,
    columnar_from: int = COLUMNAR_FROM,
) -> ParsedListing:
    """The lock-free part of :func:`decode_columns`: pyarrow's parse of a large body, if it can."""
    fields = list(dict.fromkeys(fields))
    wanted: dict[str, list[str]] = {
        f: list(dict.fromkeys(keys)) for f, keys in (unnest or {}).items() if f in fields
    }
    parsed = _columnar(body, fields, wanted) if len(body) >= columnar_from else None
    return ParsedListing(body, fields, wanted, parsed)


def _exact(body: bytes, fields: list[str], unnest: dict[str, list[str]]) -> Columns:
    columns = loads_columns(body, fields)
    for field, keys in unnest.items():
        if field in columns:
            objects = [c if type(c) is dict else {} for c in columns.pop(field)]
            present = set().union(*objects)
            columns[field] = Unnested(
                (k, [o.get(k) for o in objects]) for k in keys if k in present
            )
    return columns


def _columnar(
    body: bytes, fields: list[str], unnest: dict[str, list[str]]
) -> tuple[Any, int] | None:
    """The fields as a polars frame (pyarrow's parse), and the number of objects.

    None when this path cannot give exactly the values JSON has: a body that is not an array,
    not UTF-8, whose first objects have a wanted field of another kind than text, boolean or
    null (or lists of those, or objects of those for unnested fields), or a later object that
    does not fit the types of the first ones (pyarrow refuses it).
    """
    if not fields or not _ARRAY.match(body) or len(body) > COLUMNAR_UP_TO:
        return None  # an object: the exact decoder says it is not a listing
    if any("\0" in name for name in [*fields, *itertools.chain(*unnest.values())]):
        return None  # a name polars would cut at the NUL
    sampled = _sampled_schema(body, fields, unnest)
    if sampled is None:
        return None
    objects = pa.struct(list(sampled.schema.items()))
    options = pj.ParseOptions(
        explicit_schema=pa.schema([("objects", pa.list_(objects))]),
        unexpected_field_behavior="ignore",  # the fields nobody asked for: skipped
    )
    try:  # pyarrow reads the body as the one field of one object, without the interpreter lock
        with _parsing:
            if not _json_array_of_objects(body):
                return None  # the exact decoder says what is wrong
            document = _as_document(body)
            table = pj.read_json(
                pa.BufferReader(document),
                read_options=pj.ReadOptions(block_size=document.size + 1, use_threads=False),
                parse_options=options,
            )
            parsed = table.column(0)
            if parsed.num_chunks != 1 or len(parsed) != 1:
                return None
            parsed = parsed.chunk(0).flatten()
    except pa.ArrowException:  # a later object of another kind: decoded exactly
        return None
    fields = [f for f in fields if f not in sampled.missing]  # only nulls after the first objects
    unnest = {f: [k for k in keys if (f, k) not in sampled.missing] for f, keys in unnest.items()}
    try:
        return _cells(parsed, fields, unnest)
    except Exception:  # noqa: BLE001 - never worse than the exact decoder (it reads the body)
        LOG.warning(
            "a listing read by pyarrow could not be taken out; decoded exactly", exc_info=True
        )
        return None


def _cells(parsed: Any, fields: list[str], unnest: dict[str, list[str]]) -> tuple[Any, int]:
    """The wanted columns of pyarrow's objects (a struct array), through polars, and its rows."""
    frame = pl.from_arrow(parsed).struct.unnest()  # type: ignore[union-attr]
    cells: dict[str, Any] = {}
    for name in fields:
        series = frame.get_column(name)
        if name in unnest:  # a struct of the wanted keys (the sampled schema)
            cells[name] = {k: _encoded(series.struct.field(k)) for k in unnest[name]}
        else:
            cells[name] = _encoded(series)
    return cells, frame.height


class _Object(msgspec.Struct):
    """Any JSON object (its members skipped)."""


#: Reads a body as an array of objects without building them: what the exact decoder accepts as
#: JSON (msgspec), and nothing pyarrow would read more leniently around the wanted fields.
_OBJECTS = msgspec.json.Decoder(list[_Object])


def _json_array_of_objects(body: bytes) -> bool:
    """True if the body is a JSON array of objects, all UTF-8, that msgspec reads.

    pyarrow reads what the wrapped body holds after the array as more members of the wrapper,
    a null item as an object of nulls, ``Inf`` and ``-NaN`` as numbers, and does not check the
    UTF-8 of texts it skips; msgspec (the exact decoder) refuses all of these. The check holds
    the interpreter lock for about 20 ms per 35 MB listing. (msgspec also refuses ``NaN`` and
    ``Infinity``, which the exact decoder's fallback reads: such bodies are decoded exactly.)
    """
    try:
        _OBJECTS.decode(body)
    except (msgspec.MsgspecError, RecursionError):
        return False
    offsets = np.array([0, len(body)], dtype=np.int32)
    try:
        pa.Array.from_buffers(
            pa.string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(body)]
        ).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _as_document(body: bytes) -> Any:
    """``{"objects": <body>}`` in one buffer (pyarrow reads objects, not an array of them)."""
    head, tail = b'{"objects":', b"}"
    out = np.empty(len(head) + len(body) + len(tail), dtype=np.uint8)
    out[: len(head)] = np.frombuffer(head, dtype=np.uint8)
    out[len(head) : len(head) + len(body)] = np.frombuffer(body, dtype=np.uint8)
    out[len(head) + len(body) :] = np.frombuffer(tail, dtype=np.uint8)
    return pa.py_buffer(out)


class _Sampled(NamedTuple):
    schema: dict[str, Any]
    #: wanted fields (names) and unnested keys (``(field, key)``) none of the objects had
    missing: set[Any]


def _sampled_schema(
    body: bytes, fields: list[str], unnest: dict[str, list[str]]
) -> _Sampled | None:
    """The pyarrow types of the wanted fields, read off the first objects, or None.

    The first :data:`INFER_ROWS` objects are decoded alone (a body within :data:`SAMPLE_BYTES`
    that holds no more objects is decoded whole). A wanted field none of them has is given the
    null type, as is a wanted key of an unnested object none of them has: a later value of it
    makes pyarrow refuse the body. None when a wanted field holds anything but texts, booleans
    and nulls (or lists of one of those; objects of those for unnested fields), or when the
    sample is not JSON. The types are a guess that pyarrow checks on every object.
    """
    sample = _sample(body, fields)
    if sample is None:
        return None
    schema: dict[str, Any] = {}
    missing: set[Any] = set()
    for name in fields:
        if name not in sample:
            schema[name] = pa.null()
            missing.add(name)
            continue
        values = [v for v in sample[name] if v is not None]
        if name in unnest:
            if not values or any(type(v) is not dict for v in values):
                return None  # not objects: the exact decoder reads them as empty ones
            keys = []
            for key in unnest[name]:
                seen = [o[key] for o in values if key in o]
                if not seen:
                    missing.add((name, key))
                keys.append((key, _plain_type(seen)))
            if any(t is None for _, t in keys):
                return None
            schema[name] = pa.struct(keys)
        else:
            schema[name] = _plain_type(values)
            if schema[name] is None:
                return None
    return _Sampled(schema, missing)


def _plain_type(values: list[Any]) -> Any:
    """The pyarrow type of some JSON values: text, boolean, null, or a list of one of those.

    None for anything else (numbers, objects, lists of several kinds or of lists).
    """
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.null()
    if len(kinds) > 1:
        return None
    (kind,) = kinds
    if kind is list:
        inner = _plain_type([i for v in values if v is not None for i in v])
        if inner is None or pa.types.is_list(inner):
            return None
        # lists of nulls only (or empty): read as lists of texts, which holds them exactly
        # (pyarrow 26 builds a list<null> array too short for lists of several nulls)
        return pa.list_(pa.string() if pa.types.is_null(inner) else inner)
    return {str: pa.string(), bool: pa.bool_()}.get(kind)


def _sample(body: bytes, fields: list[str]) -> Columns | None:
    """The wanted fields of the first :data:`INFER_ROWS` objects (or of a small body), or None."""
    ends = _NEXT_OBJECT.finditer(body, 0, SAMPLE_BYTES)
    cut = next(itertools.islice(ends, INFER_ROWS - 1, None), None)
    samples: list[tuple[bytes, int | None]] = []
    if cut is not None:
        samples.append((body[: cut.start() + 1] + b"]", INFER_ROWS))
    if len(body) <= SAMPLE_BYTES:
        samples.append((body, None))  # all of it (also when the cut was inside a text)
    for sample, objects in samples:
        try:
            columns = loads_columns(sample, fields)
        except ValueError:  # cut inside an object or a text, or not JSON
            continue
        if objects in (None, columns.rows):  # (fewer objects: some ends counted were inside
            return columns  # them, a list of objects)
    return None


#: Columns from this many rows on are looked at for repeated cells (:func:`_encoded`).
ENCODE_FROM = 256


def _encoded(series: Any) -> tuple[Any, Any]:
    """``(cells, None)``, or ``(distinct cells, each row's position among them)``.

    The second form when at most a quarter of the cells are distinct (time zones, risk values,
    group lists): the rows then share one Python value per distinct cell, and taking the column
    out builds a few values instead of one per row. Runs on the prefetch thread, in polars
    (without the interpreter lock); equal hashes are checked to be equal cells.
    """
    n = len(series)
    if n < ENCODE_FROM:
        return series, None
    hashes = series.hash()
    if hashes.n_unique() > n // 4:
        return series, None
    ranks = (hashes.rank("dense").cast(pl.UInt32) - 1).to_numpy()
    first = hashes.arg_unique().to_numpy()  # the first row of each distinct hash, in row order
    slot = np.empty(len(first), dtype=np.intp)
    slot[ranks[first]] = np.arange(len(first))
    positions = slot[ranks]
    distinct = series.gather(first)
    if not series.eq_missing(distinct.gather(positions)).all():
        return series, None  # two distinct cells with one hash: taken out cell by cell
    return distinct, positions


def _taken_out(parsed: tuple[Any, int], unnest: dict[str, list[str]]) -> Columns:
    """The checked columns as Python values (:func:`_columnar` accepted them)."""
    cells, rows = parsed
    columns = Columns()
    columns.rows, columns.decoder = rows, "pyarrow"
    for name, found in cells.items():
        if name in unnest:
            columns[name] = Unnested((k, _spread(*found[k])) for k in unnest[name] if k in found)
        else:
            columns[name] = _spread(*found)
    return columns


def _spread(series: Any, positions: Any) -> Any:
    """A column's Python values; distinct cells (see :func:`_encoded`) shared by their rows."""
    if positions is None:
        return _values(series)
    values = _values(series)
    if isinstance(values, np.ndarray):
        return values[positions]
    distinct = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # item by item: a list cell stays one cell
        distinct[i] = value
    return distinct[positions]


def _values(series: Any) -> Any:
    """A polars column as Python values: texts in an object array, anything else in a list."""
    if series.dtype == pl.String:
        return series.to_numpy()
    if series.dtype == pl.Null:
        return [None] * len(series)
    return series.to_list()


class ReceivedListing:
    """A list endpoint's answer, received and not yet decoded.

    :meth:`items` decodes every object; :meth:`columns` only the named fields, column by column
    (:func:`decode_columns`, several times faster on a large listing). Both check that the body
    is a JSON array of objects (contract §1.6) and may be called several times.

    Args:
        body: the answer's body.
        items: decodes the whole body and checks it (raises the client's error naming the
            request when it is not a JSON array of objects).
    """

    def __init__(self, body: bytes, items: Callable[[], list[dict]]) -> None:
        self._body, self._items = body, items
        self._parsed: dict[tuple[Any, ...], ParsedListing] = {}

    def start_columns(self, fields: list[str], unnest: dict[str, list[str]] | None = None) -> None:
        """Parse ``fields`` now, on this thread, for a later :meth:`columns` of the same fields.

        A prefetch thread calls it as soon as the listing is received: a large listing is then
        parsed without the interpreter lock while the planning thread works; :meth:`columns`
        takes the values out on the thread that reads them (:class:`ParsedListing`). ``unnest``
        (``{field: [keys]}``) names object fields that come back as one column per key
        (:class:`Unnested`), those keys only.
        """
        self._parsed[_asked(fields, unnest)] = parse_columns(self._body, fields, unnest)

    def items(self) -> list[dict]:
        """Every object of the listing."""
        return self._items()

    def columns(
        self, fields: list[str], unnest: dict[str, list[str]] | None = None
    ) -> dict[str, Any]:
        """``{field: values}`` of the fields at least one object has (see :meth:`start_columns`).

        Raises:
            DirectorError: the body is not a JSON array of objects.
        """
        if not self._body.strip():
            return self.items()  # type: ignore[return-value]  # raises: not a listing
        started = self._parsed.pop(_asked(fields, unnest), None)
        try:
            return started.columns() if started else decode_columns(self._body, fields, unnest)
        except ValueError:  # not JSON, or not an array of objects: the full decode says which
            self.items()
            raise


def _asked(fields: list[str], unnest: dict[str, list[str]] | None) -> tuple[Any, ...]:
    """What a decode of ``fields`` and ``unnest`` gives: the same request, the same key."""
    return (tuple(fields), tuple((f, tuple(keys)) for f, keys in sorted((unnest or {}).items())))

"""A listing's JSON decoded straight to the columns a plan reads.

A plan compares a few fields of listings of 100,000 objects. :func:`decode_columns` turns the body
of such a listing (a JSON array of objects) into ``{field: values}`` for the named fields, one
column per key for the object fields it unnests, without building the objects themselves.

Two decoders give the same columns:

* **columnar** (large bodies): polars parses the whole body in native code, without the
  interpreter lock — on the listing's prefetch thread, beside the thread that maps and checks the
  sheet, one listing at a time — and the columns are then taken out of its frame as Python
  values, column by column; a column of few distinct cells (time zones, risk values, group lists)
  comes out as one value per distinct cell, shared by its rows. polars reads JSON with types of
  its own, inferred from the first :data:`INFER_ROWS` objects (parsed alone first, so that the
  whole body is then parsed for the wanted fields only: the others are skipped; a wanted field
  those objects lack is read as null-typed, so a later value of it makes polars refuse the body),
  and could change a later value (an
  integer among texts becomes text, a text where lists were seen becomes a one-text list); so
  this path only takes fields whose values are all texts, booleans or nulls (lists of those, and
  objects of those for unnested fields), no text cell spelt like a JSON number or boolean,
  nothing but a list or null where a list was inferred, no key spelt with an escape there, and
  never a body with an escaped surrogate; a later object of another shape makes polars refuse
  the body. Anything else goes to the exact decoder. (Two
  differences remain: an object naming the same key twice, which JSON leaves undefined and
  Director never sends, keeps its first value there, its last one here; and a field none of the
  first objects has and later ones only have as null is a column of nulls there, absent here.)
* **exact** (small bodies, and whatever the columnar one declines): msgspec decodes the named
  fields only (:func:`directorsync.jsonio.loads_columns`), values exactly as JSON has them.

Both raise :class:`ValueError` with a short reason when the body is not JSON or not an array of
objects. :class:`ReceivedListing` holds a received answer until it is decoded.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from directorsync.jsonio import Columns, loads_columns

#: Bodies from this size on go to the columnar decoder (smaller ones decode faster exactly).
COLUMNAR_FROM = 1 << 20
#: Objects whose types polars infers the frame's from; a later object of another type is
#: refused (an error, or a change the checks below see: see :func:`_columnar`).
INFER_ROWS = 1000
#: One polars parse at a time: each runs on the thread that asks, and the planning thread needs
#: a core of its own (three listings parsed at once on two cores slow it down twice over).
_parsing = threading.Lock()
_ARRAY = re.compile(rb"\s*\[")
#: Where one object of the array may end and the next begin (a match inside an object or a text
#: cuts a sample that is not JSON, or holds fewer objects than asked: the body is then parsed
#: whole, its types inferred as usual).
_NEXT_OBJECT = re.compile(rb"\}\s*,\s*\{")
#: The first :data:`INFER_ROWS` objects are looked for in this many bytes at most (the search
#: holds the interpreter lock); a body of larger objects is parsed whole.
SAMPLE_BYTES = 1 << 22
_SURROGATE = re.compile(rb"\\u[dD]")
#: A key spelt with an escape: from a ``\\uXXXX`` to the end of its text, then a colon.
_ESCAPED_KEY = re.compile(rb'\\u[0-9a-fA-F]{4}(?:[^"\\]|\\.)*"\s*:')
#: A text cell spelt like a JSON number or boolean: polars may have made it from one.
_SCALAR_TEXT = r"^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false)$"


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

    :func:`parse_columns` does the part that runs without the interpreter lock (polars parsing
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
    """The lock-free part of :func:`decode_columns`: polars' parse of a large body, if it can."""
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
    """The fields as a polars frame, and the number of objects.

    None when polars cannot give exactly the values JSON has.
    """
    escapes = b"\\" in body and b"\\u" in body  # (a byte search first: ten times faster)
    if not _ARRAY.match(body) or (escapes and _SURROGATE.search(body)):
        return None  # an object (polars reads it as one row); a surrogate (polars spoils lone ones)
    try:  # types inferred from the first objects: a later object of another kind is refused, or
        # made text (caught by _any_scalar_text), or a scalar made a list (caught by _scalar_as_list)
        with _parsing:
            sampled = _sampled_schema(body, fields, unnest)
            if sampled is None:
                frame = pl.read_json(body, infer_schema_length=INFER_ROWS)  # bytes: not copied
            else:
                frame = pl.read_json(body, schema=sampled.schema)  # the wanted fields only
    except Exception:  # noqa: BLE001 - any refusal: the exact decoder says what is wrong
        return None
    rows = frame.height
    if not frame.width:
        return None  # objects without a key: polars counts no rows ([{}] is one object)
    if sampled is not None:  # lacking in the first objects and parsed: only nulls later, absent
        fields = [f for f in fields if f not in sampled.missing]
        unnest = {
            f: [k for k in keys if (f, k) not in sampled.missing] for f, keys in unnest.items()
        }
    frame = frame.select([f for f in fields if f in frame.columns])
    texts: list[Any] = []
    lists: list[str] = []
    for name, dtype in frame.schema.items():
        if name in unnest:
            if not isinstance(dtype, pl.Struct):
                return None
            inner = [f for f in dtype.fields if f.name in unnest[name]]
            if not all(_plain(f.dtype) for f in inner):
                return None
            texts += [(pl.col(name).struct.field(f.name), f.dtype) for f in inner]
            lists += [f.name for f in inner if isinstance(f.dtype, pl.List)]
        elif not _plain(dtype):
            return None
        else:
            texts.append((pl.col(name), dtype))
            lists += [name] if isinstance(dtype, pl.List) else []
    texts = [(e, dtype) for e, dtype in texts if _holds_text(dtype)]
    if texts and _any_scalar_text(frame, texts):
        return None
    if lists and _scalar_as_list(body, lists, escapes):
        return None
    cells: dict[str, Any] = {}
    for name, dtype in frame.schema.items():
        series = frame.get_column(name)
        if name in unnest and isinstance(dtype, pl.Struct):  # (checked above)
            keys = [f.name for f in dtype.fields]
            cells[name] = {k: _encoded(series.struct.field(k)) for k in unnest[name] if k in keys}
        else:
            cells[name] = _encoded(series)
    return cells, rows


class _Sampled(NamedTuple):
    schema: dict[str, Any]
    #: wanted fields (names) and unnested keys (``(field, key)``) none of the objects had
    missing: set[Any]


def _sampled_schema(
    body: bytes, fields: list[str], unnest: dict[str, list[str]]
) -> _Sampled | None:
    """The types of the wanted fields in the first :data:`INFER_ROWS` objects, or None.

    Those objects are parsed alone (polars infers their types). A wanted field none of them has
    is given the null type, as is a wanted key of an unnested object none of them has: a later
    value of it makes polars refuse the body, as a field first seen late does when polars infers
    the types itself. None when the body has no more objects than that (its types are inferred
    from all of it), or when the sample is not JSON.
    """
    ends = _NEXT_OBJECT.finditer(body, 0, SAMPLE_BYTES)
    cut = next(itertools.islice(ends, INFER_ROWS - 1, None), None)
    if cut is None:
        return None
    try:
        sample = pl.read_json(body[: cut.start() + 1] + b"]", infer_schema_length=None)
    except Exception:  # noqa: BLE001 - cut inside an object or a text: parsed whole instead
        return None
    if not sample.width or sample.height != INFER_ROWS:
        return None  # fewer objects: some ends counted were inside them (a list of objects)
    seen = sample.schema
    schema: dict[str, Any] = {}
    missing: set[Any] = set()
    for name in fields:
        if name not in seen:
            schema[name] = pl.Null
            missing.add(name)
            continue
        dtype = seen[name]
        if name in unnest and isinstance(dtype, pl.Struct):
            keys = {f.name: f.dtype for f in dtype.fields}
            missing.update((name, k) for k in unnest[name] if k not in keys)
            dtype = pl.Struct({k: keys.get(k, pl.Null) for k in unnest[name]})
        schema[name] = dtype
    return _Sampled(schema, missing)


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
    columns.rows, columns.decoder = rows, "polars"
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


def _plain(dtype: Any) -> bool:
    """Values polars cannot have changed: texts, booleans, nulls, and lists of those."""
    if isinstance(dtype, pl.List):
        dtype = dtype.inner
    return dtype in (pl.String, pl.Boolean, pl.Null)


def _holds_text(dtype: Any) -> bool:
    return dtype == pl.String or (isinstance(dtype, pl.List) and dtype.inner == pl.String)


def _any_scalar_text(frame: Any, texts: list[tuple[Any, Any]]) -> bool:
    """True if a text cell (or a text in a list) reads like a JSON number or boolean."""
    probes = [
        (e.list.explode() if isinstance(dtype, pl.List) else e)
        .str.contains(_SCALAR_TEXT)
        .any()
        .alias(f"c{i}")
        for i, (e, dtype) in enumerate(texts)
    ]
    return any(frame.select(probes).row(0))


def _scalar_as_list(body: bytes, names: list[str], escapes: bool = True) -> bool:
    """True if a field polars read as a list may hold something else (made a one-item list).

    Looks in the body for the field's name followed by anything but a list or null (a name inside
    a text has its quotes escaped, so it never matches; a name of another object level may: that
    only sends the body to the exact decoder). A body that spells a key with a unicode escape is
    not searched: the exact decoder reads it (``escapes``: the body may hold one).
    """
    if not all(re.fullmatch(r"[\w.@$ -]+", n) for n in names):
        return True  # a name JSON may spell in several ways: not looked for
    if escapes and _ESCAPED_KEY.search(body):
        return True
    keys = "|".join(n.replace(".", r"\.").replace("$", r"\$") for n in names)
    try:  # searched by polars (Rust regex), without the interpreter lock
        text = pl.Series([body], dtype=pl.Binary).cast(pl.String)
        return bool(text.str.contains(rf'"(?:{keys})"\s*:\s*[^\[n\s]').item())
    except Exception:  # noqa: BLE001 - not UTF-8: the exact decoder says what is wrong
        return True


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

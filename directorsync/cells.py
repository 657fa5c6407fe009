"""Column operations on cells of any kind.

One cell function over a whole column, distinct values, list cells exploded and gathered,
emptiness and text. Every stage works on whole columns; these helpers are how a function of one cell becomes a column
operation without a row loop (``cellwise``), how a transform runs once per distinct value
(``distinct_text``, ``distinct_cells``, ``spread``) and how list cells are handled
(``gather_lists``, ``on_elements``). A cell is never modified in place: rows holding the same value
share it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

#: pandas keeps the text it infers (``str`` columns) in pyarrow when pyarrow is installed (the
#: listing decoder needs it); every stage here works on Python objects (one function per cell,
#: cells shared by identity), which pyarrow storage would make again on each conversion (the
#: resolve stage of a 300,000-row plan took 0.27 s with Python storage, 0.70 s with pyarrow's).
#: The pipeline asks for Python storage, unless the process chose a storage itself.
TEXT_STORAGE = "python"
if pd.get_option("mode.string_storage") == "auto":
    pd.set_option("mode.string_storage", TEXT_STORAGE)

EMPTY_SENTINELS = {"", "nan", "none", "null", "-", "n/a"}


def cellwise(fn: Callable[[Any], Any]) -> Callable[[Any], np.ndarray]:
    """``fn`` of one cell as a function of a whole column (an object array out).

    The column form of ``Series.map`` without its result inference (pandas would convert a
    column of text to its ``str`` dtype, a second pass over every cell).
    """
    ufunc = np.frompyfunc(fn, 1, 1)

    def apply(values: Any) -> np.ndarray:
        values = values.to_numpy(dtype=object) if isinstance(values, pd.Series) else values
        if not len(values):
            return np.empty(0, dtype=object)
        with np.errstate(all="ignore"):  # NaN cells compared in fn raise no float warnings
            return ufunc(values).astype(object, copy=False)

    return apply


DISTINCT_MIN_ROWS = 64


#: Cells sampled (evenly spread) to tell a mostly distinct column without factorizing it all.
DISTINCT_SAMPLE = 500


def distinct_text(series: pd.Series) -> tuple[np.ndarray, pd.Series] | None:
    """``(codes, distinct cells)`` of a text column where values repeat (at most half distinct).

    Only text columns qualify: ``pd.factorize`` treats ``1``, ``1.0`` and ``True`` as one value,
    which a transform may not. Nulls (None, NaN) form one distinct cell.
    """
    if len(series) < DISTINCT_MIN_ROWS:
        return None
    values = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return None
    if len(values) >= 4 * DISTINCT_SAMPLE:  # a sample that is mostly distinct: so is the column
        sample = values[:: len(values) // DISTINCT_SAMPLE]
        if len(pd.unique(sample)) > len(sample) * 3 // 4:
            return None
    codes, uniques = factorize_with_nulls(values)
    if len(uniques) > len(series) // 2:  # mostly distinct: transforming the column is cheaper
        return None
    return codes, pd.Series(uniques, dtype=object)


def factorize_with_nulls(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, use_na_sentinel=False)`` of an object array, in one pass.

    The nulls (None, NaN, NA) are one distinct cell, NaN, in the order of first appearance like
    the others; pandas finds them with a second pass over the cells (``isna``), here the codes
    of its first pass say where they are.
    """
    codes, uniques = pd.factorize(values)  # nulls: code -1
    nulls = codes < 0
    if not nulls.any():
        return codes, uniques
    first = int(np.argmax(nulls))
    at = int(codes[:first].max()) + 1 if first else 0  # distinct cells seen before the first null
    codes = np.where(nulls, at, codes + (codes >= at))
    return codes, np.insert(uniques.astype(object, copy=False), at, np.nan)


def distinct_cells(series: pd.Series) -> tuple[np.ndarray, pd.Series] | None:
    """Like :func:`distinct_text`, also for columns of lists (compared item by item).

    List cells are first told apart by identity (a frame fanned out over nodes repeats the same
    list objects), then the distinct lists by their items.
    """
    found = distinct_text(series)
    if found is not None or len(series) < DISTINCT_MIN_ROWS:
        return found
    values = series.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) != "mixed":
        return None
    same, objects = _identities(values)
    keys = np.fromiter(
        (tuple(v) if type(v) is list else v for v in objects), dtype=object, count=len(objects)
    )
    try:
        codes, uniques = factorize_with_nulls(keys)
    except TypeError:  # unhashable items (dicts)
        return None
    if len(uniques) > len(series) // 2:
        return None
    cells = [list(u) if type(u) is tuple else u for u in uniques]
    return codes[same], pd.Series(cells, dtype=object)


def same_objects(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(codes, one value per code)`` when the cells are few distinct objects, or None.

    Cells are told apart by identity only: rows sharing one object (a listing's repeated cells,
    a column spread from its distinct values) share a code, whatever the object's kind, and a
    function of the cell is the same for them. None when at most half the rows share (a sample
    of :data:`DISTINCT_SAMPLE` cells decides for long columns).
    """
    n = len(values)
    if n < DISTINCT_MIN_ROWS:
        return None
    if n >= 4 * DISTINCT_SAMPLE:
        sample = values[:: n // DISTINCT_SAMPLE]
        if len(set(map(id, sample))) > len(sample) * 3 // 4:
            return None
    same, objects = _identities(values)
    if len(objects) > n // 2:
        return None
    return same, objects


def _identities(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's code among the distinct objects (by identity), and those objects."""
    same, first = pd.factorize(np.fromiter(map(id, values), dtype=np.int64, count=len(values)))
    return same, _first_of_each(values, same, len(first))


def _first_of_each(values: np.ndarray, codes: np.ndarray, count: int) -> np.ndarray:
    """The first value of each code (codes numbered in order of first appearance)."""
    first = np.full(count, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return values[first]


def spread(done: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Per-distinct-value results → one cell per row.

    Rows holding the same value share it (a list included): cells are values, and no stage
    modifies one in place — it builds a new one, as every transform does.
    """
    return pd.Series(done.to_numpy(dtype=object)[codes], index=index, dtype=object)


_SCALAR_KINDS = {
    "string",
    "empty",
    "integer",
    "floating",
    "boolean",
    "mixed-integer-float",
    "decimal",
}


def holds_only_scalars(series: pd.Series) -> bool:
    """True when pandas infers the column holds plain values only (no list, dict or object)."""
    return not len(series) or pd.api.types.infer_dtype(series, skipna=True) in _SCALAR_KINDS


def has_lists(series: pd.Series) -> bool:
    """True when at least one cell of the column is a list."""
    if holds_only_scalars(series):
        return False
    return bool(series.map(lambda v: isinstance(v, list)).any())


def gather_lists(series: pd.Series) -> pd.Series:
    """Items whose index labels come in contiguous runs (as after ``explode``) → one list per label.

    The fast equivalent of ``series.groupby(level=0, sort=False).agg(list)`` for exploded data.
    """
    if series.empty:
        return pd.Series(dtype=object)
    labels = series.index.to_numpy()
    values = series.to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(values)]
    lists = [values[a:b].tolist() for a, b in zip(starts, ends)]
    out = pd.Series(lists, index=labels[starts], dtype=object)
    if not out.index.is_unique:  # labels were not contiguous: fall back to a real groupby
        return series.groupby(level=0, sort=False).agg(list)
    return out


def on_elements(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a column function to the elements of list cells, keeping non-list cells as is."""
    is_list = series.map(lambda v: isinstance(v, list))
    lists = series[is_list]
    exploded = lists.explode()
    empty = exploded.isna() & lists.reindex(exploded.index).map(len).eq(0)
    done = fn(exploded[~empty]) if (~empty).any() else exploded[~empty]
    gathered = gather_lists(done)
    out = series.copy()
    out[is_list] = pd.Series(
        [[] for _ in range(int(is_list.sum()))], index=lists.index, dtype=object
    )
    out.loc[gathered.index] = gathered
    return out


def is_empty(series: pd.Series) -> pd.Series:
    """True where a cell is NaN/None, an empty string/sentinel, or an empty list."""
    found = distinct_text(series)
    if found is not None:
        codes, uniques = found
        return pd.Series(is_empty(uniques).to_numpy()[codes], index=series.index)
    return pd.Series(_EMPTY(series).astype(bool), index=series.index)


def _empty_cell(v: Any) -> bool:
    kind = type(v)
    if kind is str:
        return v.strip().lower() in EMPTY_SENTINELS
    if kind is list or kind is dict or kind is tuple:
        return not v
    if v is None or v is pd.NA:
        return True
    if isinstance(v, float):
        return v != v
    if isinstance(v, str):
        return v.strip().lower() in EMPTY_SENTINELS
    if isinstance(v, (list, tuple, dict)):
        return len(v) == 0
    return False


_EMPTY = cellwise(_empty_cell)


def text_cell(v: Any) -> str | None:
    """One cell as text (whole floats lose their ``.0``); None when empty (see :func:`is_empty`)."""
    if type(v) is str:
        return None if v.strip().lower() in EMPTY_SENTINELS else v
    if _empty_cell(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else str(v)


_TEXT = cellwise(text_cell)


def _as_text(series: pd.Series) -> pd.Series:
    """Strings without NaN noise: floats that are whole numbers lose their ``.0``."""
    return pd.Series(_TEXT(series), index=series.index, dtype=object)

"""Transforms: vectorised Series → Series functions named in profiles.

A profile lists transforms per mapped field, each either a bare name (``norm_str``) or a
one-key mapping with its argument (``{split: "|"}``). Every transform is a column operation;
scalar transforms applied to a column of lists work on the list elements (the lists are
exploded, transformed as one column, and gathered again).

A value that cannot be converted (``to_int`` on ``"ninety"``) becomes an :class:`Invalid`
marker; the prechecks turn every marker into a finding at its sheet, row and column.

The reference list in ``docs/profiles.md`` is generated from this registry
(:func:`transforms_markdown`) and a test keeps them in step.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from directorsync.errors import ProfileError

EMPTY_SENTINELS = {"", "nan", "none", "null", "-", "n/a"}
TRUE_WORDS = {"true", "1", "yes", "y", "on", "t", "1.0"}
FALSE_WORDS = {"false", "0", "no", "n", "off", "f", "0.0"}


@dataclass(frozen=True)
class Invalid:
    """A cell value that a transform could not convert."""

    value: Any
    reason: str
    column: str | None = None

    def __str__(self) -> str:  # pragma: no cover - display only
        return f"<invalid {self.value!r}: {self.reason}>"


@dataclass(frozen=True)
class Context:
    """What context-aware transforms may read: the workbook's other sheets and the tenant."""

    sheets: dict[str, pd.DataFrame]
    tenant: Any = None
    options: dict[str, Any] | None = None


TransformFn = Callable[..., pd.Series]


@dataclass(frozen=True)
class Transform:
    """A registered transform."""

    name: str
    fn: TransformFn
    doc: str
    arg: str
    elementwise: bool


class TransformRegistry:
    """Transforms by name; ``get`` errors list the known names."""

    def __init__(self) -> None:
        self._items: dict[str, Transform] = {}

    def register(
        self, name: str, *, arg: str = "", elementwise: bool = True
    ) -> Callable[[TransformFn], TransformFn]:
        """Decorator: register ``fn(series, arg, ctx) -> series`` under ``name``."""

        def deco(fn: TransformFn) -> TransformFn:
            doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
            self._items[name] = Transform(name, fn, doc, arg, elementwise)
            return fn

        return deco

    def get(self, name: str) -> Transform:
        if name not in self._items:
            _load_builtin_modules()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise ProfileError(f"unknown transform '{name}' (known: {known})") from None

    def names(self) -> list[str]:
        _load_builtin_modules()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            _load_builtin_modules()
        return name in self._items


TRANSFORMS = TransformRegistry()


def _load_builtin_modules() -> None:
    """Import the modules that register built-in transforms and hooks (idempotent)."""
    from directorsync.hooks import _load_builtin_hooks

    _load_builtin_hooks()


def parse_spec(spec: Any) -> tuple[str, Any]:
    """``"norm_str"`` → (``norm_str``, None); ``{"split": "|"}`` → (``split``, ``"|"``)."""
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, dict) and len(spec) == 1:
        ((name, arg),) = spec.items()
        return str(name), arg
    raise ProfileError(f"a transform is a name or a one-key mapping, not {spec!r}")


def apply_transforms(series: pd.Series, specs: list[Any], ctx: Context) -> pd.Series:
    """Apply a list of transform specs in order.

    Every transform is a function of the cell alone, so a text column is transformed once per
    distinct value (``pd.factorize``) and the results are spread back over the rows: a column of
    100,000 cells holding 30 time zones costs 30 transforms, not 100,000.
    """
    if not specs:
        return series
    found = distinct_text(series)
    if found is None:
        return _apply_chain(series, specs, ctx)
    codes, uniques = found
    return spread(_apply_chain(uniques, specs, ctx), codes, series.index)


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
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if len(uniques) > len(series) // 2:  # mostly distinct: transforming the column is cheaper
        return None
    return codes, pd.Series(uniques, dtype=object)


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
    same, first = pd.factorize(np.fromiter(map(id, values), dtype=np.int64, count=len(values)))
    objects = _first_of_each(values, same, len(first))
    keys = np.fromiter(
        (tuple(v) if type(v) is list else v for v in objects), dtype=object, count=len(objects)
    )
    try:
        codes, uniques = pd.factorize(keys, use_na_sentinel=False)
    except TypeError:  # unhashable items (dicts)
        return None
    if len(uniques) > len(series) // 2:
        return None
    cells = [list(u) if type(u) is tuple else u for u in uniques]
    return codes[same], pd.Series(cells, dtype=object)


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


def _apply_chain(series: pd.Series, specs: list[Any], ctx: Context) -> pd.Series:
    for spec in specs:
        name, arg = parse_spec(spec)
        transform = TRANSFORMS.get(name)
        if transform.elementwise and _has_lists(series):
            series = _on_elements(series, lambda s, t=transform, a=arg: t.fn(s, a, ctx))
        else:
            series = transform.fn(series, arg, ctx)
    return _nulls(series)


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


def _has_lists(series: pd.Series) -> bool:
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


def _on_elements(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
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


def _text_cell(v: Any) -> str | None:
    """One cell as text (whole floats lose their ``.0``); None when empty (see :func:`is_empty`)."""
    if type(v) is str:
        return None if v.strip().lower() in EMPTY_SENTINELS else v
    if _empty_cell(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else str(v)


_TEXT = cellwise(_text_cell)


def _as_text(series: pd.Series) -> pd.Series:
    """Strings without NaN noise: floats that are whole numbers lose their ``.0``."""
    return pd.Series(_TEXT(series), index=series.index, dtype=object)


# ---------------------------------------------------------------- scalar transforms


@TRANSFORMS.register("norm_str")
def norm_str(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Trim and collapse white space; empty cells and sentinels (nan, none, null, -) become null."""
    return pd.Series(_NORM(s), index=s.index, dtype=object)


_SPACED = re.compile(r"\s\s|[\t\n\r\f\v]")
_SPACES = re.compile(r"\s+")


def _norm_cell(v: Any) -> str | None:
    text = _text_cell(v)
    if text is None:
        return None
    text = text.strip()
    return _SPACES.sub(" ", text) if _SPACED.search(text) else text


_NORM = cellwise(_norm_cell)


def _on_text(s: pd.Series, method: str) -> pd.Series:
    """Apply a pandas string method to the text cells only."""
    mask = s.map(lambda v: isinstance(v, str))
    out = s.copy()
    out[mask] = getattr(s[mask].str, method)()
    return out


@TRANSFORMS.register("upper")
def upper(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Upper-case text."""
    return _on_text(s, "upper")


@TRANSFORMS.register("lower")
def lower(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Lower-case text."""
    return _on_text(s, "lower")


@TRANSFORMS.register("trailing_slash")
def trailing_slash(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Make sure paths end with one ``/``."""
    mask = s.map(lambda v: isinstance(v, str) and v != "")
    out = s.copy()
    out[mask] = s[mask].str.rstrip("/") + "/"
    return out


@TRANSFORMS.register("to_int", arg="bounds {min, max} (optional)")
def to_int(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Integers (``"365.0"`` → 365); anything else is invalid; empty stays null."""
    empty = is_empty(s)
    num = pd.to_numeric(s.where(~empty, None).map(_strip_text), errors="coerce")
    whole = num.notna() & (num.round() == num)
    bounds = arg or {}
    if "min" in bounds:
        whole &= num >= bounds["min"]
    if "max" in bounds:
        whole &= num <= bounds["max"]
    out = pd.Series(None, index=s.index, dtype=object)
    out[whole] = num[whole].astype("int64").astype(object)
    bad = ~empty & ~whole
    out[bad] = [Invalid(v, _int_reason(bounds)) for v in s[bad]]
    return _nulls(out)


def _nulls(out: pd.Series) -> pd.Series:
    """Missing values as None (not NaN) in an object column."""
    values = out.to_numpy(dtype=object)
    missing = pd.isna(values)
    if out.dtype == object and not (missing & (values != None)).any():  # noqa: E711 - element-wise
        return out  # already None wherever missing
    return out.astype(object).where(~missing, None)


def _strip_text(v: Any) -> Any:
    return v.strip() if isinstance(v, str) else v


def _int_reason(bounds: dict[str, Any]) -> str:
    if bounds:
        return f"not an integer in [{bounds.get('min', '-inf')}, {bounds.get('max', 'inf')}]"
    return "not an integer"


@TRANSFORMS.register("to_bool")
def to_bool(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Booleans from TRUE/FALSE, 1/0, yes/no, on/off; empty stays null; others invalid."""
    empty = is_empty(s)
    text = s.map(lambda v: str(v).strip().lower() if not isinstance(v, bool) else str(v).lower())
    out = pd.Series(None, index=s.index, dtype=object)
    out[text.isin(TRUE_WORDS) & ~empty] = True
    out[text.isin(FALSE_WORDS) & ~empty] = False
    bad = ~empty & out.isna()
    out[bad] = [Invalid(v, "not a boolean (TRUE/FALSE)") for v in s[bad]]
    return _nulls(out)


@TRANSFORMS.register("default", arg="value")
def default(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Replace empty cells with a value."""
    out = s.astype(object).copy()
    out[is_empty(s)] = arg
    return out


@TRANSFORMS.register("none_if_empty")
def none_if_empty(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Empty cells (incl. sentinels and empty lists) become null."""
    return s.astype(object).where(~is_empty(s), None)


@TRANSFORMS.register("map", arg="{from: to, …}; key '*' is the fallback")
def value_map(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Map values through a table (case-insensitive keys); unmapped values stay as they are."""
    table = {str(k).lower(): v for k, v in (arg or {}).items() if k != "*"}
    key = s.map(lambda v: str(v).strip().lower() if v is not None else None)
    mapped = key.map(table)
    hit = key.isin(table.keys())
    out = s.astype(object).copy()
    out[hit] = mapped[hit]
    if "*" in (arg or {}):
        out[~hit & ~is_empty(s)] = arg["*"]
    return out


@TRANSFORMS.register("one_of", arg="[allowed values]")
def one_of(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Keep values from an allowed list (matched case-insensitively, returned canonical)."""
    allowed = {str(v).lower(): v for v in arg or []}
    key = s.map(lambda v: str(v).strip().lower() if isinstance(v, str) else v)
    out = key.map(allowed).astype(object)
    empty = is_empty(s)
    out[empty] = None
    bad = ~empty & out.isna()
    reason = "not one of " + "|".join(str(v) for v in arg or [])
    out[bad] = [Invalid(v, reason) for v in s[bad]]
    return out


@TRANSFORMS.register("prefix", arg="text")
def prefix(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Prepend text to non-empty values."""
    mask = ~is_empty(s)
    out = s.copy()
    out[mask] = str(arg) + s[mask].astype(str)
    return out


@TRANSFORMS.register("regex_replace", arg="{pattern, repl}")
def regex_replace(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Replace a regular expression in text values."""
    mask = s.map(lambda v: isinstance(v, str))
    out = s.copy()
    out[mask] = s[mask].str.replace(arg["pattern"], arg.get("repl", ""), regex=True)
    return out


@TRANSFORMS.register("sheet_map", arg="{sheet, from, to, keep_unmatched: false}")
def sheet_map(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Translate values through two columns of another sheet of the same workbook."""
    sheet = ctx.sheets.get(arg["sheet"]) if ctx else None
    if sheet is None or arg["from"] not in sheet or arg["to"] not in sheet:
        if arg.get("keep_unmatched"):
            return s
        return pd.Series(
            [
                None if e else Invalid(v, f"sheet {arg['sheet']} is missing")
                for v, e in zip(s, is_empty(s))
            ],
            index=s.index,
            dtype=object,
        )
    table = sheet[[arg["from"], arg["to"]]].copy()
    table[arg["from"]] = norm_str(table[arg["from"]], None, ctx)
    table = table.dropna().drop_duplicates(arg["from"]).set_index(arg["from"])[arg["to"]]
    key = norm_str(s, None, ctx)
    out = key.map(table).astype(object)
    unmatched = key.notna() & out.isna()
    if arg.get("keep_unmatched"):
        out[unmatched] = key[unmatched]
    else:
        reason = f"not found in {arg['sheet']}.{arg['from']}"
        out[unmatched] = [Invalid(v, reason) for v in s[unmatched]]
    return out


# ---------------------------------------------------------------- list transforms


@TRANSFORMS.register("split", arg="separator or [separators]", elementwise=False)
def split(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Split text cells into lists on one or several separators (items trimmed, empties dropped)."""
    seps = tuple(arg if isinstance(arg, list) else [arg or "|"])
    items, has_separator = _splitter(seps), _finder(seps)

    def cell(v: Any) -> list[Any]:
        if type(v) is str:
            text = v.strip()
            if text.lower() in EMPTY_SENTINELS:
                return []
        elif type(v) is list:  # already a list: kept as it is
            return v
        else:
            text = _text_cell(v)
            if text is None:
                return []
            text = text.strip()
        return items(text) if has_separator(text) else [text]

    return pd.Series(cellwise(cell)(s), index=s.index, dtype=object)


def _finder(seps: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a text holds one of ``seps`` (one or two separators tested inline: the usual case)."""
    if len(seps) == 1:
        (first,) = seps
        return lambda text: first in text
    if len(seps) == 2:
        first, second = seps
        return lambda text: first in text or second in text
    return lambda text: any(map(text.__contains__, seps))


def _splitter(seps: tuple[str, ...]) -> Callable[[str], list[str]]:
    """Trimmed non-empty items of a text split on any of ``seps``.

    White space around a separator goes with it: single-character separators split with
    ``str.split`` and strip the items, others with a regular expression that swallows it.
    """
    if all(len(sep) == 1 for sep in seps):
        first, table = seps[0], str.maketrans({sep: seps[0] for sep in seps[1:]})
        return lambda text: [i for i in map(str.strip, text.translate(table).split(first)) if i]
    pattern = re.compile(r"\s*(?:" + "|".join(re.escape(sep) for sep in seps) + r")\s*")
    return lambda text: [item for item in pattern.split(text) if item]


@TRANSFORMS.register("parse_list", elementwise=False)
def parse_list(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Lists from JSON arrays, Python list literals, or text split on , ; | and new lines."""

    def parse(v: Any) -> Any:
        if isinstance(v, list):
            return v
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return []
        text = str(v).strip()
        if text.startswith("["):
            for loader in (json.loads, ast.literal_eval):
                try:
                    value = loader(text)
                    if isinstance(value, list):
                        return value
                except (ValueError, SyntaxError):
                    continue
        return [p.strip() for p in re.split(r"[,;|\n]", text) if p.strip()]

    return s.map(parse).astype(object)


@TRANSFORMS.register("parse_json", elementwise=False)
def parse_json(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Parse JSON text cells (objects or arrays); empty stays null; bad JSON is invalid."""

    def parse(v: Any) -> Any:
        if not isinstance(v, str) or not v.strip():
            return v if isinstance(v, (list, dict)) else None
        try:
            return json.loads(v)
        except ValueError:
            try:
                return ast.literal_eval(v)
            except (ValueError, SyntaxError):
                return Invalid(v, "not valid JSON")

    return s.map(parse).astype(object)


@TRANSFORMS.register("uniq", elementwise=False)
def uniq(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Drop repeated items from list cells, keeping the first occurrence."""
    return pd.Series(_UNIQ(s), index=s.index, dtype=object)


def _uniq_cell(v: Any) -> Any:
    if type(v) is list and len(v) > 1:
        items = list(dict.fromkeys(v))
        return items if len(items) < len(v) else v
    return v


_UNIQ = cellwise(_uniq_cell)


@TRANSFORMS.register("sort", elementwise=False)
def sort(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Sort list cells (items compared as text)."""
    return s.map(lambda v: sorted(v, key=str) if isinstance(v, list) else v)


@TRANSFORMS.register("csv", arg="separator (default ',')", elementwise=False)
def csv(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Join list cells into one text (``"a,b"``); empty lists become null."""
    sep = "," if arg is None else str(arg)
    return s.map(
        lambda v: (
            sep.join(map(str, v))
            if isinstance(v, list) and v
            else (None if isinstance(v, list) else v)
        )
    )


@TRANSFORMS.register("first", elementwise=False)
def first(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """First item of list cells (null when empty)."""
    return s.map(lambda v: (v[0] if v else None) if isinstance(v, list) else v)


@TRANSFORMS.register("pluck", arg="key", elementwise=False)
def pluck(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Take one key from object cells (or from each object of a list cell)."""

    def take(v: Any) -> Any:
        if isinstance(v, dict):
            return v.get(arg)
        if isinstance(v, list):
            return [i.get(arg) for i in v if isinstance(i, dict) and i.get(arg) is not None]
        return None

    return s.map(take).astype(object)


@TRANSFORMS.register("as_list", elementwise=False)
def as_list(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Wrap scalar cells in a one-item list (empty cells become an empty list)."""
    empty = is_empty(s)
    return pd.Series(
        [v if isinstance(v, list) else ([] if e else [v]) for v, e in zip(s, empty)],
        index=s.index,
        dtype=object,
    )


def transforms_markdown() -> str:
    """The transform reference table for ``docs/profiles.md``."""
    lines = ["| transform | argument | what it does |", "|---|---|---|"]
    for name in TRANSFORMS.names():
        t = TRANSFORMS.get(name)
        lines.append(f"| `{name}` | {t.arg or '–'} | {t.doc} |")
    return "\n".join(lines)

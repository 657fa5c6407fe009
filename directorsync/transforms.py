"""Transforms: vectorised Series → Series functions named in profiles.

A profile lists transforms per mapped field, each either a bare name (``norm_str``) or a
one-key mapping with its argument (``{split: "|"}``), or the spec's ``{fn: split, sep: "|"}``. Every transform is a column operation;
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from directorsync.cells import (
    EMPTY_SENTINELS,
    cellwise,
    distinct_text,
    has_lists,
    is_empty,
    on_elements,
    spread,
    text_cell,
)
from directorsync.errors import ProfileError

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

    sheets: Mapping[str, pd.DataFrame]
    tenant: Any = None
    options: dict[str, Any] | None = None

    @property
    def workbook_name(self) -> str:
        """The workbook's file name, for findings and provenance (``workbook`` when unknown)."""
        return str((self.options or {}).get("workbook") or "workbook")


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
        """The transform of that name; a ProfileError naming the known ones otherwise."""
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items))
            raise ProfileError(f"unknown transform '{name}' (known: {known})") from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items


TRANSFORMS = TransformRegistry()


def parse_spec(spec: Any) -> tuple[str, Any]:
    """A transform item → (name, argument).

    ``"norm_str"`` → (``norm_str``, None); ``{"split": "|"}`` → (``split``, ``"|"``); the spec's
    form ``{"fn": "split", "sep": ";"}`` → (``split``, ``";"``): with ``fn``, a lone ``sep`` or
    ``arg`` key is the argument, several keys are passed as a mapping.
    """
    if isinstance(spec, str):
        return spec, None
    if isinstance(spec, dict) and isinstance(spec.get("fn"), str):
        rest = {k: v for k, v in spec.items() if k != "fn"}
        if not rest:
            return spec["fn"], None
        if len(rest) == 1 and next(iter(rest)) in ("sep", "arg"):
            return spec["fn"], next(iter(rest.values()))
        return spec["fn"], rest
    if isinstance(spec, dict) and len(spec) == 1:
        ((name, arg),) = spec.items()
        return str(name), arg
    raise ProfileError(
        f"a transform is a name, a one-key mapping or {{fn: name, ...}}, not {spec!r}"
    )


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


def _run_on(transform: Transform, arg: Any, ctx: Context, series: pd.Series) -> pd.Series:
    """One transform over a series (the list items of a column, via ``on_elements``)."""
    return transform.fn(series, arg, ctx)


def _apply_chain(series: pd.Series, specs: list[Any], ctx: Context) -> pd.Series:
    for spec in specs:
        name, arg = parse_spec(spec)
        transform = TRANSFORMS.get(name)
        if transform.elementwise and has_lists(series):
            series = on_elements(series, partial(_run_on, transform, arg, ctx))
        else:
            series = transform.fn(series, arg, ctx)
    return _nulls(series)


# ---------------------------------------------------------------- scalar transforms


@TRANSFORMS.register("norm_str")
def norm_str(s: pd.Series, arg: Any, ctx: Context) -> pd.Series:
    """Trim and collapse white space; empty cells and sentinels (nan, none, null, -) become null."""
    values = s.to_numpy(dtype=object)
    texts = _norm_texts(values)
    return pd.Series(_NORM(values) if texts is None else texts, index=s.index, dtype=object)


_SENTINEL_LENGTH = max(map(len, EMPTY_SENTINELS))
_ASCII_SPACES = "\t\n\r\f\v\x1c\x1d\x1e\x1f"  # the ASCII white space besides " "


def _needs_collapsing(text: str) -> bool:
    """Whether ``_SPACED`` finds something in ``text``: byte searches when it can."""
    if text.isascii() and not any(c in text for c in _ASCII_SPACES):
        return "  " in text  # white space is " " alone: collapsing needs two in a row
    return _SPACED.search(text) is not None


def _norm_texts(values: np.ndarray) -> np.ndarray | None:
    """:func:`norm_str` of a column of texts (a column of names), without a call per cell.

    None when a cell is not a text, or one needs its inner white space collapsed (the cell by
    cell path does those).
    """
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        return None
    stripped = list(map(str.strip, values))
    if _needs_collapsing("\x00".join(stripped)):  # (no white space across the joins)
        return None
    out = np.empty(len(stripped), dtype=object)
    out[:] = stripped
    lengths = np.fromiter(map(len, stripped), dtype=np.int64, count=len(stripped))
    for i in np.flatnonzero(lengths <= _SENTINEL_LENGTH):  # short cells: maybe "-" or "null"
        if stripped[i].lower() in EMPTY_SENTINELS:
            out[i] = None
    return out


_SPACED = re.compile(r"\s\s|[\t\n\r\f\v]")
_SPACES = re.compile(r"\s+")


def _norm_cell(v: Any) -> str | None:
    text = text_cell(v)
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
    if out.dtype == object and all(v is None for v in values[missing]):
        return out  # already None wherever missing (the missing cells only are looked at)
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
        lacking = [c for c in (arg["from"], arg["to"]) if sheet is not None and c not in sheet]
        where = (
            f"the sheet {arg['sheet']} lacks the column(s) {', '.join(lacking)} that translate it"
            if lacking
            else f"the sheet {arg['sheet']} that translates it ({arg['from']} → {arg['to']}) is "
            "absent from the workbook"
        )
        reason = (
            f"cannot be resolved: {where}; add that sheet, or write the name itself in this cell"
        )
        if lacking:
            reason = f"cannot be resolved: {where}; add them, or write the name itself in this cell"
        return pd.Series(
            [None if e else Invalid(v, reason) for v, e in zip(s, is_empty(s))],
            index=s.index,
            dtype=object,
        )
    table = sheet[[arg["from"], arg["to"]]].copy()
    table[arg["from"]] = norm_str(table[arg["from"]], None, ctx)
    # the names it maps to are normalised exactly as those names are where they are defined
    table[arg["to"]] = norm_str(table[arg["to"]], None, ctx)
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
            found = text_cell(v)
            if found is None:
                return []
            text = found.strip()
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

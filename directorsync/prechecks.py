"""Prechecks: the profile's checks compiled to a pandera schema and validated lazily.

Every failure is collected (``lazy=True``), mapped back to sheet, Excel row and column, and turned
into a finding with a human message. Each row's worst finding decides its fate: ``skip`` (the row
is reported and not sent), ``error`` (the row is an error) or ``warn`` (reported only).

Checks (``prechecks:`` list items ``{type, field, ...}``, each with ``severity: skip|error|warn``,
default ``skip``):

- ``{type: non_empty, field}`` — the value is set;
- ``{type: unique_in_sheet, field}`` — no two rows share the value (the first one is kept);
- ``{type: one_of, field, values}`` — the value is one of a list (case-sensitive);
- ``{type: matches, field, pattern, message?}`` — text matches a regular expression;
- ``{type: length, field, min?, max?}`` — text or list length bounds;
- ``{type: required_when, field, when: {other: value|[values]}}`` — set when another field has
  a value;
- ``{type: forbidden_when, field, when: {...}}`` — empty when another field has a value;
- ``{type: any_non_empty, fields: [...]}`` — at least one of the fields is set.
- ``{type: clean_items, field}`` — no list item has spaces around it, a bracket or a quote at an
  end (items are sent as written; use ``severity: warn`` to report them on their cell).

Values a transform could not convert (``Invalid`` markers) always fail the implicit ``valid``
check with the transform's reason. Checks against Director's inventories (``must_exist``,
``must_exist_many``) run per node with the name resolution, in :mod:`directorsync.resolve`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from directorsync.cells import cellwise, holds_only_scalars, is_empty
from directorsync.errors import ProfileError
from directorsync.profile.model import Profile
from directorsync.profile.schema import EXISTENCE_CHECKS
from directorsync.transforms import Invalid
from directorsync.vocabulary import FINDING_COLUMNS, REASON, ROW, ROWS, STATUS


def _register_pandera_backends() -> None:
    """Have pandera import and register its pandas backends now, while this module loads.

    pandera does it on the first validation of a process (0.15 s of imports); the first plan's
    prechecks then do data work only.
    """
    schema = pa.DataFrameSchema({"x": pa.Column(object, pa.Check(lambda s: s.notna()))})
    with contextlib.suppress(SchemaErrors):  # a failure too: its reporting path loads as well
        schema.validate(pd.DataFrame({"x": pd.Series(["x", None], dtype=object)}), lazy=True)


_register_pandera_backends()

SEVERITIES = ("skip", "error", "warn")


@dataclass
class CompiledCheck:
    """One precheck ready for pandera, plus how to word its failures."""

    name: str
    field: str | None
    severity: str
    check: pa.Check
    message: Callable[[Any, int], str]
    #: the field a whole-row check is about (``required_when``: its ``field``), for findings
    target: str | None = None


#: a field check's test of a column: True where the cell passes (a Series or a boolean array)
FieldTest = Callable[[pd.Series], "pd.Series | np.ndarray"]
#: what a check builder returns: the field it checks (None for a whole-row check), its pandera
#: test (of a column, or of the frame for a whole-row check) and how to word a failure
BuiltCheck = tuple[str | None, Callable[..., pd.Series], Callable[[Any, int], str]]


def _field_mask(fn: FieldTest) -> Callable[[pd.Series], pd.Series]:
    """A field check that also passes invalid cells (they have their own ``valid`` finding)."""
    return lambda s: pd.Series(np.asarray(fn(s), dtype=bool) | _invalid(s), index=s.index)


class _ColumnMemo:
    """Masks of whole columns (empty cells, invalid cells) computed once per validation.

    Several checks read the same column (``non_empty`` and ``unique_in_sheet`` on a name, the
    ``valid`` check and a field check): each mask is computed once, keyed by column name,
    while :func:`run_prechecks` validates one frame.
    """

    def __init__(self, length: int) -> None:
        self.length = length
        self.masks: dict[tuple[str, Any], np.ndarray] = {}

    def mask(self, kind: str, series: pd.Series, compute: Callable[[pd.Series], Any]) -> np.ndarray:
        if series.name is None or len(series) != self.length:
            return np.asarray(compute(series), dtype=bool)
        key = (kind, series.name)
        if key not in self.masks:
            self.masks[key] = np.asarray(compute(series), dtype=bool)
        return self.masks[key]


_MEMO: ContextVar[_ColumnMemo | None] = ContextVar("precheck_masks", default=None)


def _empty(series: pd.Series) -> np.ndarray:
    """:func:`is_empty` of a column (once per validation)."""
    memo = _MEMO.get()
    if memo is None:
        return is_empty(series).to_numpy(dtype=bool)
    return memo.mask("empty", series, is_empty)


def _invalid(series: pd.Series) -> np.ndarray:
    """:func:`invalid_mask` of a column (once per validation)."""
    memo = _MEMO.get()
    if memo is None:
        return invalid_mask(series)
    return memo.mask("invalid", series, invalid_mask)


def compile_checks(profile: Profile, frame: pd.DataFrame) -> list[CompiledCheck]:
    """Compile ``profile.prechecks`` (plus the implicit ``valid`` checks) for a desired frame."""
    compiled = []
    for i, item in enumerate(profile.prechecks):
        if item.get("type") not in EXISTENCE_CHECKS:
            compiled.append(_compile_one(i, item, profile, frame))
    for field in profile.mapping:
        compiled.append(
            CompiledCheck(
                name=f"valid:{field}",
                field=field,
                severity=str(profile.xlsx.get("invalid_severity", "skip")),
                check=pa.Check(
                    lambda s: pd.Series(~_invalid(s), index=s.index), name=f"valid:{field}"
                ),
                message=lambda v, row: _invalid_message(v),
            )
        )
    return compiled


def _compile_one(
    i: int, item: dict[str, Any], profile: Profile, frame: pd.DataFrame
) -> CompiledCheck:
    severity = item.get("severity", "skip")
    if severity not in SEVERITIES:
        raise ProfileError(
            f"{profile.path}: precheck {i + 1}: severity must be one of {SEVERITIES}"
        )
    kind = str(item.get("type"))
    builder = CHECK_BUILDERS.get(kind)
    if builder is None:
        raise ProfileError(
            f"{profile.path}: unknown precheck '{kind}' (known: "
            f"{', '.join(sorted([*CHECK_BUILDERS, *EXISTENCE_CHECKS]))})"
        )
    field, fn, message = builder(item, frame)
    name = f"{i}:{kind}"
    target = item.get("field") if field is None else None
    check = pa.Check(fn, name=name, ignore_na=False)
    return CompiledCheck(name, field, severity, check, message, target)


def _non_empty(item: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    arg = item["field"]
    return arg, _field_mask(lambda s: ~_empty(s)), lambda v, row: f"{arg} is empty"


def _unique(item: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    arg = item["field"]
    first_rows: dict[str, pd.Series] = {}  # built on the first duplicate only

    def fn(s: pd.Series) -> pd.Series:
        return pd.Series(~s.duplicated(keep="first").to_numpy() | _empty(s), index=s.index)

    def message(value: Any, row: int) -> str:
        if "rows" not in first_rows:
            if arg in frame:
                column = frame[arg]
                first = ~column.duplicated().to_numpy() & ~_empty(column)
                first_rows["rows"] = pd.Series(
                    frame[ROW].to_numpy()[first], index=column.to_numpy(dtype=object)[first]
                )
            else:
                first_rows["rows"] = pd.Series(dtype=object)
        first = first_rows["rows"].get(value)
        return f"duplicate {arg} '{value}' (first defined at row {first})"

    return arg, fn, message


def _one_of(arg: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    values = list(arg["values"])
    return (
        arg["field"],
        _field_mask(lambda s: s.isin(values).to_numpy() | _empty(s)),
        (lambda v, row: f"{arg['field']} '{v}' is not one of {', '.join(map(str, values))}"),
    )


def _matches(arg: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    pattern = re.compile(arg["pattern"])

    def fn(s: pd.Series) -> pd.Series:
        text = s.map(lambda v: v if isinstance(v, str) else "")
        return text.str.fullmatch(pattern).fillna(False).astype(bool).to_numpy() | _empty(s)

    default = f"{arg['field']} '{{value}}' does not match {arg['pattern']}"
    return (
        arg["field"],
        _field_mask(fn),
        (lambda v, row: arg.get("message", default).format(value=v)),
    )


def _length(arg: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    lo, hi = arg.get("min", 0), arg.get("max", 10**9)

    def fn(s: pd.Series) -> pd.Series:
        n = s.map(lambda v: len(v) if isinstance(v, (str, list)) else 0)
        return n.between(lo, hi).to_numpy() | _empty(s)

    return (
        arg["field"],
        _field_mask(fn),
        (lambda v, row: f"{arg['field']} '{v}' must have between {lo} and {hi} characters/items"),
    )


def _when_mask(frame: pd.DataFrame, when: dict[str, Any]) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for other, values in when.items():
        values = values if isinstance(values, list) else [values]
        mask &= frame[other].isin(values)
    return mask


def _condition_text(when: dict[str, Any]) -> str:
    """``{proxy_condition: [None, uses_proxy]}`` → ``proxy_condition is None or uses_proxy``."""
    parts = []
    for key, values in when.items():
        values = values if isinstance(values, list) else [values]
        parts.append(f"{key} is {' or '.join(map(str, values))}")
    return ", ".join(parts)


def _required_when(arg: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    field, when = arg["field"], arg["when"]
    cond = _condition_text(when)

    def fn(df: pd.DataFrame) -> pd.Series:
        return ~(_when_mask(df, when) & is_empty(df[field]))

    return None, fn, (lambda v, row: f"{field} is required when {cond}")


def _forbidden_when(arg: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    field, when = arg["field"], arg["when"]
    cond = _condition_text(when)

    def fn(df: pd.DataFrame) -> pd.Series:
        return ~(_when_mask(df, when) & ~is_empty(df[field]))

    return None, fn, (lambda v, row: f"{field} must be empty when {cond}")


def _any_non_empty(arg: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    fields = list(arg["fields"])

    def fn(df: pd.DataFrame) -> pd.Series:
        empty = pd.concat([is_empty(df[f]) for f in fields if f in df], axis=1)
        return ~empty.all(axis=1)

    return None, fn, (lambda v, row: f"at least one of {', '.join(fields)} must be set")


_ODD_ENDS = "[]\"'"


def _odd_items(v: Any) -> list[str]:
    """List items with spaces around them, or a bracket or quote at an end."""
    if not isinstance(v, list):
        return []
    return [
        item
        for item in v
        if isinstance(item, str)
        and (
            item != item.strip() or item.strip()[:1] in _ODD_ENDS or item.strip()[-1:] in _ODD_ENDS
        )
    ]


def _clean_items(item: dict[str, Any], frame: pd.DataFrame) -> BuiltCheck:
    arg = item["field"]

    def fn(s: pd.Series) -> pd.Series:
        return pd.Series([not _odd_items(v) for v in s], index=s.index)

    def message(v: Any, row: int) -> str:
        odd = _odd_items(v)
        return (
            f"{arg}: {len(odd)} item(s) with spaces around them, brackets or quotes, sent as "
            f"written: {', '.join(map(repr, odd))}; check the cell"
        )

    return arg, _field_mask(fn), message


CHECK_BUILDERS = {
    "non_empty": _non_empty,
    "unique_in_sheet": _unique,
    "one_of": _one_of,
    "matches": _matches,
    "length": _length,
    "required_when": _required_when,
    "forbidden_when": _forbidden_when,
    "any_non_empty": _any_non_empty,
    "clean_items": _clean_items,
}


def _has_invalid(v: Any) -> bool:
    kind = type(v)
    if kind is str or v is None:
        return False
    if kind is Invalid:
        return True
    if kind is list:
        for item in v:
            if type(item) is not str and _has_invalid(item):
                return True
        return False
    if kind is dict:
        return any(type(i) is Invalid for i in v.values())
    return False


_HAS_INVALID = cellwise(_has_invalid)


def invalid_mask(series: pd.Series) -> np.ndarray:
    """True where a cell is, or holds (in a list, or as a dict value), an Invalid marker."""
    if holds_only_scalars(series):
        return np.zeros(len(series), dtype=bool)
    return _HAS_INVALID(series).astype(bool)


def _first_invalid(v: Any) -> Invalid | None:
    if isinstance(v, Invalid):
        return v
    items = v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []
    for item in items:
        found = _first_invalid(item)
        if found is not None:
            return found
    return None


def _invalid_message(v: Any) -> str:
    bad = _first_invalid(v)
    if bad is None:
        return "invalid value"
    verb = "" if bad.reason.startswith(("cannot ", "names ")) else "is "  # says its own verb
    return f"'{bad.value}' {verb}{bad.reason}"


def build_schema(checks: list[CompiledCheck], frame: pd.DataFrame) -> pa.DataFrameSchema:
    """The pandera schema of a desired frame."""
    columns: dict[str, pa.Column] = {}
    frame_checks = []
    for c in checks:
        if c.field is None:
            frame_checks.append(c.check)
        elif c.field in frame:
            col = columns.setdefault(
                c.field, pa.Column(object, nullable=True, required=False, coerce=False)
            )
            col.checks.append(c.check)
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False)


def run_prechecks(
    frame: pd.DataFrame, profile: Profile, workbook: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate a desired frame lazily.

    Returns:
        ``(frame, findings)``: the frame with ``_status`` (``ok``/``skip``/``error``) and
        ``_reason`` columns added (a new frame), and the findings table (``FINDING_COLUMNS``).
    """
    checks = compile_checks(profile, frame)
    schema = build_schema(checks, frame)
    data = frame.drop(columns=[ROWS], errors="ignore").astype(object)
    token = _MEMO.set(_ColumnMemo(len(frame)))
    try:
        try:
            schema.validate(data, lazy=True)
            failures = pd.DataFrame(columns=["column", "check", "index", "failure_case"])
        except SchemaErrors as exc:
            failures = exc.failure_cases
        findings = _findings(failures, checks, frame, profile, workbook)
    finally:
        _MEMO.reset(token)
    return _verdicts(frame, findings), findings


def _findings(
    failures: pd.DataFrame,
    checks: list[CompiledCheck],
    frame: pd.DataFrame,
    profile: Profile,
    workbook: str,
) -> pd.DataFrame:
    by_name = {c.name: c for c in checks}
    failures = failures[failures["index"].notna() & failures["check"].isin(by_name)]
    if failures.empty:
        return pd.DataFrame(columns=[*FINDING_COLUMNS, "_index"])
    idx = failures["index"].astype(int)
    compiled = failures["check"].map(by_name)
    values = [frame.at[i, c.field] if c.field else None for i, c in zip(idx, compiled)]
    out = pd.DataFrame(
        {
            "resource": profile.name,
            "sheet": frame.loc[idx, "_sheet"].to_numpy() if "_sheet" in frame else profile.sheet,
            "row": frame.loc[idx, ROW].to_numpy(),
            "column": [_column_for(c, v, profile) for c, v in zip(compiled, values)],
            "check": [_check_label(c.name) for c in compiled],
            "severity": [c.severity for c in compiled],
            "message": [c.message(v, r) for c, v, r in zip(compiled, values, frame.loc[idx, ROW])],
            "value": [_display(v) for v in values],
            "_index": idx.to_numpy(),
        }
    )
    return out.drop_duplicates(["_index", "message"]).reset_index(drop=True)


def _check_label(name: str) -> str:
    """``0:non_empty`` → ``non_empty``; ``valid:field`` → ``valid``."""
    head, _, tail = name.partition(":")
    return "valid" if head == "valid" else tail or head


def _column_for(check: CompiledCheck, value: Any, profile: Profile) -> str | None:
    bad = _first_invalid(value)
    if bad is not None and bad.column:
        return bad.column
    field = check.field or check.target
    if field is None:
        return None
    spec = profile.mapping.get(field)
    if isinstance(spec, dict) and "col" in spec:
        return spec["col"]
    return spec if isinstance(spec, str) else field


def _display(v: Any) -> Any:
    bad = _first_invalid(v)
    if bad is not None:
        return bad.value
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)


def _verdicts(frame: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy(deep=False)
    out[STATUS] = "ok"
    out[REASON] = None
    if findings.empty:
        return out
    blocking = findings[findings["severity"].isin(["skip", "error"])]
    reasons = blocking.groupby("_index")["message"].agg("; ".join)
    worst = blocking.assign(err=blocking["severity"].eq("error")).groupby("_index")["err"].any()
    out.loc[reasons.index, REASON] = reasons
    out.loc[worst.index, STATUS] = worst.map({True: "error", False: "skip"})
    return out

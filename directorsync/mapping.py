"""Mapping: a sheet frame → the desired frame, one column per mapped field.

``xlsx.mapping`` is an ordered mapping of field → spec; a spec takes its value from exactly one of

- ``col``: a sheet column (found by exact name, then ``xlsx.aliases``, then case-insensitively);
- ``expr``: a text template, ``"${a}|${b}"``: each ``${name}`` is a field mapped earlier, else a
  sheet column (missing or empty: empty text); never code;
- ``from``: a field mapped earlier;
- ``const``: a constant;
- ``zip``: ``{sub: field}`` parallel list fields zipped into a list of objects (lengths must match);
- ``object``: ``{sub: field}`` one object per row (``when_any`` lists sub-fields of which one must
  be set, else the row has no object);

then applies its ``transform`` chain; ``fallback: FIELD`` fills the cells still empty with a field
mapped earlier. ``xlsx.filter`` keeps the sheet rows whose column's trimmed text ``equals`` a
value, is ``in`` a list or ``matches`` a regular expression (a list of filters: all hold). With ``xlsx.group_by`` rows sharing the key merge into one
object; each field says how with ``aggregate`` (``first`` — the default —, ``list``, ``union``).
Every step is a column operation.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import pandas as pd

from directorsync.cells import cellwise, gather_lists, is_empty, text_cell
from directorsync.errors import ProfileError, WorkbookError
from directorsync.profile.model import Profile
from directorsync.profile.schema import PLACEHOLDER, SOURCES
from directorsync.transforms import Context, Invalid, apply_transforms
from directorsync.vocabulary import ROW, ROWS, SHEET

_ONE_ROW = cellwise(lambda row: [row])
#: How many first data rows are searched for a header placed below a title row.
HEADER_SEARCH_ROWS = 5


def resolve_columns(frame: pd.DataFrame, profile: Profile, workbook: str) -> dict[str, str]:
    """Map every column the profile names to the sheet's actual header.

    Raises:
        WorkbookError: a required column is missing (naming file, sheet, column and close names).
    """
    aliases = profile.xlsx.get("aliases") or {}
    lower = {c.lower(): c for c in frame.columns}
    wanted = set(profile.xlsx.get("required_columns") or [])
    wanted |= {spec["col"] for spec in _specs(profile) if "col" in spec}
    wanted |= {f["column"] for f in _filters(profile)}
    wanted |= {
        name for spec in _specs(profile) if "expr" in spec for name in _expr_names(spec["expr"])
    }
    found: dict[str, str] = {}
    for name in wanted:
        for candidate in [name, *(aliases.get(name) or [])]:
            actual = candidate if candidate in frame.columns else lower.get(candidate.lower())
            if actual is not None:
                found[name] = actual
                break
    missing = sorted(set(profile.xlsx.get("required_columns") or []) - set(found))
    if missing:
        raise WorkbookError(
            _missing_columns_message(missing, frame, profile, workbook),
            file=workbook,
            sheet=profile.sheet,
            column=missing[0],
        )
    return found


def _missing_columns_message(
    missing: list[str], frame: pd.DataFrame, profile: Profile, workbook: str
) -> str:
    columns = [c for c in frame.columns if c != ROW]
    parts = []
    for name in missing:
        close = difflib.get_close_matches(name, columns, n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        parts.append(f"'{name}'{hint}")
    what = "column {} is" if len(parts) == 1 else "columns {} are"
    return (
        f"{workbook} › {profile.sheet}: required {what.format(', '.join(parts))} missing."
        f"{_header_row_hint(missing, frame, profile)} The sheet has: {', '.join(columns)}"
    )


def _header_row_hint(missing: list[str], frame: pd.DataFrame, profile: Profile) -> str:
    """Where the header really is when one of the first data rows holds the missing columns.

    A title row above the header makes the title the header: the real header then reads as
    one of the first data rows.
    """
    aliases = profile.xlsx.get("aliases") or {}
    header_row = frame.attrs.get("header_row", 1)
    top = frame.head(HEADER_SEARCH_ROWS)
    cells = (
        top.drop(columns=[ROW], errors="ignore")
        .astype(str)
        .apply(lambda c: c.str.strip().str.lower())
    )
    names = [[n.lower() for n in [name, *(aliases.get(name) or [])]] for name in missing]
    found = pd.concat([cells.isin(candidates).any(axis=1) for candidates in names], axis=1).all(
        axis=1
    )
    for position, hit in enumerate(found):
        if hit:
            excel_row = top[ROW].to_numpy()[position] if ROW in top else header_row + 1 + position
            return (
                f" The header seems to be on row {excel_row}, not row {header_row}: "
                "remove the rows above it."
            )
    return ""


def _specs(profile: Profile) -> list[dict[str, Any]]:
    out = []
    for spec in profile.mapping.values():
        spec = _normalise_spec(spec)
        out.append(spec)
        for sub in ("zip", "object"):
            for inner in (spec.get(sub) or {}).values():
                if isinstance(inner, dict):
                    out.append(inner)
    return out


def _filters(profile: Profile) -> list[dict[str, Any]]:
    found = profile.xlsx.get("filter") or []
    return [found] if isinstance(found, dict) else list(found)


def _expr_names(template: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(str(template))]


def _normalise_spec(spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"col": spec}
    if not isinstance(spec, dict):
        raise ProfileError(f"a mapping entry must be a column name or a mapping, not {spec!r}")
    return spec


def map_sheet(frame: pd.DataFrame, profile: Profile, ctx: Context, workbook: str) -> pd.DataFrame:
    """Build the desired frame of a profile from its (already loaded) main sheet.

    Returns:
        One row per object with a column per mapped field plus ``_row`` (first Excel row),
        ``_rows`` (all Excel rows) and ``_sheet``.
    """
    columns = resolve_columns(frame, profile, workbook)
    for condition in _filters(profile):
        frame = frame[_keep(frame, condition, columns, profile, workbook)]
    out = pd.DataFrame(index=frame.index)
    for field, spec in profile.mapping.items():
        out[field] = _map_field(field, _normalise_spec(spec), frame, out, columns, ctx)
    out[ROW] = frame[ROW]
    out[SHEET] = profile.sheet
    group_by = profile.xlsx.get("group_by")
    if group_by:
        return _group(out, profile, [group_by] if isinstance(group_by, str) else list(group_by))
    out[ROWS] = pd.Series(_ONE_ROW(out[ROW].to_numpy(dtype=object)), index=out.index, dtype=object)
    return out.reset_index(drop=True)


def _keep(
    frame: pd.DataFrame,
    condition: dict[str, Any],
    columns: dict[str, str],
    profile: Profile,
    workbook: str,
) -> pd.Series:
    """Rows an ``xlsx.filter`` condition keeps (compared on the cell's trimmed text)."""
    name = condition["column"]
    column = columns.get(name)
    if column is None:
        raise WorkbookError(
            f"{workbook} › {profile.sheet}: filter column '{name}' is missing",
            file=workbook,
            sheet=profile.sheet,
            column=name,
        )
    text = frame[column].astype(str).str.strip()
    if "equals" in condition:
        return text == str(condition["equals"])
    if "in" in condition:
        return text.isin([str(v) for v in condition["in"]])
    pattern = re.compile(str(condition["matches"]))
    return text.map(lambda v: pattern.fullmatch(v) is not None).astype(bool)


def _expr(
    template: str, frame: pd.DataFrame, mapped: pd.DataFrame, columns: dict[str, str]
) -> pd.Series:
    """An ``expr`` template rendered per row: literal text and ``${name}`` values as text."""
    text = str(template)
    out = pd.Series("", index=frame.index, dtype=object)
    end = 0
    for match in PLACEHOLDER.finditer(text):
        name = match.group(1)
        if name in mapped:
            values = mapped[name]
        elif columns.get(name) is not None:
            values = frame[columns[name]]
        else:
            values = pd.Series(None, index=frame.index, dtype=object)
        out = out + text[end : match.start()] + _as_text(values)
        end = match.end()
    return out + text[end:]


def _as_text(values: pd.Series) -> pd.Series:
    def one(v: Any) -> str:
        if isinstance(v, list):
            return ",".join(map(str, v))
        return "" if _empty(v) or isinstance(v, Invalid) else str(text_cell(v) or "")

    return pd.Series(cellwise(one)(values), index=values.index, dtype=object)


def _map_field(
    field: str,
    spec: dict[str, Any],
    frame: pd.DataFrame,
    mapped: pd.DataFrame,
    columns: dict[str, str],
    ctx: Context,
) -> pd.Series:
    kinds = [k for k in SOURCES if k in spec]
    if len(kinds) != 1:
        raise ProfileError(f"mapping '{field}' needs exactly one of {', '.join(SOURCES)}")
    kind = kinds[0]
    source_column = None
    if kind == "col":
        source_column = columns.get(spec["col"])
        if source_column is None:
            series = pd.Series(None, index=frame.index, dtype=object)
        else:
            series = frame[source_column].astype(object)
    elif kind == "expr":
        series = _expr(spec["expr"], frame, mapped, columns)
    elif kind == "from":
        series = mapped[spec["from"]].copy()
    elif kind == "const":
        series = pd.Series([spec["const"]] * len(frame), index=frame.index, dtype=object)
    elif kind == "zip":
        series = _zip(field, spec["zip"], frame, mapped, columns, ctx)
    else:
        series = _object(field, spec, frame, mapped, columns, ctx)
    series = apply_transforms(series, spec.get("transform") or [], ctx)
    if spec.get("fallback"):
        other = _sub_series(spec["fallback"], spec["fallback"], frame, mapped, columns, ctx)
        series = series.where(~is_empty(series), other)
    return _tag_invalid(series, source_column or spec.get("col") or field)


def _sub_series(
    name: str,
    sub: Any,
    frame: pd.DataFrame,
    mapped: pd.DataFrame,
    columns: dict[str, str],
    ctx: Context,
) -> pd.Series:
    if isinstance(sub, str):
        if sub not in mapped:
            raise ProfileError(f"'{sub}' is used before it is mapped (map it earlier)")
        return mapped[sub]
    return _map_field(name, _normalise_spec(sub), frame, mapped, columns, ctx)


def _zip(
    field: str,
    parts: dict[str, Any],
    frame: pd.DataFrame,
    mapped: pd.DataFrame,
    columns: dict[str, str],
    ctx: Context,
) -> pd.Series:
    subs = pd.DataFrame(
        {k: _sub_series(k, v, frame, mapped, columns, ctx) for k, v in parts.items()}
    )
    subs = subs.map(lambda v: v if isinstance(v, list) else ([] if _empty(v) else [v]))
    lengths = subs.map(len)
    same = lengths.nunique(axis=1).eq(1)
    out: pd.Series = pd.Series([[] for _ in range(len(subs))], index=subs.index, dtype=object)
    ok = same & lengths.iloc[:, 0].gt(0)
    if ok.any():
        exploded = subs[ok].explode(list(parts))
        records = pd.Series(exploded.to_dict("records"), index=exploded.index)
        out[ok] = gather_lists(records)
    bad = ~same
    if bad.any():
        names = " and ".join(parts)
        counts = lengths[bad].astype(str).agg(" vs ".join, axis=1)
        out[bad] = [Invalid(c, f"{names} must have as many items each") for c in counts]
    return out


def _object(
    field: str,
    spec: dict[str, Any],
    frame: pd.DataFrame,
    mapped: pd.DataFrame,
    columns: dict[str, str],
    ctx: Context,
) -> pd.Series:
    parts = spec["object"]
    subs = pd.DataFrame(
        {k: _sub_series(k, v, frame, mapped, columns, ctx) for k, v in parts.items()}
    )
    empty = subs.apply(is_empty)
    when_any = spec.get("when_any") or list(parts)
    present = ~empty[when_any].all(axis=1)
    cleaned = subs.astype(object).where(~empty, None)
    records = pd.Series(cleaned.to_dict("records"), index=subs.index, dtype=object)
    return records.where(present, None)


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (isinstance(v, str) and not v.strip())


def _tag_invalid(series: pd.Series, column: str) -> pd.Series:
    """Record the source column on Invalid markers that do not have one yet."""
    if pd.api.types.infer_dtype(series, skipna=True) in (
        "string",
        "empty",
        "integer",
        "floating",
        "boolean",
    ):
        return series
    mask = _UNTAGGED(series).astype(bool)
    if mask.any():
        series = series.copy()
        series[mask] = series[mask].map(lambda v: Invalid(v.value, v.reason, column))
    return series


_UNTAGGED = cellwise(lambda v: type(v) is Invalid and v.column is None)


def _group(out: pd.DataFrame, profile: Profile, keys: list[str]) -> pd.DataFrame:
    aggs: dict[str, Any] = {}
    for field, spec in profile.mapping.items():
        if field in keys:
            continue
        how = _normalise_spec(spec).get("aggregate", "first")
        aggs[field] = _AGGREGATES[how] if how in _AGGREGATES else _bad_aggregate(field, how)
    aggs[ROW] = "min"
    aggs[ROWS] = ("_row_copy", list)
    aggs[SHEET] = "first"
    grouped_input = out.assign(_row_copy=out[ROW])
    # keys that are empty would vanish in groupby: keep them as their own groups
    key_frame = grouped_input[keys].astype(object).where(~grouped_input[keys].isna(), "\x00empty")
    grouped_input[keys] = key_frame
    named = {
        f: (f if not isinstance(a, tuple) else a[0], a if not isinstance(a, tuple) else a[1])
        for f, a in aggs.items()
    }
    result = grouped_input.groupby(keys, sort=False, dropna=False).agg(**named).reset_index()
    result[keys] = result[keys].where(result[keys] != "\x00empty", None)
    return result


def _agg_first(s: pd.Series) -> Any:
    nonempty = s[~is_empty(s)]
    return nonempty.iloc[0] if len(nonempty) else None


def _agg_list(s: pd.Series) -> list[Any]:
    return [v for v in s if v is not None and not (isinstance(v, float) and v != v)]


def _agg_union(s: pd.Series) -> list[Any]:
    items: list[Any] = []
    for v in s:
        if isinstance(v, list):
            items.extend(i for i in v if i not in items)
    return items


_AGGREGATES = {"first": _agg_first, "list": _agg_list, "union": _agg_union}


def _bad_aggregate(field: str, how: str) -> Any:
    raise ProfileError(
        f"mapping '{field}': unknown aggregate '{how}' (known: {', '.join(_AGGREGATES)})"
    )

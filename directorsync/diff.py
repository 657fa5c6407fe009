"""Diff: desired frame ⋈ remote frame on (node, natural key) → action and field-level changes.

``diff:`` in a profile says how to compare:

- ``compare``: the fields compared (default: the fields of the create payload template);
- ``list_as_sets``: list fields compared regardless of order (``deep_sets``: at every level);
- ``ignore_fields``: never compared;
- ``write_only``: fields Director does not return on read — never compared, so they can never
  cause an update that cannot converge;
- ``write_only_if_absent``: compared only when Director's listing has the field at all;
- ``case_insensitive``: text fields compared ignoring case.

Values are compared in a canonical form: empty values (null, "", [], {}) are equal, whole floats
equal ints, dict keys are sorted, ``None`` entries dropped. Every differing field is reported as
``{field, before, after}``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from directorsync.inventory import NODE, PLANNED
from directorsync.prechecks import REASON, STATUS
from directorsync.profile import Profile
from directorsync.transforms import gather_lists

KEY = "_key"
_TEMPLATE_FIELD = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


def canonical(value: Any, as_set: bool = False, deep: bool = False, fold: bool = False) -> Any:
    """The comparable form of a value (see module docstring)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        text = value.strip()
        return (text.lower() if fold else text) or None
    if isinstance(value, dict):
        items = {str(k): canonical(v, deep and as_set, deep, fold) for k, v in value.items()}
        items = {k: v for k, v in sorted(items.items()) if v is not None}
        return items or None
    if isinstance(value, (list, tuple, set)):
        items = [canonical(v, deep and as_set, deep, fold) for v in value]
        items = [i for i in items if i is not None]
        if as_set or isinstance(value, set):
            items = sorted({_dump(i): i for i in items}.values(), key=_dump)
        return items or None
    if hasattr(value, "item"):  # numpy scalars
        return canonical(value.item(), as_set, deep, fold)
    return value


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def compare_fields(profile: Profile) -> list[str]:
    """Fields the diff compares for a profile."""
    spec = profile.diff
    fields = spec.get("compare")
    if not fields:
        template = profile.payload.get("create") or {}
        fields = list(dict.fromkeys(_TEMPLATE_FIELD.findall(_dump(template))))
    skip = set(spec.get("ignore_fields") or []) | set(spec.get("write_only") or [])
    skip |= {profile.id_field}
    return [f for f in fields if f not in skip]


def _flags(field: str, profile: Profile) -> tuple[bool, bool, bool]:
    spec = profile.diff
    deep = field in (spec.get("deep_sets") or [])
    as_set = deep or field in (spec.get("list_as_sets") or [])
    return as_set, deep, field in (spec.get("case_insensitive") or [])


def canonical_series(series: pd.Series, field: str, profile: Profile) -> pd.Series:
    """A column in canonical JSON text form, ready for vectorised comparison.

    Plain text columns and lists of plain text take fast paths that produce exactly the text
    of the general path (``json.dumps`` of :func:`canonical`), so hashes never depend on the path.
    """
    as_set, deep, fold = _flags(field, profile)
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        return _fast_text(series, fold)
    if kind == "mixed" and not deep:
        return series.map(lambda v: _fast_list(v, as_set, fold))
    return series.map(lambda v: _dump(canonical(v, as_set, deep, fold)))


_ESCAPES = r'["\\\x00-\x1f]'
_CONTROL = re.compile(r"[\\\x00-\x1f]")


def _fast_text(series: pd.Series, fold: bool) -> pd.Series:
    na = series.isna()
    text = series.astype(object).where(~na, "").astype(str).str.strip()
    if fold:
        text = text.str.lower()
    out = ('"' + text + '"').astype(object)
    special = text.str.contains(_ESCAPES, regex=True)
    if special.any():
        out[special] = text[special].map(lambda t: json.dumps(t, ensure_ascii=False))
    out[na | text.eq("")] = "null"
    return out


def _fast_list(value: Any, as_set: bool, fold: bool) -> str:
    """Canonical text of a list of plain strings without the general recursion."""
    if not isinstance(value, list):
        return _dump(canonical(value, as_set, False, fold))
    items = []
    for item in value:
        if isinstance(item, str):
            text = item.strip().lower() if fold else item.strip()
            if text:
                items.append(text)
        elif item is None or (isinstance(item, float) and item != item):
            continue
        else:
            return _dump(canonical(value, as_set, False, fold))
    if not items:
        return "null"
    joined = '", "'.join(items)
    if joined.count('"') != 2 * (len(items) - 1) or _CONTROL.search(joined):
        return _dump(canonical(value, as_set, False, fold))  # text needing JSON escapes
    if as_set:
        items = sorted(set(items), key=lambda t: t + '"')  # the order of their JSON text
        joined = '", "'.join(items)
    return '["' + joined + '"]'


def key_series(frame: pd.DataFrame, fields: list[str]) -> pd.Series:
    """The natural key as one text column (composite keys joined with ``/``)."""
    parts = [frame[f].astype(object).where(frame[f].notna(), "").astype(str) for f in fields]
    key = parts[0]
    for part in parts[1:]:
        key = key + "/" + part
    return key


def remote_hash(remote: pd.DataFrame, profile: Profile) -> pd.Series:
    """A short hash of each remote object's compared fields (stale-plan detection)."""
    fields = [f for f in compare_fields(profile) if f in remote]
    if remote.empty:
        return pd.Series(dtype=object)
    return _hash_frame(remote, fields, profile)


def diff_frame(desired: pd.DataFrame, remote: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Compute actions and changes.

    Args:
        desired: one row per (node, object), with ``_node_id``, ``_status``, ``_reason``.
        remote: the inventory of the target nodes (``_node_id`` column), write shape.

    Returns:
        ``desired`` plus ``action``, ``reason``, ``changes``, ``remote_id``, ``remote_hash``.
    """
    out = desired.copy(deep=False)
    out[KEY] = key_series(out, profile.natural_key)
    remote = remote[~remote[PLANNED].fillna(False).astype(bool)] if PLANNED in remote else remote
    remote = remote.copy(deep=False)
    remote[KEY] = key_series(remote, profile.remote_key)
    absent = set(profile.diff.get("write_only_if_absent") or []) - set(remote.columns)
    fields = [f for f in compare_fields(profile) if f not in absent]
    pos = _match_positions(out, remote)
    merged = out.copy(deep=False)
    found = pos >= 0
    for col in [profile.id_field] + [f for f in fields if f in remote and f != profile.id_field]:
        values = np.full(len(out), None, dtype=object)
        values[found] = remote[col].to_numpy(dtype=object)[pos[found]]
        merged[f"r.{col}"] = values
    exists = merged[f"r.{profile.id_field}"].notna()
    hashed = [f for f in compare_fields(profile) if f in remote]
    status = merged[STATUS] if STATUS in merged else pd.Series("ok", index=merged.index)
    blocked = status.isin(["skip", "error"])
    changes, hashes = _changes(merged, fields, hashed, profile, exists & ~blocked)
    out["remote_id"] = merged[f"r.{profile.id_field}"].where(exists, None)
    hashed_rows = hashes.reindex(out.index).astype(object)
    out["remote_hash"] = hashed_rows.where(hashed_rows.notna() & exists, None)
    changed = out.index.isin(changes.index) & exists.to_numpy()
    action = np.where(exists.to_numpy(), np.where(changed, "update", "unchanged"), "create")
    action = np.where(status.eq("skip").to_numpy(), "skip", action)
    action = np.where(status.eq("error").to_numpy(), "error", action)
    out["action"] = pd.Series(action, index=out.index, dtype=object)
    reason = merged[REASON].to_numpy(dtype=object) if REASON in merged else np.full(len(out), None)
    reason = np.where(action == "create", "not on node", reason)
    reason = np.where(action == "unchanged", None, reason)
    out["reason"] = pd.Series(reason, index=out.index, dtype=object)
    upd = action == "update"
    kept = changes[changes.index.isin(out.index[upd])]
    out.loc[kept.index, "reason"] = kept.map(
        lambda c: "differs: " + ", ".join(ch["field"] for ch in c)
    )
    cells = pd.Series([[] for _ in range(len(out))], index=out.index, dtype=object)
    cells.loc[kept.index] = kept
    out["changes"] = cells
    return out


def _match_positions(out: pd.DataFrame, remote: pd.DataFrame) -> np.ndarray:
    """For each desired row, the position of the first remote row with its (node, key); -1 if none.

    A hash join on integer codes: both sides' nodes and keys are factorized together, so the
    desired frame is never copied into a merged frame.
    """
    n = len(out)
    node_codes, _ = pd.factorize(np.concatenate([out[NODE].to_numpy(object), remote[NODE].to_numpy(object)]))
    key_codes, keys = pd.factorize(np.concatenate([out[KEY].to_numpy(object), remote[KEY].to_numpy(object)]))
    codes = node_codes.astype(np.int64) * max(len(keys), 1) + key_codes
    right = pd.Index(codes[n:])
    first = ~right.duplicated(keep="first")
    at = pd.Index(codes[n:][first]).get_indexer(codes[:n])
    pos = np.full(n, -1, dtype=np.int64)
    pos[at >= 0] = np.flatnonzero(first)[at[at >= 0]]
    return pos


def _changes(
    merged: pd.DataFrame, fields: list[str], hashed: list[str], profile: Profile, exists: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Differing cells → list of {field, before, after} per row; the remote hash of changed rows.

    Only rows that will be updated need a hash (the stale check of ``apply --plan``), so hashes
    are computed for those rows alone.
    """
    parts = []
    mask = exists.to_numpy()
    index = merged.index[mask]
    changed = np.zeros(len(index), dtype=bool)

    def column(name: str) -> pd.Series:  # one column of the existing rows (no frame subset)
        values = merged[name].to_numpy(dtype=object)[mask] if name in merged else None
        return pd.Series(values, index=index, dtype=object)

    for field in fields:
        if field not in merged:
            continue
        before, after = column(f"r.{field}"), column(field)
        differs = differs_mask(after, before, field, profile).to_numpy()
        if differs.any():
            changed |= differs
            parts.append(pd.DataFrame({
                "field": field,
                "before": before[differs].map(_plain),
                "after": after[differs].map(_plain),
            }, index=index[differs]))
    hashes = _hash_changed(merged, index[changed], hashed, profile)
    if not parts:
        return pd.Series(dtype=object), hashes
    long = pd.concat(parts)
    # each row's changes together, rows in order of first appearance, fields in compare order
    long = long.iloc[np.argsort(pd.factorize(long.index)[0], kind="stable")]
    records = pd.Series(long.to_dict("records"), index=long.index, dtype=object)
    return gather_lists(records), hashes


def _hash_changed(
    merged: pd.DataFrame, rows: pd.Index, hashed: list[str], profile: Profile
) -> pd.Series:
    """:func:`remote_hash` of the remote objects of ``rows`` (their ``r.`` columns)."""
    remote = pd.DataFrame(
        {f: merged.loc[rows, f"r.{f}"] if f"r.{f}" in merged else None for f in hashed},
        index=rows,
    )
    return _hash_frame(remote, hashed, profile)


def _hash_frame(remote: pd.DataFrame, fields: list[str], profile: Profile) -> pd.Series:
    text = pd.Series("", index=remote.index, dtype=object)
    for field in fields:
        text = text + field + "=" + canonical_series(remote[field], field, profile) + ";"
    return text.map(_short_hash)


def differs_mask(after: pd.Series, before: pd.Series, field: str, profile: Profile) -> pd.Series:
    """True where two aligned columns differ in canonical form (vectorised where possible).

    Cells equal as Python values (``==``, element by element in numpy) or both empty are equal
    in canonical form too, so only the remaining cells — a few percent on a converged tenant —
    go through the canonical comparison. ``True == 1`` in Python but not canonically, so the
    shortcut is not taken when one column holds booleans and the other does not.
    """
    a, b = after.to_numpy(dtype=object), before.to_numpy(dtype=object)
    candidates = a != b
    if candidates.any():
        candidates[candidates] = ~(pd.isna(a[candidates]) & pd.isna(b[candidates]))
    kinds = {pd.api.types.infer_dtype(a, skipna=True), pd.api.types.infer_dtype(b, skipna=True)}
    if kinds & _MAY_HOLD_BOOLS:
        # only cells equal to True/False (or 1/0) can be a boolean facing a number
        maybe = ~candidates & ((a == True) | (a == False))  # noqa: E712 - element-wise
        if maybe.any():
            candidates[maybe] = _is_bool(a[maybe]) != _is_bool(b[maybe])
    mask = np.zeros(len(a), dtype=bool)
    if candidates.any():
        mask[candidates] = _canonical_differs(
            after[candidates], before[candidates], field, profile
        ).to_numpy()
    return pd.Series(mask, index=after.index)


_MAY_HOLD_BOOLS = {"boolean", "mixed", "mixed-integer", "mixed-integer-float", "unknown-array"}


def _is_bool(values: np.ndarray) -> np.ndarray:
    return np.fromiter((v is True or v is False for v in values), dtype=bool, count=len(values))


def _canonical_differs(after: pd.Series, before: pd.Series, field: str, profile: Profile) -> pd.Series:
    as_set, deep, fold = _flags(field, profile)
    kinds = {pd.api.types.infer_dtype(after, skipna=True), pd.api.types.infer_dtype(before, skipna=True)}
    if kinds <= {"string", "empty"}:
        return _text_key(after, fold) != _text_key(before, fold)
    if not deep and kinds <= {"mixed", "empty"} and _text_lists(after) and _text_lists(before):
        return _lists_differ(after, before, as_set, fold)
    return canonical_series(after, field, profile) != canonical_series(before, field, profile)


def _text_key(series: pd.Series, fold: bool) -> pd.Series:
    text = series.astype(object).where(series.notna(), "").astype(str).str.strip()
    return text.str.lower() if fold else text


def _text_lists(series: pd.Series) -> bool:
    """Every non-null cell is a list whose items are text (or null)."""
    cells = series[series.notna()]
    if cells.empty:
        return True
    if not cells.map(lambda v: isinstance(v, list)).all():
        return False
    items = cells.explode()
    return pd.api.types.infer_dtype(items, skipna=True) in ("string", "empty")


def _exploded_text(series: pd.Series, fold: bool) -> pd.DataFrame:
    items = series.explode()
    items = items[items.notna()]
    text = items.astype(str).str.strip()
    if fold:
        text = text.str.lower()
    text = text[text != ""]
    return pd.DataFrame({"row": text.index, "v": text.to_numpy()})


def _lists_differ(after: pd.Series, before: pd.Series, as_set: bool, fold: bool) -> pd.Series:
    """Compare list cells by merging their exploded items (as sets, or position by position)."""
    a, b = _exploded_text(after, fold), _exploded_text(before, fold)
    on = ["row", "v"]
    if as_set:
        a, b = a.drop_duplicates(on), b.drop_duplicates(on)
    else:
        a["p"], b["p"] = a.groupby("row").cumcount(), b.groupby("row").cumcount()
        on.append("p")
    merged = a.merge(b, on=on, how="outer", indicator=True)
    bad = merged.loc[merged["_merge"] != "both", "row"].unique()
    return pd.Series(after.index.isin(bad), index=after.index)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """JSON-friendly value for reports (NaN → None, numpy → Python)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    return value

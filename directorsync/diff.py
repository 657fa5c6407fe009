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
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from directorsync.cells import cellwise, gather_lists, same_objects
from directorsync.profile.model import Profile
from directorsync.vocabulary import KEY, NODE, PLANNED, REASON, STATUS

#: ``changes`` of a row without any (one immutable value, shared: JSON ``[]``).
NO_CHANGES: tuple = ()
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
        members = [canonical(v, deep and as_set, deep, fold) for v in value]
        members = [i for i in members if i is not None]
        if as_set or isinstance(value, set):
            members = sorted({dump_value(i): i for i in members}.values(), key=dump_value)
        return members or None
    if hasattr(value, "item"):  # numpy scalars
        return canonical(value.item(), as_set, deep, fold)
    return value


def dump_value(value: Any) -> str:
    """A value's JSON text with sorted keys: the form values are compared and hashed in."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def compare_fields(profile: Profile) -> list[str]:
    """Fields the diff compares for a profile."""
    spec = profile.diff
    fields = spec.get("compare")
    if not fields:
        template = profile.payload.get("create") or {}
        fields = list(dict.fromkeys(_TEMPLATE_FIELD.findall(dump_value(template))))
    skip = set(spec.get("ignore_fields") or []) | set(spec.get("write_only") or [])
    skip |= {profile.id_field}
    return [f for f in fields if f not in skip]


def remote_columns(profile: Profile) -> list[str]:
    """The columns of a resource's listing that its diff reads (id, key, compared fields)."""
    return list(dict.fromkeys([profile.id_field, *profile.remote_key, *compare_fields(profile)]))


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
    values = series.to_numpy(dtype=object)
    shared = same_objects(values)  # a listing's repeated cells: one canonical text each
    if shared is not None:
        codes, objects = shared
        texts = _canonical_texts(objects, field, profile)[codes]
        return pd.Series(texts, index=series.index, dtype=object)
    return pd.Series(_canonical_texts(values, field, profile), index=series.index, dtype=object)


def _canonical_texts(values: np.ndarray, field: str, profile: Profile) -> np.ndarray:
    as_set, deep, fold = _flags(field, profile)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        text = _TEXT_JSON[fold](values)
    elif kind == "mixed" and not deep:
        text = cellwise(lambda v: _fast_list(v, as_set, fold))(values)
    else:
        text = cellwise(lambda v: dump_value(canonical(v, as_set, deep, fold)))(values)
    return np.asarray(text, dtype=object)


_ESCAPES = r'["\\\x00-\x1f]'
_NEEDS_ESCAPE = re.compile(_ESCAPES)
_CONTROL = re.compile(r"[\\\x00-\x1f]")


def _text_json(value: Any, fold: bool) -> str:
    """Canonical JSON text of a text cell (str, or a null of any kind)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return "null"
    text = value.strip()
    if fold:
        text = text.lower()
    if not text:
        return "null"
    if _NEEDS_ESCAPE.search(text):
        return json.dumps(text, ensure_ascii=False)
    return '"' + text + '"'


#: ``_TEXT_JSON[fold](values)``: :func:`_text_json` over an object array.
_TEXT_JSON = {fold: cellwise(partial(_text_json, fold=fold)) for fold in (False, True)}


def _fast_list(value: Any, as_set: bool, fold: bool) -> str:
    """Canonical text of a list of plain strings without the general recursion."""
    if not isinstance(value, list):
        return dump_value(canonical(value, as_set, False, fold))
    items = []
    for item in value:
        if isinstance(item, str):
            text = item.strip().lower() if fold else item.strip()
            if text:
                items.append(text)
        elif item is None or (isinstance(item, float) and item != item):
            continue
        else:
            return dump_value(canonical(value, as_set, False, fold))
    if not items:
        return "null"
    joined = '", "'.join(items)
    if joined.count('"') != 2 * (len(items) - 1) or _CONTROL.search(joined):
        return dump_value(canonical(value, as_set, False, fold))  # text needing JSON escapes
    if as_set:
        items = sorted(set(items), key=lambda t: t + '"')  # the order of their JSON text
        joined = '", "'.join(items)
    return '["' + joined + '"]'


def key_series(frame: pd.DataFrame, fields: list[str]) -> pd.Series:
    """The natural key as one text column (composite keys joined with ``/``)."""
    parts = [_key_text(frame[f]) for f in fields]
    key = parts[0]
    for part in parts[1:]:
        key = key + "/" + part
    return pd.Series(key, index=frame.index, dtype=object)


def _key_text(column: pd.Series) -> np.ndarray:
    """A key column as text: nulls become ``""`` (text columns are taken as they are)."""
    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values  # texts only: no null to look for
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        nulls = pd.isna(values)
        if nulls.any():
            values = values.copy()
            values[nulls] = ""
        return values
    return _KEY_TEXT(values)


_KEY_TEXT = cellwise(lambda v: "" if v is None or v is pd.NA or v != v else str(v))


def remote_hash(remote: pd.DataFrame, profile: Profile) -> pd.Series:
    """A short hash of each remote object's compared fields (stale-plan detection)."""
    fields = [f for f in compare_fields(profile) if f in remote]
    if remote.empty:
        return pd.Series(dtype=object)
    return _hash_frame(remote, fields, profile)


#: The remote side of a diff: the listing of every target node, or the listing of one node by id.
Remote = pd.DataFrame | Callable[[str], pd.DataFrame]


def diff_frame(desired: pd.DataFrame, remote: Remote, profile: Profile) -> pd.DataFrame:
    """Compute actions and changes.

    Node by node, desired rows are matched to the node's objects on the natural key; each
    compared field is then compared as two aligned columns over the rows that exist on both
    sides. Given a function, the listing of each node is asked for only when that node's rows
    are diffed (the next node's listing may still be decoding meanwhile).

    Args:
        desired: one row per (node, object), with ``_node_id``, ``_status``, ``_reason``.
        remote: the inventory of the target nodes (``_node_id`` column), write shape; or a
            function of a node id giving that node's inventory.
        profile: the resource's profile (natural key, compared fields, diff options).

    Returns:
        ``desired`` plus ``action``, ``reason``, ``changes``, ``remote_id``, ``remote_hash``.
    """
    out = desired.copy(deep=False)
    out[KEY] = key_series(out, profile.natural_key)
    n = len(out)
    nodes, keys = out[NODE].to_numpy(dtype=object), out[KEY].to_numpy(dtype=object)
    status = out[STATUS].to_numpy(dtype=object) if STATUS in out else np.full(n, "ok")
    listing = remote if callable(remote) else _node_listings(remote)
    remote_id, hashes = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    found = []
    for node in pd.unique(nodes):
        rows = np.flatnonzero(nodes == node)
        frame = listing(node)
        if PLANNED in frame:
            frame = frame[~frame[PLANNED].fillna(False).astype(bool).to_numpy()]
        pos = _positions(keys[rows], key_series(frame, profile.remote_key).to_numpy(dtype=object))
        remote_id[rows] = _take(frame, profile.id_field, pos)
        compared = pd.notna(remote_id[rows]) & (status[rows] != "skip") & (status[rows] != "error")
        absent = set(profile.diff.get("write_only_if_absent") or []) - set(frame.columns)
        fields = [f for f in compare_fields(profile) if f not in absent and f in out]
        changes = _changes(out, frame, rows[compared], pos[compared], fields, profile)
        if len(changes):
            updated = changes.index.to_numpy(dtype=np.int64)
            at = pos[np.searchsorted(rows, updated)]
            hashed = [f for f in compare_fields(profile) if f in frame]
            values = {f: frame[f].to_numpy(dtype=object)[at] for f in hashed}
            compared_remote = pd.DataFrame(values, index=pd.RangeIndex(len(at)), dtype=object)
            hashes[updated] = _hash_frame(compared_remote, hashed, profile)
            found.append(changes)
    changes = pd.concat(found) if found else pd.Series(dtype=object)
    updated = changes.index.to_numpy(dtype=np.int64)
    exists = pd.notna(remote_id)
    action = np.full(n, "create", dtype=object)
    action[exists] = "unchanged"
    action[updated] = "update"
    action[status == "skip"] = "skip"
    action[status == "error"] = "error"
    reason = out[REASON].to_numpy(dtype=object).copy() if REASON in out else np.full(n, None)
    reason[action == "create"] = "not on node"
    reason[action == "unchanged"] = None
    reason[updated] = ["differs: " + ", ".join(ch["field"] for ch in c) for c in changes.to_numpy()]
    cells = np.empty(n, dtype=object)
    cells[:] = [NO_CHANGES] * n
    cells[updated] = changes.to_numpy()
    out["remote_id"] = pd.Series(remote_id, index=out.index, dtype=object)
    out["remote_hash"] = pd.Series(hashes, index=out.index, dtype=object)
    out["action"] = pd.Series(action, index=out.index, dtype=object)
    out["reason"] = pd.Series(reason, index=out.index, dtype=object)
    out["changes"] = pd.Series(cells, index=out.index, dtype=object)
    return out


def _node_listings(remote: pd.DataFrame) -> Callable[[str], pd.DataFrame]:
    """The listing of each node of a frame holding several (``_node_id`` column)."""
    nodes = remote[NODE].to_numpy(dtype=object) if NODE in remote else np.array([], dtype=object)
    return lambda node: remote[nodes == node]


def _take(frame: pd.DataFrame, column: str, pos: np.ndarray) -> np.ndarray:
    """``frame[column]`` at positions ``pos`` (None where ``pos`` is -1 or the column is absent)."""
    out = np.full(len(pos), None, dtype=object)
    if column in frame:
        found = pos >= 0
        out[found] = frame[column].to_numpy(dtype=object)[pos[found]]
    return out


def _positions(keys: np.ndarray, remote_keys: np.ndarray) -> np.ndarray:
    """For each key, the position of the first remote object with that key; -1 if none."""
    if not len(remote_keys):
        return np.full(len(keys), -1, dtype=np.int64)
    index = pd.Index(remote_keys, dtype=object)
    candidates = np.arange(len(remote_keys))
    if not index.is_unique:  # the first object of a duplicated key is the one compared
        first = ~index.duplicated(keep="first")
        candidates, index = candidates[first], index[first]
    at = index.get_indexer(pd.Index(keys, dtype=object))  # not inferred as str: no copy
    return np.where(at >= 0, candidates[at], -1)


def _changes(
    out: pd.DataFrame,
    remote: pd.DataFrame,
    rows: np.ndarray,
    at: np.ndarray,
    fields: list[str],
    profile: Profile,
) -> pd.Series:
    """Differing fields of the desired rows ``rows`` against the remote rows ``at``.

    Returns:
        For each row with a difference (index = row position), its ``{field, before, after}``
        list in compare order.
    """
    found_rows, found_fields, befores, afters = [], [], [], []
    for field in fields:
        after = out[field].to_numpy(dtype=object)[rows]
        if field in remote:
            before = remote[field].to_numpy(dtype=object)[at]
        else:
            before = np.full(len(rows), None, dtype=object)
        differs = _differs(after, before, field, profile)
        if differs.any():
            found_rows.append(rows[differs])
            found_fields.append(np.full(int(differs.sum()), field, dtype=object))
            befores.append(before[differs])
            afters.append(after[differs])
    if not found_rows:
        return pd.Series(dtype=object, index=pd.Index([], dtype=np.int64))
    row = np.concatenate(found_rows)
    order = np.argsort(row, kind="stable")  # each row's changes together, in compare order
    records = pd.Series(
        [
            {"field": f, "before": _plain(b), "after": _plain(a)}
            for f, b, a in zip(
                np.concatenate(found_fields)[order],
                np.concatenate(befores)[order],
                np.concatenate(afters)[order],
            )
        ],
        index=row[order],
        dtype=object,
    )
    return gather_lists(records)


def _hash_frame(remote: pd.DataFrame, fields: list[str], profile: Profile) -> pd.Series:
    text = np.full(len(remote), "", dtype=object)
    for field in fields:
        text = (
            text + (field + "=") + canonical_series(remote[field], field, profile).to_numpy() + ";"
        )
    return pd.Series(_SHORT_HASH(text), index=remote.index, dtype=object)


def differs_mask(after: pd.Series, before: pd.Series, field: str, profile: Profile) -> pd.Series:
    """True where two aligned columns differ in canonical form (see :func:`_differs`)."""
    differs = _differs(after.to_numpy(dtype=object), before.to_numpy(dtype=object), field, profile)
    return pd.Series(differs, index=after.index)


def _differs(a: np.ndarray, b: np.ndarray, field: str, profile: Profile) -> np.ndarray:
    """True where two aligned object arrays differ in canonical form (vectorised where possible).

    Cells equal as Python values (``==``, element by element in numpy) or both empty are equal
    in canonical form too, so only the remaining cells — a few percent on a converged tenant —
    go through the canonical comparison. ``True == 1`` in Python but not canonically, so the
    shortcut is not taken when one column holds booleans and the other does not.
    """
    candidates = np.asarray(a != b, dtype=bool)
    if candidates.any():
        candidates[candidates] = ~(pd.isna(a[candidates]) & pd.isna(b[candidates]))
    kind = pd.api.types.infer_dtype(a, skipna=True)
    # text equals nothing but text: cells equal to a text cell need no boolean check
    kinds = (
        {kind} if kind in ("string", "empty") else {kind, pd.api.types.infer_dtype(b, skipna=True)}
    )
    if kinds & _MAY_HOLD_BOOLS:
        # only cells equal to True/False (or 1/0) can be a boolean facing a number
        maybe = ~candidates & ((a == True) | (a == False))  # noqa: E712 - element-wise
        if maybe.any():
            candidates[maybe] = _is_bool(a[maybe]) != _is_bool(b[maybe])
    mask = np.zeros(len(a), dtype=bool)
    if candidates.any():
        mask[candidates] = _canonical_differs(
            pd.Series(a[candidates], dtype=object),
            pd.Series(b[candidates], dtype=object),
            field,
            profile,
        ).to_numpy()
    return mask


_MAY_HOLD_BOOLS = {"boolean", "mixed", "mixed-integer", "mixed-integer-float", "unknown-array"}


def _is_bool(values: np.ndarray) -> np.ndarray:
    return np.fromiter((v is True or v is False for v in values), dtype=bool, count=len(values))


def _canonical_differs(
    after: pd.Series, before: pd.Series, field: str, profile: Profile
) -> pd.Series:
    as_set, deep, fold = _flags(field, profile)
    a, b = after.to_numpy(dtype=object), before.to_numpy(dtype=object)
    kinds = {pd.api.types.infer_dtype(a, skipna=True), pd.api.types.infer_dtype(b, skipna=True)}
    if kinds <= {"string", "empty"}:
        key = _TEXT_KEY[fold]
        return pd.Series(key(a) != key(b), index=after.index)
    if not deep and kinds <= {"mixed", "empty"}:
        key = _LIST_KEY[(as_set, fold)]
        ka, kb = key(a), key(b)
        if not (_is_other(ka).any() or _is_other(kb).any()):
            return pd.Series(ka != kb, index=after.index)
    return canonical_series(after, field, profile) != canonical_series(before, field, profile)


def _text_key(value: Any, fold: bool) -> str:
    """A text cell as compared: trimmed (and folded); nulls and blanks as ``""``."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    text = value.strip()
    return text.lower() if fold else text


_TEXT_KEY = {fold: cellwise(partial(_text_key, fold=fold)) for fold in (False, True)}
_OTHER = object()  # a cell that is not a list of text


def _list_key(value: Any, as_set: bool, fold: bool) -> Any:
    """A list-of-text cell as compared: its trimmed non-empty items, as a set or in order."""
    if value is None or (isinstance(value, float) and value != value):
        items: list[str] = []
    elif type(value) is not list:
        return _OTHER
    else:
        items = []
        for item in value:
            if type(item) is str:
                text = item.strip()
                if text:
                    items.append(text.lower() if fold else text)
            elif not (item is None or (isinstance(item, float) and item != item)):
                return _OTHER
    return frozenset(items) if as_set else tuple(items)


_LIST_KEY = {
    (as_set, fold): cellwise(partial(_list_key, as_set=as_set, fold=fold))
    for as_set in (False, True)
    for fold in (False, True)
}
_is_other = cellwise(lambda key: key is _OTHER)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_SHORT_HASH = cellwise(_short_hash)


def _plain(value: Any) -> Any:
    """JSON-friendly value for reports (NaN → None, numpy → Python)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    return value

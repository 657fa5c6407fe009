"""Three-way drift: the workbook, Director and the last state DirectorSync applied.

A plan compares two sides (workbook → Director). With the last-applied state of the ledger
(:mod:`directorsync.lastapplied`) each differing field gets a class:

- ``workbook_changed``: workbook ≠ last applied, Director = last applied → an apply pushes it
  (also a row new in the workbook);
- ``director_changed``: Director ≠ last applied, workbook = last applied → changed by hand since
  the last apply;
- ``conflict``: all three differ;
- ``unmanaged``: an object on Director that is not in the workbook and was never applied by us;
- ``removed``: an object we applied that is gone from Director (an apply creates it again).

Without any state for the tenant the classes fall back to a two-way diff (every difference is
``workbook_changed``, every object only on Director ``unmanaged``) and the report says so. An
object in the state that the workbook no longer has, still on Director, is not drift
(DirectorSync never deletes).

:func:`classify_plan` writes the classes into a plan (``drift`` of each changed row and of each
of its ``changes``); :func:`drift_report` adds the objects that are not plan rows (unmanaged,
removed) and counts them; :func:`on_drift` decides what an apply sends.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from directorsync.diff import canonical, dump_value, key_series, remote_columns
from directorsync.errors import DirectorSyncError
from directorsync.inventory import Inventory
from directorsync.lastapplied import State
from directorsync.plan import Plan
from directorsync.profile.model import Profile
from directorsync.tenants import Tenant
from directorsync.vocabulary import (
    CONFLICT,
    DIRECTOR_CHANGED,
    DRIFT_CLASSES,
    DRIFT_SCHEMA,
    PLANNED,
    REMOVED,
    UNMANAGED,
    WORKBOOK_CHANGED,
)

#: a row's class when its fields differ in class: the most serious one
_RANK = {CONFLICT: 0, DIRECTOR_CHANGED: 1, REMOVED: 2, WORKBOOK_CHANGED: 3, UNMANAGED: 4}
#: rows ``apply --on-drift keep`` leaves alone, ``fail`` refuses (never applied without revert)
ON_DIRECTOR = (DIRECTOR_CHANGED, CONFLICT)
TWO_WAY = (
    "no earlier apply of this tenant in the ledger: two-way diff (workbook against Director); "
    "every difference is shown as workbook_changed"
)


class DriftError(DirectorSyncError):
    """``apply --on-drift fail`` found rows changed on Director since the last apply."""

    exit_code = 1


def _flags(field: str, profile: Profile) -> tuple[bool, bool, bool]:
    spec = profile.diff
    deep = field in (spec.get("deep_sets") or [])
    as_set = deep or field in (spec.get("list_as_sets") or [])
    return as_set, deep, field in (spec.get("case_insensitive") or [])


def _text(value: Any, field: str, profile: Profile) -> str:
    """A value's canonical JSON text (as the diff compares it)."""
    return dump_value(canonical(value, *_flags(field, profile)))


def classify_field(workbook: Any, director: Any, last: Any, field: str, profile: Profile) -> str:
    """The class of one differing field (``last``: canonical, None when never applied)."""
    d, r = _text(workbook, field, profile), _text(director, field, profile)
    lt = dump_value(canonical(last))
    if r == lt:
        return WORKBOOK_CHANGED
    if d == lt:
        return DIRECTOR_CHANGED
    return CONFLICT


def classify_plan(plan: Plan, state: State | None, profiles: Mapping[str, Profile]) -> str:
    """Write the drift class of each changed row (and of each of its changes) into the plan.

    Returns:
        ``three_way`` or ``two_way`` (``state`` empty or None: no earlier apply).
    """
    mode = "three_way" if state else "two_way"
    rows = plan.rows
    if rows.empty:
        return mode
    drift = np.full(len(rows), None, dtype=object)
    actions = rows["action"].to_numpy(dtype=object)
    changed = np.flatnonzero((actions == "create") | (actions == "update"))
    columns = {c: rows[c].to_numpy(dtype=object) for c in ("resource", "node_id", "key", "changes")}
    new_changes = rows["changes"].to_numpy(dtype=object).copy()
    for i in changed.tolist():
        object_key = (columns["node_id"][i], columns["resource"][i], str(columns["key"][i]))
        last = state.get(object_key) if state else None
        if actions[i] == "create":
            drift[i] = REMOVED if last is not None else WORKBOOK_CHANGED
            continue
        profile = profiles.get(columns["resource"][i])
        marked = []
        for change in columns["changes"][i] or ():
            if not state or profile is None:
                cls = WORKBOOK_CHANGED
            else:
                cls = classify_field(
                    change.get("after"),
                    change.get("before"),
                    (last or {}).get("fields", {}).get(change["field"]),
                    change["field"],
                    profile,
                )
            marked.append({**change, "drift": cls})
        new_changes[i] = marked
        classes = [m["drift"] for m in marked] or [WORKBOOK_CHANGED]
        drift[i] = min(classes, key=_RANK.__getitem__)
    rows["changes"] = pd.Series(new_changes, index=rows.index, dtype=object)
    rows["drift"] = pd.Series(drift, index=rows.index, dtype=object)
    return mode


def drift_report(
    plan: Plan,
    state: State | None,
    tenant: Tenant,
    inventory: Inventory,
    profiles: Mapping[str, Profile],
    builtin: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """The ``directorsync/drift@1`` value of a classified plan (see :func:`classify_plan`).

    One item per differing field of a changed row; one per object for rows new in the
    workbook, unmanaged and removed objects. ``counts``: items per class (every class present).
    ``builtin``: per resource, names (fnmatch patterns) of objects Director ships, never
    reported as unmanaged (``drift.builtin``).
    """
    started = time.perf_counter()
    mode = "three_way" if state else "two_way"
    items: list[dict[str, Any]] = []
    rows = plan.rows
    names = {n.id: n.name for n in tenant.nodes}
    planned: dict[tuple[str, str], set[str]] = {}
    for row in rows.to_dict("records") if len(rows) else []:
        planned.setdefault((row["resource"], row["node_id"]), set()).add(str(row["key"]))
        if row["action"] not in ("create", "update") or not isinstance(row.get("drift"), str):
            continue
        source = row.get("source") if isinstance(row.get("source"), str) else None
        base = _item(row["resource"], row["node_id"], names, row["key"], source)
        if row["action"] == "create":
            last = (state or {}).get((row["node_id"], row["resource"], str(row["key"])))
            why = "applied before, gone from Director" if last else "not on Director yet"
            items.append({**base, "class": row["drift"], "field": None, "note": why})
            continue
        for change in row["changes"] or ():
            last = (state or {}).get((row["node_id"], row["resource"], str(row["key"])))
            items.append(
                {
                    **base,
                    "class": change.get("drift") or WORKBOOK_CHANGED,
                    "field": change["field"],
                    "workbook": change.get("after"),
                    "director": change.get("before"),
                    "last_applied": (last or {}).get("fields", {}).get(change["field"])
                    if last
                    else None,
                }
            )
    applied: dict[tuple[str, str], list[str]] = {}
    for node_id, resource, key in state or {}:
        applied.setdefault((resource, node_id), []).append(key)
    for resource in plan.resources:
        profile = profiles.get(resource)
        if profile is None:
            continue
        nodes = [
            n for n in tenant.nodes_for(resource, profile.targets) if (resource, n.id) in planned
        ]
        for node in nodes:
            keys = planned[(resource, node.id)]
            listing = inventory.frame(resource, node, remote_columns(profile))
            on_director = _listed_keys(listing, profile)
            shipped = (builtin or {}).get(resource) or []
            for key in sorted(set(on_director) - keys):
                if any(fnmatchcase(key, p) for p in shipped):
                    continue
                if (node.id, resource, key) not in (state or {}):
                    items.append(
                        {
                            **_item(resource, node.id, names, key, None),
                            "class": UNMANAGED,
                            "field": None,
                            "note": "on Director, not in the workbook, never applied",
                        }
                    )
            for key in sorted(applied.get((resource, node.id), [])):
                if key not in keys and key not in on_director:
                    items.append(
                        {
                            **_item(resource, node.id, names, key, None),
                            "class": REMOVED,
                            "field": None,
                            "note": "applied before, gone from Director (and the workbook)",
                        }
                    )
    counts = Counter(i["class"] for i in items)
    by_resource: dict[str, dict[str, int]] = {}
    for item in items:
        cell = by_resource.setdefault(item["resource"], dict.fromkeys(DRIFT_CLASSES, 0))
        cell[item["class"]] += 1
    last_run = max((s.get("applied_at") or "" for s in (state or {}).values()), default=None)
    return {
        "schema": DRIFT_SCHEMA,
        "tenant": plan.tenant,
        "workbook": plan.workbook,
        "mode": mode,
        "message": TWO_WAY if mode == "two_way" else "three-way diff against the last apply",
        "last_applied_at": last_run or None,
        "resources": list(plan.resources),
        "counts": {c: int(counts.get(c, 0)) for c in DRIFT_CLASSES},
        "total": len(items),
        "by_resource": by_resource,
        "items": items,
        "notes": [n for n in plan.notes if n.get("level") == "error"],
        "seconds": round(time.perf_counter() - started, 3),
    }


def _item(resource: str, node_id: str, names: dict, key: Any, source: Any) -> dict[str, Any]:
    return {
        "resource": resource,
        "node": names.get(node_id, node_id),
        "node_id": node_id,
        "key": str(key),
        "source": source,
    }


def _listed_keys(frame: pd.DataFrame, profile: Profile) -> set[str]:
    if frame.empty or not all(k in frame for k in profile.remote_key):
        return set()
    if PLANNED in frame:
        frame = frame[~frame[PLANNED].fillna(False).astype(bool).to_numpy()]
    return set(key_series(frame, profile.remote_key).tolist())


def on_drift(
    plan: Plan, mode: str, selection: list[int] | None
) -> tuple[list[int] | None, list[int]]:
    """What an apply sends under ``--on-drift``: ``(selection, rows kept as Director has them)``.

    - ``revert``: every changed row (Director's changes are overwritten);
    - ``keep``: rows changed on Director (``director_changed``, ``conflict``) are not sent;
    - ``fail``: refused while such rows exist.

    Raises:
        DriftError: ``fail`` and rows changed on Director.
    """
    if mode == "revert" or plan.rows.empty:
        return selection, []
    drift = plan.rows["drift"].to_numpy(dtype=object)
    actions = plan.rows["action"].to_numpy(dtype=object)
    changed = (actions == "create") | (actions == "update")
    held = np.flatnonzero(changed & np.isin(drift, ON_DIRECTOR)).tolist()
    if not held:
        return selection, []
    if mode == "fail":
        resources, keys = plan.rows["resource"].to_numpy(), plan.rows["key"].to_numpy()
        shown = ", ".join(f"{resources[i]!s} '{keys[i]!s}' ({drift[i]!s})" for i in held[:5])
        more = f" and {len(held) - 5} more" if len(held) > 5 else ""
        raise DriftError(
            f"--on-drift fail: {len(held)} row(s) changed on Director since the last apply: "
            f"{shown}{more}; nothing was applied. Adopt them (`directorsync drift --adopt`), "
            "or apply with --on-drift revert or keep"
        )
    base = np.flatnonzero(changed).tolist() if selection is None else selection
    skip = set(held)
    return [i for i in base if i not in skip], held


def adoptable(plan: Plan) -> list[dict[str, Any]]:
    """The fields changed on Director (``director_changed``) of a classified plan.

    For ``--adopt``: ``resource``, ``node_id``, ``node``, ``key``, ``field``, ``director`` (the
    value to adopt, write shape), ``workbook``, ``sheet``, ``excel_rows``, ``source``. An object
    on several nodes appears once: the first node's value is the one a workbook row can hold.
    """
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    if plan.rows.empty:
        return out
    for row in plan.rows[plan.rows["action"] == "update"].to_dict("records"):
        for change in row["changes"] or ():
            if change.get("drift") != DIRECTOR_CHANGED:
                continue
            where = (row["resource"], str(row["key"]), change["field"])
            if where in seen:
                continue
            seen.add(where)
            out.append(
                {
                    "resource": row["resource"],
                    "node_id": row["node_id"],
                    "node": row.get("node_name"),
                    "key": str(row["key"]),
                    "field": change["field"],
                    "director": change.get("before"),
                    "workbook": change.get("after"),
                    "sheet": row.get("sheet"),
                    "excel_rows": list(row.get("excel_rows") or []),
                    "source": row.get("source"),
                }
            )
    return out


def adopt_cells(
    plan: Plan,
    profiles: Mapping[str, Profile],
    frames: Callable[[str, str], pd.DataFrame | None],
    headers: Callable[[str], list[str]],
) -> tuple[list[tuple[str, int, str, Any]], list[str]]:
    """The cells ``--adopt`` writes: ``(sheet, excel_row, column, cell value)``, and notes.

    Each ``director_changed`` field (:func:`adoptable`) is read back into every sheet column
    it comes from (:func:`directorsync.reverse.column_rules`: ``hiddenrepopath`` → storage paths
    and retentions), ids turned back into names with the node's listings (``frames(source,
    node_id)``). ``headers(sheet)`` gives the sheet's header row, so that a column written
    under an alias is found. Fields that cannot be written back (no column, a row aggregated
    from several sheet rows) are named in the notes.
    """
    from directorsync.reverse import column_rules, lookup_tables, read_back

    cells: list[tuple[str, int, str, Any]] = []
    notes: list[str] = []
    for change in adoptable(plan):
        profile = profiles[change["resource"]]
        rules = [r for r in column_rules(profile) if r.source == change["field"] and not r.rows]
        rows = change["excel_rows"]
        what = f"{change['resource']} '{change['key']}' {change['field']}"
        if not rules or len(rows) != 1 or not isinstance(change["sheet"], str):
            notes.append(f"{what}: not written back (no single sheet row and column holds it)")
            continue
        tables = lookup_tables(profile, partial(_on_node, frames, change["node_id"]))
        present = {h.strip().casefold(): h for h in headers(change["sheet"])}
        aliases = profile.xlsx.get("aliases") or {}
        for rule in rules:
            names = [rule.column, *(aliases.get(rule.column) or [])]
            header = next((present[n.casefold()] for n in names if n.casefold() in present), None)
            if header is None:
                notes.append(f"{what}: the sheet has no column {rule.column}")
                continue
            cells.append(
                (change["sheet"], int(rows[0]), header, read_back(rule, change["director"], tables))
            )
    return cells, notes


def _on_node(
    frames: Callable[[str, str], pd.DataFrame | None], node_id: str, source: str
) -> pd.DataFrame | None:
    return frames(source, node_id)


KEPT_REASON = "kept: changed on Director since the last apply (--on-drift keep)"


def mark_kept(result: dict[str, Any], held: list[int]) -> None:
    """The rows ``--on-drift keep`` did not send: SKIP with the reason."""
    rows = result.get("rows") or []
    for i in held:
        if i < len(rows) and rows[i].get("status") == "SKIP":
            rows[i]["reason"] = KEPT_REASON

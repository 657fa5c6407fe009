"""Rollback: a plan that puts Director back as it was before a run (docs/lifecycle.md).

From the run's ``result.json`` and its pre-images in the ledger:

- an UPDATED row → ``update`` back to its pre-image (the fields of the profile's update body);
- a DELETED row → ``create`` from its pre-image (the fields of the create body); an id of another
  object this plan re-creates becomes a ``$ref:`` to it, so the new id is used;
- a CREATED row → ``delete`` of the object (its id listed now).

Rows whose object changed again since the run are **stale**: ``skip`` with the reason, never
overwritten (an update whose fields no longer hold what the run wrote, a re-create whose name
exists again, a delete of an object gone or changed). The plan is a plan like any other: printed,
saved, reviewed, applied with ``apply --plan`` (whose stale check runs again just before).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from directorsync.diff import key_series, remote_hash
from directorsync.errors import LedgerError
from directorsync.inventory import Inventory
from directorsync.ledger.database import Ledger
from directorsync.ownership import run_pre_images
from directorsync.plan import Plan
from directorsync.preimage import as_objects
from directorsync.profile.model import Profile, dependency_order
from directorsync.tenants import Node, Tenant
from directorsync.vocabulary import FINDING_COLUMNS, PLAN_COLUMNS, PLANNED, REF_PREFIX

#: a run's writes that a rollback undoes
UNDO = {"CREATED": "delete", "UPDATED": "update", "DELETED": "create"}


def run_rows(ledger: Ledger, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run record and the rows of its ``result.json`` that wrote.

    Raises:
        LedgerError: the run is unknown, or its result file is gone.
    """
    run = ledger.get_run(run_id)
    path = (run.get("artifacts") or {}).get("result")
    if not path or not Path(path).is_file():
        raise LedgerError(f"run {run_id} has no result file to roll back ({path or 'none'})")
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    return run, [r for r in result.get("rows") or [] if r.get("status") in UNDO]


def rollback_plan(
    ledger: Ledger,
    run_id: str,
    tenant: Tenant,
    inventory: Inventory,
    profiles: Mapping[str, Profile],
    rows: list[dict[str, Any]] | None = None,
) -> Plan:
    """The plan that undoes run ``run_id`` on ``tenant`` (see the module docstring).

    ``rows``: the run's result rows (default: read from its ``result.json``).
    """
    if rows is None:
        _, rows = run_rows(ledger, run_id)
    rows = [r for r in rows if r.get("status") in UNDO]
    before = {
        (p["node_id"], p["resource"], p["key"]): p["before"] for p in run_pre_images(ledger, run_id)
    }
    nodes = {n.id: n for n in tenant.nodes}
    involved = {r["resource"] for r in rows if r["resource"] in profiles}
    order = dependency_order({k: profiles[k] for k in involved})
    listings: dict[tuple[str, str], pd.DataFrame] = {}
    recreated = {
        str((before.get(_ok(r)) or r.get("before") or {}).get(profiles[r["resource"]].id_field)): r
        for r in rows
        if r["status"] == "DELETED" and r["resource"] in profiles
    }
    out = []
    for row in rows:
        if row["resource"] not in profiles or row["node_id"] not in nodes:
            continue
        profile, node = profiles[row["resource"]], nodes[row["node_id"]]
        frame = _listing(inventory, profile, node, listings)
        current = _current(frame, profile, str(row["key"]))
        image = before.get(_ok(row), row.get("before"))
        out.append(_undo(row, profile, node, current, image, recreated, run_id))
    plan_rows = pd.DataFrame(out, columns=PLAN_COLUMNS)
    return Plan(
        tenant=tenant.name,
        pool_uuid=tenant.pool_uuid,
        workbook=f"rollback of run {run_id}",
        resources=order,
        rows=plan_rows,
        findings=pd.DataFrame(columns=[*FINDING_COLUMNS, "node"]),
        notes=[
            {
                "resource": "*",
                "level": "info",
                "message": f"rollback of run {run_id}: {len(out)} row(s) it wrote, undone in "
                "dependency order (stale rows skipped)",
            }
        ],
    )


def _ok(row: Mapping[str, Any]) -> tuple[str, str, str]:
    return (row["node_id"], row["resource"], str(row["key"]))


def _listing(
    inventory: Inventory, profile: Profile, node: Node, cache: dict[tuple[str, str], pd.DataFrame]
) -> pd.DataFrame:
    key = (profile.name, node.id)
    if key not in cache:
        frame = inventory.refresh(profile.name, node)
        if PLANNED in frame:
            frame = frame[~frame[PLANNED].fillna(False).astype(bool)]
        cache[key] = frame.reset_index(drop=True)
    return cache[key]


def _current(frame: pd.DataFrame, profile: Profile, key: str) -> tuple[dict, str | None] | None:
    """The object with natural key ``key`` as listed now, and its hash (None: absent)."""
    if frame.empty:
        return None
    match = frame[key_series(frame, profile.remote_key) == key].head(1)
    if match.empty:
        return None
    return as_objects(match)[0], remote_hash(match, profile).iloc[0]


def _undo(
    row: Mapping[str, Any],
    profile: Profile,
    node: Node,
    current: tuple[dict, str | None] | None,
    image: Mapping[str, Any] | None,
    recreated: Mapping[str, Mapping[str, Any]],
    run_id: str,
) -> dict[str, Any]:
    """One plan row undoing one written row (or ``skip`` when stale)."""
    action = UNDO[row["status"]]
    obj, now_hash = current if current else ({}, None)
    oid = obj.get(profile.id_field)
    out: dict[str, Any] = {
        "resource": row["resource"],
        "node_id": node.id,
        "node_name": node.name,
        "key": str(row["key"]),
        "action": action,
        "reason": f"rollback of run {run_id}",
        "changes": None,
        "payload": {},
        "method": {"create": "POST", "update": "PUT", "delete": "DELETE"}[action],
        "path": None,
        "remote_id": None if oid is None else str(oid),
        "remote_hash": now_hash,
        "depends_on": [],
        "sheet": None,
        "excel_rows": [],
        "source": None,
    }
    stale = _stale(row, action, obj, image)
    if stale:
        return {**out, "action": "skip", "reason": f"stale: {stale} since run {run_id}"}
    endpoint = profile.endpoint
    if action == "delete":
        out["path"] = (endpoint.get("update") or "").replace("{id}", str(oid))
        return out
    assert image is not None  # _stale says so otherwise
    template = profile.update_template if action == "update" else profile.payload.get("create")
    payload = {k: image[k] for k in template or {} if k in image and image[k] is not None}
    if action == "update":
        payload[profile.id_field] = str(oid)
        out["path"] = (endpoint.get("update") or "").replace("{id}", str(oid))
        out["changes"] = [
            {"field": k, "before": obj.get(k), "after": v}
            for k, v in payload.items()
            if obj.get(k) != v
        ]
    else:
        payload.pop(profile.id_field, None)
        out["path"] = endpoint.get("create") or endpoint.get("list")
    deps: list[str] = []
    out["payload"] = _refs(payload, recreated, row, deps)
    out["depends_on"] = deps
    return out


def _stale(
    row: Mapping[str, Any], action: str, obj: Mapping[str, Any], image: Mapping[str, Any] | None
) -> str | None:
    """Why the row must not be undone (the object changed again), or None."""
    if action == "create":
        if image is None:
            return "no pre-image was recorded"
        return "an object with this name exists again" if obj else None
    if not obj:
        return "the object is gone"
    sent = row.get("payload") or {}
    changed = [
        k for k, v in sent.items() if _compared(v) and k in obj and _text(obj[k]) != _text(v)
    ]
    if changed:
        return f"changed again ({', '.join(sorted(changed)[:5])})"
    if action == "update" and image is None:
        return "no pre-image was recorded"
    return None


def _compared(value: Any) -> bool:
    """Values the run sent that are compared with the object now (not ``$ref:`` ids)."""
    return value is not None and REF_PREFIX not in json.dumps(value, default=str)


def _text(value: Any) -> str:
    """A value as canonical text: keys sorted, lists as sets (their order is Director's)."""
    if isinstance(value, dict):
        return json.dumps({k: _text(v) for k, v in value.items()}, sort_keys=True)
    if isinstance(value, list | tuple):
        return json.dumps(sorted(_text(v) for v in value))
    return str(value)


def _refs(
    value: Any, recreated: Mapping[str, Mapping[str, Any]], row: Mapping[str, Any], deps: list
) -> Any:
    """Ids of objects this plan re-creates (other than the row's own) → ``$ref:`` to them."""
    if isinstance(value, dict):
        return {k: _refs(v, recreated, row, deps) for k, v in value.items()}
    if isinstance(value, list):
        return [_refs(v, recreated, row, deps) for v in value]
    if isinstance(value, str) and value in recreated:
        other = recreated[value]
        if other["node_id"] == row["node_id"] and other is not row:
            dep = f"{other['resource']}:{other['key']}"
            deps.append(dep)
            return f"{REF_PREFIX}{dep}"
    return value


def mark_undone(result: dict[str, Any], undo: Mapping[str, Any]) -> dict[str, int]:
    """``apply --rollback-on-error``: say in ``result`` which writes were undone.

    Each row undone gets ``undone: true`` and its reason says so; a note counts them and names
    the writes that could not be undone (they stay as written).
    """
    done = {
        _ok(r): r
        for r in undo.get("rows") or []
        if r.get("status") in ("CREATED", "UPDATED", "DELETED")
    }
    kept = [r for r in undo.get("rows") or [] if _ok(r) not in done]
    for row in result.get("rows") or []:
        if row.get("status") in UNDO and _ok(row) in done:
            row["undone"] = True
            row["reason"] = "; ".join(
                x for x in (row.get("reason"), "undone by --rollback-on-error") if x
            )
    message = f"rollback on error: {len(done)} write(s) of this run undone"
    if kept:
        names = ", ".join(f"{r['resource']} {r['key']} ({r['status']})" for r in kept[:10])
        message += f"; {len(kept)} could not be undone: {names}"
    result.setdefault("notes", []).append(
        {"resource": "*", "level": "warning" if kept else "info", "message": message}
    )
    return {"undone": len(done), "kept": len(kept)}

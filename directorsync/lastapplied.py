"""Last-applied state: what DirectorSync last applied, or saw converged, per object.

The ledger's ``applied_state`` table keeps one row per tenant, node, resource and object
(natural key): the object's id, its compared fields in canonical form (see
:func:`directorsync.diff.canonical`), their hash, and the run that recorded them. Three-way drift
(:mod:`directorsync.drift`) compares the workbook and Director with it.

After an apply, :func:`record_applied` records:

- rows CREATED or UPDATED: what Director holds right after the writes (one listing per resource
  and node written to), so that a value Director normalises on write is not taken for a change
  made by hand later;
- rows UNCHANGED: the listing the plan compared them with (workbook = Director).

Both records of an apply (:func:`record_after_apply`: ownership, then this state) share one
listing per resource and node written to. Rows whose recorded hash did not change are not
written again; the others are replaced in bulk (one delete and one multi-row insert per resource
and node), so a converged tenant costs one read of its state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select

from directorsync.diff import (
    canonical_series,
    compare_fields,
    key_series,
    remote_columns,
    remote_hash,
)
from directorsync.inventory import Inventory
from directorsync.ledger import tables as t
from directorsync.ledger.database import Ledger
from directorsync.ownership import Listed, record_lifecycle
from directorsync.profile.model import Profile
from directorsync.tenants import Node, Tenant
from directorsync.vocabulary import PLANNED

#: result statuses whose object is recorded (written, or found as desired)
RECORDED = ("CREATED", "UPDATED", "UNCHANGED")
#: statuses that wrote to Director (their node's listing is read again)
WRITTEN = ("CREATED", "UPDATED")
#: (node_id, resource, key) → {"remote_id", "fields", "hash", "run_id", "applied_at"}
State = dict[tuple[str, str, str], dict[str, Any]]
_CHUNK = 500


def load_state(ledger: Ledger, tenant: str, resources: Iterable[str] | None = None) -> State:
    """The last-applied state of a tenant (of some resources), by (node, resource, key)."""
    c = t.applied_state.c
    query = select(t.applied_state).where(c.tenant == tenant)
    if resources is not None:
        query = query.where(c.resource.in_(list(resources)))
    with ledger.begin() as conn:
        rows = conn.execute(query).mappings().all()
    return {
        (r["node_id"], r["resource"], r["key"]): {
            "remote_id": r["remote_id"],
            "fields": r["fields"] or {},
            "hash": r["hash"],
            "run_id": r["run_id"],
            "applied_at": r["applied_at"],
        }
        for r in rows
    }


def snapshot(frame: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """A listing's objects as recorded: ``key``, ``remote_id``, ``hash``, ``fields`` (canonical).

    Objects the plan only planned (``_planned``) are left out.
    """
    if PLANNED in frame:
        frame = frame[~frame[PLANNED].fillna(False).astype(bool).to_numpy()]
    if frame.empty:
        return pd.DataFrame(columns=["key", "remote_id", "hash", "fields"])
    fields = [f for f in compare_fields(profile) if f in frame]
    text = np.full(len(frame), "{", dtype=object)
    for i, field in enumerate(fields):
        name = msgspec.json.encode(field).decode()
        values = canonical_series(frame[field], field, profile).to_numpy(dtype=object)
        text = text + ("," if i else "") + name + ":" + values
    text = text + "}"
    decoded = msgspec.json.decode(("[" + ",".join(text.tolist()) + "]").encode())
    ids = frame[profile.id_field] if profile.id_field in frame else pd.Series(None, frame.index)
    return pd.DataFrame(
        {
            "key": key_series(frame, profile.remote_key).to_numpy(dtype=object),
            "remote_id": [None if pd.isna(v) else str(v) for v in ids.to_numpy(dtype=object)],
            "hash": remote_hash(frame, profile).to_numpy(dtype=object),
            "fields": [{k: v for k, v in d.items() if v is not None} for d in decoded],
        }
    )


def record_after_apply(
    ledger: Ledger,
    run_id: str,
    tenant: Tenant,
    result: dict[str, Any],
    inventory: Inventory,
    profiles: dict[str, Profile],
    *,
    state: bool = True,
) -> None:
    """Record what an apply that wrote did: every apply calls it (CLI, service, notebooks).

    The objects it created become DirectorSync's own (:func:`~directorsync.ownership.
    record_lifecycle`: ``--prune`` may delete them, ``rollback`` may undo the run); with
    ``state``, what it wrote or found converged becomes the last-applied state three-way drift
    compares with (:func:`record_applied`; its seconds in ``result["phases"]["record_state"]``).
    ``state=False`` for a run about to be rolled back (its writes are undone: the state stays).
    """
    fresh: dict[tuple[str, str], pd.DataFrame] = {}

    def listed(resource: str, node: Node) -> pd.DataFrame:
        """Each written resource and node listed once after the writes, for both records."""
        if (resource, node.id) not in fresh:
            fresh[(resource, node.id)] = inventory.refresh(resource, node)
        return fresh[(resource, node.id)]

    record_lifecycle(ledger, run_id, tenant, result["rows"], inventory, profiles, listed)
    if state:
        recorded = record_applied(ledger, tenant, result, inventory, profiles, run_id, listed)
        result.setdefault("phases", {})["record_state"] = recorded["seconds"]


def record_applied(
    ledger: Ledger,
    tenant: Tenant,
    result: dict[str, Any],
    inventory: Inventory,
    profiles: dict[str, Profile],
    run_id: str,
    listed: Listed | None = None,
) -> dict[str, Any]:
    """Record the objects an apply wrote or found converged; returns what it did.

    ``listed(resource, node)`` gives a listing made after the writes (default: list again).

    Returns:
        ``{"objects": recorded rows, "written": rows inserted or replaced, "seconds": time}``.
    """
    started = time.perf_counter()
    rows = [r for r in result.get("rows") or [] if r.get("status") in RECORDED]
    wanted: dict[tuple[str, str], dict[str, bool]] = {}
    for row in rows:
        keys = wanted.setdefault((row["resource"], row["node_id"]), {})
        keys[str(row["key"])] = keys.get(str(row["key"]), False) or row["status"] in WRITTEN
    if not wanted:
        return {"objects": 0, "written": 0, "seconds": 0.0}
    known = load_state(ledger, tenant.name, {r for r, _ in wanted})
    nodes = {n.id: n for n in tenant.nodes}
    now = ledger.now()
    changed: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (resource, node_id), keys in wanted.items():
        profile, node = profiles.get(resource), nodes.get(node_id)
        if profile is None or node is None:
            continue
        if any(keys.values()):
            frame = (listed or inventory.refresh)(resource, node)
        else:
            frame = inventory.frame(resource, node, remote_columns(profile))
        objects = snapshot(frame, profile)
        objects = objects[objects["key"].isin(list(keys))].drop_duplicates("key")
        for key, remote_id, digest, fields in objects.itertuples(index=False):
            before = known.get((node_id, resource, key))
            if before and before["hash"] == digest and before["remote_id"] == remote_id:
                continue
            changed.setdefault((resource, node_id), []).append(
                {
                    "tenant": tenant.name,
                    "node_id": node_id,
                    "resource": resource,
                    "key": key,
                    "remote_id": remote_id,
                    "fields": fields,
                    "hash": digest,
                    "run_id": run_id,
                    "applied_at": now,
                }
            )
    written = _replace(ledger, tenant.name, changed)
    return {
        "objects": sum(len(k) for k in wanted.values()),
        "written": written,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _replace(
    ledger: Ledger, tenant: str, changed: dict[tuple[str, str], list[dict[str, Any]]]
) -> int:
    """Replace the rows of ``changed`` in one transaction (bulk delete, bulk insert)."""
    if not changed:
        return 0
    c = t.applied_state.c
    with ledger.begin() as conn:
        for (resource, node_id), records in changed.items():
            for at in range(0, len(records), _CHUNK):
                chunk = records[at : at + _CHUNK]
                conn.execute(
                    delete(t.applied_state).where(
                        c.tenant == tenant,
                        c.resource == resource,
                        c.node_id == node_id,
                        c.key.in_([r["key"] for r in chunk]),
                    )
                )
                conn.execute(insert(t.applied_state), chunk)
    return sum(len(r) for r in changed.values())


def forget(ledger: Ledger, tenant: str) -> int:
    """Drop a tenant's last-applied state (drift then falls back to a two-way diff)."""
    with ledger.begin() as conn:
        done = conn.execute(delete(t.applied_state).where(t.applied_state.c.tenant == tenant))
    return int(done.rowcount or 0)

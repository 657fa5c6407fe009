"""Ownership, orphans and pre-images in the run ledger (docs/lifecycle.md).

- **Ownership**: every object an apply CREATED is recorded (tenant, node, resource, natural key,
  id, the run, ``how = created``); a DELETED object is forgotten. Only owned objects are delete
  candidates of ``--prune`` (``--prune-unowned`` widens that).
- **Adoption**: ``directorsync export --adopt`` records every object it exported of a prunable
  resource (``lifecycle.prune``) as owned with ``how = adopted`` (objects already owned keep
  their record): a tenant configured by hand becomes DirectorSync's to prune.
- **Orphans** (quarantine): an owned object the workbook no longer names gets ``orphaned_at``,
  the ledger's time when a plan first saw it so; it is cleared when the workbook names it again.
- **Pre-images**: every UPDATED or DELETED row's ``before`` (the object as Director held it) is
  kept per run; ``directorsync rollback RUN_ID`` reads them with the run's creates and deletes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
from sqlalchemy import and_, delete, insert, select, update

from directorsync.diff import key_series
from directorsync.inventory import Inventory
from directorsync.ledger import tables as t
from directorsync.ledger.database import Ledger
from directorsync.profile.model import Profile
from directorsync.tenants import Node, Tenant
from directorsync.vocabulary import PLANNED

#: (node_id, resource, key)
ObjectKey = tuple[str, str, str]
#: ``listed(resource, node)``: a resource's listing on a node, made after an apply's writes
Listed = Callable[[str, Node], pd.DataFrame]


def created_ids(
    rows: Iterable[Mapping[str, Any]],
    inventory: Inventory,
    tenant: Tenant,
    profiles: dict,
    listed: Listed | None = None,
) -> dict[ObjectKey, str]:
    """The ids of the objects the CREATED ``rows`` made: one listing per resource and node.

    ``listed(resource, node)`` gives a listing made after the writes (default: list again).
    """
    listed = listed or inventory.refresh
    wanted: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        if row.get("status") == "CREATED":
            wanted.setdefault((row["resource"], row["node_id"]), set()).add(str(row["key"]))
    nodes = {n.id: n for n in tenant.nodes}
    found: dict[ObjectKey, str] = {}
    for (resource, node_id), keys in wanted.items():
        profile: Profile = profiles[resource]
        frame = listed(resource, nodes[node_id])
        if frame.empty or profile.id_field not in frame:
            continue
        if PLANNED in frame:
            frame = frame[~frame[PLANNED].fillna(False).astype(bool)]
        names = key_series(frame, profile.remote_key)
        for key, oid in zip(names, frame[profile.id_field], strict=True):
            if key in keys and oid is not None:
                found[(node_id, resource, str(key))] = str(oid)
    return found


def record_run(
    ledger: Ledger,
    run_id: str,
    tenant: str,
    rows: Iterable[Mapping[str, Any]],
    ids: Mapping[ObjectKey, str],
) -> dict[str, int]:
    """Record a run's creates (ownership), deletes (forgotten) and pre-images; the counts."""
    now = ledger.now()
    counts = {"owned": 0, "pre_images": 0, "forgotten": 0}
    with ledger.begin() as conn:
        for row in rows:
            status = row.get("status")
            where = _where(t.ownership, tenant, row["node_id"], row["resource"], str(row["key"]))
            if status in ("UPDATED", "DELETED") and "before" in row:
                conn.execute(
                    delete(t.pre_images).where(
                        and_(
                            t.pre_images.c.run_id == run_id,
                            t.pre_images.c.node_id == row["node_id"],
                            t.pre_images.c.resource == row["resource"],
                            t.pre_images.c.key == str(row["key"]),
                        )
                    )
                )
                conn.execute(
                    insert(t.pre_images).values(
                        run_id=run_id,
                        node_id=row["node_id"],
                        resource=row["resource"],
                        key=str(row["key"]),
                        remote_id=row.get("remote_id"),
                        action="delete" if status == "DELETED" else "update",
                        before=row["before"],
                        recorded_at=now,
                    )
                )
                counts["pre_images"] += 1
            if status == "CREATED":
                conn.execute(delete(t.ownership).where(where))
                oid = ids.get((row["node_id"], row["resource"], str(row["key"])))
                conn.execute(
                    insert(t.ownership).values(
                        tenant=tenant,
                        node_id=row["node_id"],
                        resource=row["resource"],
                        key=str(row["key"]),
                        remote_id=oid,
                        run_id=run_id,
                        how="created",
                        since=now,
                        orphaned_at=None,
                    )
                )
                counts["owned"] += 1
            elif status == "DELETED":
                counts["forgotten"] += conn.execute(delete(t.ownership).where(where)).rowcount
    return counts


def record_lifecycle(
    ledger: Ledger,
    run_id: str,
    tenant: Tenant,
    rows: list[dict[str, Any]],
    inventory: Inventory,
    profiles: dict[str, Profile],
    listed: Listed | None = None,
) -> dict[str, int]:
    """After an apply: the ids of what it created, then :func:`record_run`."""
    ids = created_ids(rows, inventory, tenant, profiles, listed)
    return record_run(ledger, run_id, tenant.name, rows, ids)


def adopt_listed(
    ledger: Ledger,
    run_id: str,
    tenant: Tenant,
    inventory: Inventory,
    profiles: dict[str, Profile],
    resources: Iterable[str],
) -> dict[str, int]:
    """Record the listed objects of prunable ``resources`` as owned (``how = adopted``).

    Reads the inventory's listings (those the export made: nothing is listed again). Objects
    already owned keep their record. Returns the number adopted per resource.
    """
    now, adopted = ledger.now(), {}
    seen = set(owned(ledger, tenant.name))
    rows: list[dict[str, Any]] = []
    for name in resources:
        profile = profiles[name]
        if not profile.section("lifecycle").get("prune"):
            continue
        before = len(rows)
        for node in tenant.nodes_for(name, profile.targets):
            frame = inventory.frame(name, node)
            if frame.empty or profile.id_field not in frame:
                continue
            if PLANNED in frame:
                frame = frame[frame[PLANNED].isna()]
            keys = key_series(frame, profile.remote_key)
            for key, oid in zip(keys, frame[profile.id_field], strict=True):
                if (node.id, name, str(key)) in seen or oid is None:
                    continue  # owned already (or no id); a key listed twice counts once
                seen.add((node.id, name, str(key)))
                rows.append({"tenant": tenant.name, "node_id": node.id, "resource": name,
                             "key": str(key), "remote_id": str(oid), "run_id": run_id,
                             "how": "adopted", "since": now, "orphaned_at": None})  # fmt: skip
        adopted[name] = len(rows) - before
    if rows:
        with ledger.begin() as conn:  # one statement for all (executemany)
            conn.execute(insert(t.ownership), rows)
    return adopted


def owned(ledger: Ledger, tenant: str) -> dict[ObjectKey, dict[str, Any]]:
    """The objects DirectorSync owns on a tenant: ``(node_id, resource, key)`` → ledger row."""
    with ledger.begin() as conn:
        rows = conn.execute(select(t.ownership).where(t.ownership.c.tenant == tenant)).mappings()
        return {(r["node_id"], r["resource"], r["key"]): dict(r) for r in rows}


def mark_orphans(
    ledger: Ledger, tenant: str, orphans: Iterable[ObjectKey], named: Iterable[ObjectKey]
) -> dict[ObjectKey, str]:
    """Set ``orphaned_at`` (now) on owned orphans that have none; clear it on ``named`` objects.

    Returns every orphan's ``orphaned_at``.
    """
    now = ledger.now()
    out: dict[ObjectKey, str] = {}
    with ledger.begin() as conn:
        for node_id, resource, key in named:
            conn.execute(
                update(t.ownership)
                .where(_where(t.ownership, tenant, node_id, resource, key))
                .where(t.ownership.c.orphaned_at.is_not(None))
                .values(orphaned_at=None)
            )
        for node_id, resource, key in orphans:
            where = _where(t.ownership, tenant, node_id, resource, key)
            since = conn.execute(select(t.ownership.c.orphaned_at).where(where)).scalar()
            if since is None:
                conn.execute(update(t.ownership).where(where).values(orphaned_at=now))
                since = now
            out[(node_id, resource, key)] = since
    return out


def run_pre_images(ledger: Ledger, run_id: str) -> list[dict[str, Any]]:
    """The pre-images a run recorded (rollback)."""
    with ledger.begin() as conn:
        query = select(t.pre_images).where(t.pre_images.c.run_id == run_id)
        return [dict(r) for r in conn.execute(query).mappings()]


def _where(table: Any, tenant: str, node_id: str, resource: str, key: str) -> Any:
    return and_(
        table.c.tenant == tenant,
        table.c.node_id == node_id,
        table.c.resource == resource,
        table.c.key == key,
    )

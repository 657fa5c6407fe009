"""Prune: the objects Director holds that the workbook no longer names (docs/lifecycle.md).

For every planned resource whose profile says ``lifecycle.prune: true``, per node it goes to,
the objects listed on Director whose natural key no plan row names are *orphans*:

- owned orphans (the ledger's ``ownership`` table: DirectorSync created them) get their
  ``orphaned_at`` recorded the first time a plan sees them (quarantine);
- without ``--prune`` they are information only: one plan note per resource and node;
- with ``--prune`` they become ``delete`` rows, unless protected (a ``prune.protect`` name
  pattern, or one of Director's built-in objects), quarantined (orphaned for less than
  ``prune.delay``), or unowned (``--prune-unowned`` adds those, with a warning giving the
  count) — each of those is named in a note;
- an object still used by one the plan keeps (a routing policy naming the repo, a device in the
  group, …) is a ``skip`` row naming its user: it is not deleted.

Deletes are applied after the creates and updates, in reverse dependency order (apply.py).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from directorsync.diff import key_series, remote_hash
from directorsync.errors import DirectorError
from directorsync.inventory import Inventory
from directorsync.ledger.database import Ledger
from directorsync.ownership import ObjectKey, mark_orphans, owned
from directorsync.plan import Plan
from directorsync.profile.model import Profile
from directorsync.tenants import Node, Tenant
from directorsync.vocabulary import BUILTIN_NAMES, PLAN_COLUMNS, PLANNED

#: names listed in a note, at most
NAMED = 10


@dataclass
class PruneOptions:
    """How to prune (``plan``/``apply --prune``, settings ``prune.*``)."""

    prune: bool = False
    unowned: bool = False
    protect: tuple[str, ...] = ()
    delay_seconds: float = 0.0


@dataclass
class _Orphan:
    node: Node
    resource: str
    key: str
    record: dict[str, Any]
    remote_hash: str | None
    owner: dict[str, Any] | None


def prune_plan(
    plan: Plan,
    inventory: Inventory,
    profiles: Mapping[str, Profile],
    tenant: Tenant,
    ledger: Ledger | None,
    options: PruneOptions,
) -> dict[str, int]:
    """Add the orphans of ``plan``'s resources to it (rows and notes); the counts by kind."""
    ours = owned(ledger, tenant.name) if ledger is not None else {}
    if not options.prune:  # only owned orphans are said: list only resources with owned objects
        with_owned = {resource for _, resource, _ in ours}
    orphans: list[_Orphan] = []
    named: list[ObjectKey] = []
    listings: dict[tuple[str, str], pd.DataFrame] = {}
    rows = plan.rows
    for resource in plan.resources:
        profile = profiles.get(resource)
        if profile is None or not profile.section("lifecycle").get("prune"):
            continue
        if not options.prune and resource not in with_owned:
            continue
        mine = rows[rows["resource"] == resource] if len(rows) else rows
        for node in tenant.nodes_for(resource, profile.targets):
            keys = (
                set(mine.loc[mine["node_id"] == node.id, "key"].astype(str)) if len(mine) else set()
            )
            frame = _listing(inventory, profile, node, listings)
            if frame is None:
                continue
            named += [(node.id, resource, k) for k in keys if (node.id, resource, k) in ours]
            names = key_series(frame, profile.remote_key) if len(frame) else pd.Series(dtype=object)
            hashes = remote_hash(frame, profile) if len(frame) else pd.Series(dtype=object)
            for pos, key in enumerate(names):
                if str(key) in keys:
                    continue
                record = {str(k): v for k, v in frame.iloc[pos].to_dict().items()}
                owner = ours.get((node.id, resource, str(key)))
                orphans.append(_Orphan(node, resource, str(key), record, hashes.iloc[pos], owner))
    since = {}
    if ledger is not None:
        owned_orphans = [(o.node.id, o.resource, o.key) for o in orphans if o.owner]
        since = mark_orphans(ledger, tenant.name, owned_orphans, named)
    now = ledger.clock() if ledger is not None else dt.datetime.now(dt.UTC)
    return _decide(plan, orphans, since, now, profiles, inventory, listings, options)


def _listing(
    inventory: Inventory,
    profile: Profile,
    node: Node,
    listings: dict[tuple[str, str], pd.DataFrame],
) -> pd.DataFrame | None:
    """The whole listing of a resource on a node (None: it cannot be listed, nothing pruned)."""
    key = (profile.name, node.id)
    if key not in listings:
        try:
            frame = inventory.frame(profile.name, node)
        except DirectorError:
            return None
        if PLANNED in frame:
            frame = frame[~frame[PLANNED].fillna(False).astype(bool)]
        listings[key] = frame.reset_index(drop=True)
    return listings[key]


def _decide(
    plan: Plan,
    orphans: list[_Orphan],
    since: dict[ObjectKey, str],
    now: dt.datetime,
    profiles: Mapping[str, Profile],
    inventory: Inventory,
    listings: dict[tuple[str, str], pd.DataFrame],
    options: PruneOptions,
) -> dict[str, int]:
    """Each orphan becomes a delete row, a skip row (in use) or a line of a note."""
    groups: dict[tuple[str, str, str], list[str]] = {}  # (kind, resource, node) → names
    deleting = []
    for o in orphans:
        profile = profiles[o.resource]
        name = str(o.record.get(profile.name_field) or o.key)
        kind = _kind(o, name, since, now, options)
        if kind == "delete":
            deleting.append(o)
        elif kind:
            label = name
            if kind == "quarantined":
                label = f"{name} (orphaned since {since[_okey(o)][:16]}, "
                label += f"deleted from {_until(since[_okey(o)], options)[:16]})"
            groups.setdefault((kind, o.resource, o.node.name), []).append(label)
    going = {(o.node.id, o.resource, o.key) for o in deleting}
    new_rows = []
    for o in deleting:
        user = _user(o, profiles, inventory, listings, going)
        new_rows.append(_row(o, profiles[o.resource], user))
    unowned = sum(1 for o in deleting if not o.owner)
    if new_rows:
        new = pd.DataFrame(new_rows, columns=PLAN_COLUMNS)  # first: deletes are shown first
        plan.rows = pd.concat([new, plan.rows])
        plan.rows = plan.rows.reset_index(drop=True)
    if unowned:
        plan.notes.append(
            {
                "resource": "*",
                "level": "warning",
                "message": f"--prune-unowned: {unowned} object(s) DirectorSync did not create "
                "are planned for deletion",
            }
        )
    for (kind, resource, node), names in groups.items():
        plan.notes.append(
            {"resource": resource, "level": "info", "message": _note(kind, node, names)}
        )
    counts = {"delete": sum(1 for r in new_rows if r["action"] == "delete")}
    counts["in_use"] = len(new_rows) - counts["delete"]
    for (kind, _, _), names in groups.items():
        counts[kind] = counts.get(kind, 0) + len(names)
    return counts


def _okey(o: _Orphan) -> ObjectKey:
    return (o.node.id, o.resource, o.key)


def _kind(
    o: _Orphan, name: str, since: dict[ObjectKey, str], now: dt.datetime, options: PruneOptions
) -> str:
    """``orphaned`` (info), ``protected``, ``unowned``, ``quarantined``, ``delete`` or ``""``.

    Without ``--prune`` only owned orphans are said (``""``: nothing to say).
    """
    if not options.prune:
        return "orphaned" if o.owner is not None else ""
    if name in BUILTIN_NAMES or any(fnmatch.fnmatchcase(name, p) for p in options.protect):
        return "protected"
    if o.owner is None and not options.unowned:
        return "unowned"
    if o.owner is not None and _okey(o) in since and options.delay_seconds > 0:
        if dt.datetime.fromisoformat(_until(since[_okey(o)], options)) > now:
            return "quarantined"
    return "delete"


def _until(orphaned_at: str, options: PruneOptions) -> str:
    start = dt.datetime.fromisoformat(orphaned_at)
    return (start + dt.timedelta(seconds=options.delay_seconds)).isoformat()


_NOTES = {
    "protected": "protected, never deleted (built-in or prune.protect)",
    "orphaned": "created by DirectorSync, no longer in the workbook (--prune deletes them)",
    "unowned": "not in the workbook, not created by DirectorSync: kept "
    "(--prune-unowned deletes them)",
    "quarantined": "orphaned, kept until prune.delay has passed",
}


def _note(kind: str, node: str, names: list[str]) -> str:
    shown = ", ".join(names[:NAMED]) + (
        f" and {len(names) - NAMED} more" if len(names) > NAMED else ""
    )
    return f"{len(names)} object(s) on {node} {_NOTES[kind]}: {shown}"


def _user(
    o: _Orphan,
    profiles: Mapping[str, Profile],
    inventory: Inventory,
    listings: dict[tuple[str, str], pd.DataFrame],
    going: set[ObjectKey],
) -> str | None:
    """The first object the plan keeps that still refers to ``o`` (same node), named."""
    profile = profiles[o.resource]
    oid = str(o.record.get(profile.id_field) or "")
    name = str(o.record.get(profile.name_field) or o.key)
    for other in profiles.values():
        if o.resource not in other.depends_on:
            continue
        frame = _listing(inventory, other, o.node, listings)
        if frame is None or frame.empty:
            continue
        keys = key_series(frame, other.remote_key)
        for key, record in zip(keys, frame.to_dict("records"), strict=True):
            if (o.node.id, other.name, str(key)) in going:
                continue
            if _refers(record, oid, name):
                return f"{other.name} '{key}' on {o.node.name}"
    return None


def _refers(value: Any, oid: str, name: str) -> bool:
    """Whether ``value`` (an object, nested) holds the id, the name, or ``…/name``."""
    if isinstance(value, dict):
        return any(_refers(v, oid, name) for k, v in value.items() if not str(k).startswith("_"))
    if isinstance(value, list | tuple):
        return any(_refers(v, oid, name) for v in value)
    if isinstance(value, str):
        return value in (oid, name) or value.endswith("/" + name)
    return False


def _row(o: _Orphan, profile: Profile, user: str | None) -> dict[str, Any]:
    """A ``delete`` plan row (or ``skip`` naming the user that still refers to the object)."""
    oid = o.record.get(profile.id_field)
    template = profile.endpoint.get("delete") or profile.endpoint.get("update") or ""
    how = "created by DirectorSync" if o.owner else "not created by DirectorSync"
    reason = f"not in the workbook ({how})"
    if user:
        reason = f"not deleted: still used by {user}"
    return {
        "resource": o.resource,
        "node_id": o.node.id,
        "node_name": o.node.name,
        "key": o.key,
        "action": "skip" if user else "delete",
        "reason": reason,
        "changes": None,
        "payload": {},
        "method": "DELETE",
        "path": template.replace("{id}", str(oid)),
        "remote_id": None if oid is None else str(oid),
        "remote_hash": o.remote_hash,
        "depends_on": [],
        "sheet": None,
        "excel_rows": [],
        "source": None,
    }

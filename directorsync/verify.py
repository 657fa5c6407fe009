"""Fresh reads and verified applies.

Fresh reads
    :func:`fresh_frame` lists a source on a node after calling its RefreshList endpoint, where
    Director documents one (:mod:`directorsync.director.refresh`), and following the refresh's
    order to its end. Plans with ``force_refresh`` call :func:`refresh_for_plan` before listing;
    verification (and drift) read through :func:`fresh_frame`.

Verified applies
    :func:`verify_applied` runs after an apply's writes: for each resource and node with a
    CREATED or UPDATED row it lists the resource once (fresh), finds each applied object by its
    natural key and compares what the apply sent with what Director now holds, field by field,
    with the diff's rules (:func:`directorsync.diff.differs_mask`). Compared per row: the fields
    the plan changed (``changes[].after``), and the compared fields the request body carries as
    they are (a create template entry ``field: "${field}"``, or ``"${field|csv}"`` split back).
    A field Director's listing does not return at all is not verified. Each row gets
    ``verification`` (``converged``/``diverged``/``missing``); the result gets a
    ``verification`` summary whose ``rows`` hold one warning per row Director did not keep as
    sent (also logged as a warning).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from directorsync.diff import compare_fields, differs_mask, key_series
from directorsync.director.refresh import refresh_list, refresh_path
from directorsync.errors import DirectorError
from directorsync.inventory import CATALOGS, Inventory
from directorsync.profile.model import Profile
from directorsync.tenants import Node
from directorsync.vocabulary import (
    PLANNED,
    VERIFY_CONVERGED,
    VERIFY_DIVERGED,
    VERIFY_FAILED,
    VERIFY_MISSING,
    VERIFY_SKIPPED,
)

LOG = logging.getLogger("directorsync.verify")
_PURE_FIELD = re.compile(r"^\$\{([A-Za-z0-9_.]+)(\|nonempty|\|csv)?\}$")
_APPLIED = ("CREATED", "UPDATED")


def listing_path(inventory: Inventory, source: str) -> str | None:
    """The configapi path a source is listed from (None for fetched listings)."""
    if source in inventory.profiles:
        profile = inventory.profiles[source]
        if profile.inventory.get("fetch"):
            return None
        path = profile.inventory.get("path") or profile.endpoint.get("list")
        return str(path) if path else None
    if source in CATALOGS:
        catalog = CATALOGS.get(source)
        return None if catalog.fetch else catalog.path
    return None


def refresh_source(inventory: Inventory, source: str, node: Node) -> bool:
    """Call the source's RefreshList on ``node`` and follow its order; False if it has none.

    Raises:
        DirectorError: the refresh was refused, failed or could not be sent.
    """
    path = listing_path(inventory, source)
    if refresh_path(path) is None:
        return False
    assert path is not None  # a refresh path exists only for a listing path
    refresh_list(inventory.client, inventory.tenant.pool_uuid, node.id, path)
    return True


def fresh_frame(inventory: Inventory, source: str, node: Node) -> pd.DataFrame:
    """``source`` on ``node`` listed now, after its RefreshList where Director documents one.

    The listing replaces the inventory's cached one; objects only planned are left out.
    """
    refresh_source(inventory, source, node)
    frame = inventory.refresh(source, node)
    if PLANNED in frame:
        frame = frame[~frame[PLANNED].fillna(False).astype(bool).to_numpy()]
    return frame


def sources_read(profile: Profile) -> list[str]:
    """The sources planning a profile lists: the resource and what it looks names up in."""
    found = {profile.name: None}
    for entry in [*profile.resolve.values(), *profile.prechecks]:
        if entry.get("from"):
            found[str(entry["from"])] = None
    return list(found)


def refresh_for_plan(inventory: Inventory, profiles: Iterable[Profile]) -> int:
    """``force_refresh``: refresh what planning these profiles lists, on their target nodes.

    Every source with a RefreshList is refreshed once per node (order followed), and the
    inventory's cached listing of it forgotten, so that the plan lists it afterwards. Returns
    how many refreshes were sent.

    Raises:
        DirectorError: a refresh was refused or failed.
    """
    done: set[tuple[str, str]] = set()
    tenant = inventory.tenant
    for profile in profiles:
        for node in tenant.nodes_for(profile.name, profile.targets):
            for source in sources_read(profile):
                path = listing_path(inventory, source)
                if (source, node.id) in done or refresh_path(path) is None:
                    continue
                done.add((source, node.id))
                refresh_source(inventory, source, node)
                inventory.invalidate(source, node)
    return len(done)


def desired_values(row: dict[str, Any], profile: Profile, fields: list[str]) -> dict[str, Any]:
    """What the apply asked Director to hold for a row, per compared field it can tell."""
    template = profile.payload.get("create") or {}
    payload = row.get("payload") or {}
    wanted: dict[str, Any] = {}
    for key, spec in template.items():
        match = _PURE_FIELD.match(spec) if isinstance(spec, str) else None
        if match and match.group(1) in fields and key in payload:
            value = payload[key]
            if match.group(2) == "|csv" and isinstance(value, str):  # joined for the body
                value = [v for v in value.split(",") if v]
            wanted[match.group(1)] = value
    for change in row.get("changes") or ():
        if change.get("field") in fields:
            wanted[change["field"]] = change.get("after")
    return wanted


def verify_applied(
    result: dict[str, Any], inventory: Inventory, profiles: dict[str, Profile]
) -> dict[str, Any]:
    """Read back what an apply changed and compare it with what it sent (module docstring).

    Adds ``verification`` to each applied row and to ``result`` (returned, with one warning per
    row Director did not keep).
    """
    started = time.perf_counter()
    rows = [r for r in result["rows"] if r.get("status") in _APPLIED]
    nodes = {n.id: n for n in inventory.tenant.nodes}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["resource"], row["node_id"]), []).append(row)
    summary: dict[str, Any] = {
        "status": VERIFY_CONVERGED,
        "checked": len(rows),
        "converged": 0,
        "diverged": 0,
        "missing": 0,
        "failed": 0,
        "refreshed": 0,
        "errors": [],
        "rows": [],
    }
    for (resource, node_id), group in groups.items():
        profile, node = profiles[resource], nodes[node_id]
        try:
            summary["refreshed"] += refresh_source(inventory, resource, node)
            frame = inventory.refresh(resource, node)
        except DirectorError as exc:
            message = f"cannot read back {resource} on {node.name}: {exc}"
            LOG.warning("verify: %s", message)
            summary["errors"].append(message)
            for row in group:
                row["verification"] = {"status": VERIFY_FAILED, "differences": []}
            summary["failed"] += len(group)
            continue
        if PLANNED in frame:
            frame = frame[~frame[PLANNED].fillna(False).astype(bool).to_numpy()]
        _compare_group(group, frame, profile)
        for row in group:
            check = row["verification"]
            summary[check["status"]] += 1
            if check["status"] != VERIFY_CONVERGED:
                warning = _warning(row, node)
                LOG.warning("%s", warning)
                summary["rows"].append(
                    {
                        "resource": resource,
                        "node_name": node.name,
                        "key": row["key"],
                        "source": row.get("source"),
                        "status": check["status"],
                        "differences": check["differences"],
                        "warning": warning,
                    }
                )
    if summary["errors"]:
        summary["status"] = VERIFY_FAILED
    elif summary["diverged"] or summary["missing"]:
        summary["status"] = VERIFY_DIVERGED
    summary["duration_s"] = round(time.perf_counter() - started, 3)
    result["verification"] = summary
    result.setdefault("phases", {})["verify"] = summary["duration_s"]
    return summary


def verify_result(
    result: dict[str, Any],
    inventory: Inventory,
    profiles: dict[str, Profile],
    enabled: bool = True,
    guard: Any = None,
) -> dict[str, Any]:
    """The apply's hook: verify ``result`` (returned) unless off, a dry run or a stopped run."""
    stop = getattr(guard, "stop", None)
    if result.get("dry_run"):
        _skipped(result, "dry run: nothing was written")
    elif not enabled:
        _skipped(result, "verification turned off (--no-verify-apply)")
    elif stop is not None and stop.stopping:
        _skipped(result, "the run was stopped before its end")
    elif not any(r.get("status") in _APPLIED for r in result["rows"]):
        _skipped(result, "nothing was created or updated")
    else:
        verify_applied(result, inventory, profiles)
    return result


def _skipped(result: dict[str, Any], reason: str) -> None:
    result["verification"] = {"status": VERIFY_SKIPPED, "reason": reason}


def _compare_group(group: list[dict[str, Any]], frame: pd.DataFrame, profile: Profile) -> None:
    """Set ``verification`` on each row of one resource on one node against its listing."""
    fields = [f for f in compare_fields(profile) if f in frame]
    keys: Any = key_series(frame, profile.remote_key).to_numpy(dtype=object) if len(frame) else []
    index = pd.Index(keys, dtype=object)
    first = ~index.duplicated(keep="first")
    positions = dict(zip(index[first], np.arange(len(keys))[first]))
    for row in group:
        found = positions.get(row["key"])
        status = VERIFY_MISSING if found is None else VERIFY_CONVERGED
        row["verification"] = {"status": status, "differences": []}
    wanted_rows = [desired_values(row, profile, fields) for row in group]
    for field in fields:
        sent, held, owners = [], [], []
        column = frame[field].to_numpy(dtype=object)
        for row, wanted in zip(group, wanted_rows):
            found = positions.get(row["key"])
            if found is not None and field in wanted:
                sent.append(wanted[field])
                held.append(column[found])
                owners.append(row)
        if not owners:
            continue
        differs = differs_mask(
            pd.Series(sent, dtype=object), pd.Series(held, dtype=object), field, profile
        ).to_numpy()
        for i in np.flatnonzero(differs).tolist():
            row, a, b = owners[i], sent[i], held[i]
            row["verification"]["status"] = VERIFY_DIVERGED
            row["verification"]["differences"].append(
                {"field": field, "applied": _plain(a), "director": _plain(b)}
            )


def _warning(row: dict[str, Any], node: Node) -> str:
    check = row["verification"]
    where = f"{row['resource']} '{row['key']}' on {node.name}"
    if check["status"] == VERIFY_MISSING:
        return f"verify: {where} was not found on Director after it was {row['status'].lower()}"
    shown = "; ".join(
        f"{d['field']}: sent {d['applied']!r}, Director has {d['director']!r}"
        for d in check["differences"]
    )
    return f"verify: Director did not keep {where} as sent: {shown}"


def verification_view(result: Mapping[str, Any], limit: int = 500) -> dict[str, Any] | None:
    """What the HTML report shows of ``result['verification']`` (None when absent)."""
    check = result.get("verification")
    if not check:
        return None
    rows = list(check.get("rows") or [])
    return {
        "status": check.get("status"),
        "line": verification_line(check),
        "rows": rows[:limit],
        "count": len(rows),
        "errors": list(check.get("errors") or []),
    }


def _plain(value: Any) -> Any:
    """A JSON-able value (numpy scalars and arrays to Python)."""
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def verification_line(check: dict[str, Any]) -> str:
    """One line about a result's ``verification`` (console and report)."""
    status = check.get("status")
    if status == VERIFY_SKIPPED:
        return f"verify: skipped ({check.get('reason')})"
    counts = f"{check.get('checked', 0)} row(s) read back in {check.get('duration_s', 0):.2f} s"
    if status == VERIFY_CONVERGED:
        return f"verify: converged ({counts})"
    if status == VERIFY_FAILED:
        return f"verify: failed, {'; '.join(check.get('errors') or [])} ({counts})"
    off = check.get("diverged", 0) + check.get("missing", 0)
    return f"verify: Director did not keep {off} row(s) as sent ({counts}; see the warnings)"

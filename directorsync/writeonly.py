"""Fields Director never returns: say per object that they cannot be compared; push on demand.

A profile names them in ``diff.write_only`` (never returned) or ``diff.write_only_if_absent``
(returned by some Directors: blind only where the node's listing lacks the field). A change to
such a field on an existing object cannot be detected, so the plan warns once per object that
has a value for one (naming its nodes), and two switches send it anyway, as an update of the
object even when everything else is unchanged:

* ``--force-update RESOURCE:KEY`` (setting ``app.force_update``), for the objects named;
* ``diff.push_write_only: true`` in the profile, for every such object (a plan then never
  converges for them: each plan updates them again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from directorsync.errors import ConfigError
from directorsync.profile.model import Profile
from directorsync.vocabulary import KEY, NODE, NODE_NAME

#: the "before" of a forced change: Director does not say
NOT_RETURNED = "(not returned by Director)"
#: the ``ctx.options`` entry holding the ``--force-update`` objects (``resource:key``)
FORCE_UPDATE = "force_update"


def check_forced(forced: Iterable[str], known: Iterable[str]) -> list[str]:
    """``RESOURCE:KEY`` items, checked.

    Raises:
        ConfigError: an item is not ``RESOURCE:KEY`` or names an unknown resource.
    """
    names = sorted(known)
    items = []
    for item in forced:
        resource, sep, key = str(item).partition(":")
        if not sep or not resource.strip() or not key.strip():
            raise ConfigError(
                f"--force-update {item!r}: expected RESOURCE:KEY, e.g. "
                "normalization_policies:np_windows"
            )
        if resource.strip() not in names:
            raise ConfigError(
                f"--force-update {item!r}: unknown resource '{resource.strip()}' "
                f"(known: {', '.join(names)})"
            )
        items.append(f"{resource.strip()}:{key.strip()}")
    return items


def blind_fields(profile: Profile, listing: pd.DataFrame | None) -> list[str]:
    """The compared fields a node's listing cannot show (all write-only fields if unlisted)."""
    spec = profile.diff
    fields = list(spec.get("write_only") or [])
    present = set(listing.columns) if listing is not None and len(listing.columns) else set()
    fields += [f for f in spec.get("write_only_if_absent") or [] if f not in present]
    return list(dict.fromkeys(fields))


def write_only_rows(
    frame: pd.DataFrame,
    profile: Profile,
    listings: Mapping[str, pd.DataFrame],
    forced: Iterable[str] = (),
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Warn about, and push when asked, fields of existing objects Director does not return.

    Args:
        frame: the diffed rows (``action``, ``reason``, ``changes``, ``remote_id``), before the
            requests are built.
        profile: the resource's profile.
        listings: each node's listing, by node id (a node absent was not listed).
        forced: ``resource:key`` items of ``--force-update``.

    Returns:
        The frame (forced rows now ``update``) and the notes: one warning per object with a
        blind field (naming the fields and nodes), one info per object updated by force, one
        warning per forced key that names no existing object.
    """
    wanted = {k.split(":", 1)[1] for k in forced if k.split(":", 1)[0] == profile.name}
    push_all = bool(profile.diff.get("push_write_only"))
    if not (profile.diff.get("write_only") or profile.diff.get("write_only_if_absent")):
        return frame, _unknown(profile, wanted, set())
    action = frame["action"].to_numpy(dtype=object)
    existing = pd.notna(frame["remote_id"].to_numpy(dtype=object)) & np.isin(
        action, ["unchanged", "update"]
    )
    blind: dict[str, list[str]] = {}  # key → fields
    nodes: dict[str, list[str]] = {}
    keys = frame[KEY].to_numpy(dtype=object)
    node_ids = frame[NODE].to_numpy(dtype=object)
    node_names = frame[NODE_NAME].to_numpy(dtype=object)
    forced_rows = []
    for i in np.flatnonzero(existing).tolist():
        if node_ids[i] not in listings:
            continue
        fields = [
            f
            for f in blind_fields(profile, listings[node_ids[i]])
            if f in frame and not _empty(frame[f].to_numpy(dtype=object)[i])
        ]
        if not fields:
            continue
        key = str(keys[i])
        blind[key] = list(dict.fromkeys([*blind.get(key, []), *fields]))
        nodes.setdefault(key, []).append(str(node_names[i]))
        if push_all or key in wanted:
            forced_rows.append((i, fields))
    if forced_rows:
        frame = _forced(
            frame, forced_rows, "diff.push_write_only" if push_all else "--force-update"
        )
    pushed = {str(keys[i]) for i, _ in forced_rows}
    notes = [
        _note(profile, key, fields, nodes[key], key in pushed) for key, fields in blind.items()
    ]
    return frame, notes + _unknown(profile, wanted, set(blind))


def _forced(frame: pd.DataFrame, rows: list[tuple[int, list[str]]], how: str) -> pd.DataFrame:
    """The rows planned as updates sending their blind fields (a change ``before`` unknown)."""
    action = frame["action"].to_numpy(dtype=object).copy()
    reason = frame["reason"].to_numpy(dtype=object).copy()
    changes = frame["changes"].to_numpy(dtype=object).copy()
    for i, fields in rows:
        sent = [
            {"field": f, "before": NOT_RETURNED, "after": frame[f].to_numpy(dtype=object)[i]}
            for f in fields
        ]
        changes[i] = [*list(changes[i] or ()), *sent]
        action[i] = "update"
        it = "it" if len(fields) == 1 else "them"
        reason[i] = f"{', '.join(fields)} sent as written ({how}): Director does not return {it}"
    series = {"action": action, "reason": reason, "changes": changes}
    return frame.assign(
        **{c: pd.Series(v, index=frame.index, dtype=object) for c, v in series.items()}
    )


def _note(profile: Profile, key: str, fields: list[str], nodes: list[str], pushed: bool) -> dict:
    what = ", ".join(fields)
    where = ", ".join(dict.fromkeys(nodes))
    if pushed:
        return {
            "resource": profile.name,
            "level": "info",
            "message": f"'{key}' on {where}: {what} is not returned by Director; it is sent as "
            "written (forced update)",
        }
    return {
        "resource": profile.name,
        "level": "warning",
        "message": f"'{key}' on {where}: {what} cannot be compared (Director does not return "
        f"it), so a change to it is not detected; --force-update {profile.name}:{key} sends it",
    }


def _unknown(profile: Profile, wanted: set[str], existing: set[str]) -> list[dict[str, str]]:
    """A warning per forced key that is not an existing object of this resource."""
    return [
        {
            "resource": profile.name,
            "level": "warning",
            "message": f"--force-update {profile.name}:{key}: no existing object of that key "
            "with a field Director does not return; nothing forced",
        }
        for key in sorted(wanted - existing)
    ]


def _empty(value: Any) -> bool:
    if value is None or (isinstance(value, float) and value != value):
        return True
    return isinstance(value, str | list | dict | tuple) and not value

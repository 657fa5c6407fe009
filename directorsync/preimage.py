"""Pre-images: the objects an apply is about to update, as Director held them.

Before the first write of a resource, apply takes, for every row it will update, the object with
the row's ``remote_id`` from the resource's listing on that node — the listing the plan compared
(or the one the stale check of ``apply --plan`` made just before, or, for a plan made elsewhere,
one made now) — and reports it in the row's ``before`` field of ``result.json``. The object is
in the listing's normalised shape (read fields renamed to write fields, as the plan diffs them),
without DirectorSync's own columns, so that a later run can write it back (rollback).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from directorsync.errors import DirectorError
from directorsync.inventory import Inventory
from directorsync.profile.model import Profile
from directorsync.tenants import Node
from directorsync.vocabulary import PLANNED

LOG = logging.getLogger("directorsync.apply")


def pre_images(
    inventory: Inventory, profile: Profile, node: Node, remote_ids: Iterable[str]
) -> dict[str, dict[str, Any] | None]:
    """``{remote_id: object as listed}`` for the objects about to be updated on ``node``.

    An id that is not (or no longer) listed maps to None. A listing that fails is logged and
    gives None for every id: the updates themselves report what Director says.
    """
    wanted = {str(i) for i in remote_ids}
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(wanted)
    try:
        frame = inventory.frame(profile.name, node)
    except DirectorError as exc:
        LOG.warning("%s on %s: no pre-images (listing failed: %s)", profile.name, node.name, exc)
        return found
    if frame.empty or profile.id_field not in frame:
        return found
    if PLANNED in frame:
        frame = frame[~frame[PLANNED].fillna(False).astype(bool)]
    ids = frame[profile.id_field].astype(str)
    for record in as_objects(frame[ids.isin(wanted)]):
        found[str(record[profile.id_field])] = record
    return found


def rows_pre_images(
    inventory: Inventory,
    profile: Profile,
    nodes: Mapping[str, Node],
    records: Sequence[Mapping[str, Any]],
    todo: Iterable[int],
) -> dict[int, dict[str, Any] | None]:
    """Before the first write of a resource: ``{row: object as listed}``.

    For its rows to update or delete (``todo``: positions in ``records``, the plan rows as dicts).
    """
    wanted: dict[str, dict[int, str]] = {}
    for i in todo:
        row = records[i]
        if row.get("action") in ("update", "delete") and row.get("remote_id"):
            wanted.setdefault(row["node_id"], {})[i] = str(row["remote_id"])
    out: dict[int, dict[str, Any] | None] = {}
    for node_id, ids in wanted.items():
        objects = pre_images(inventory, profile, nodes[node_id], ids.values())
        out.update({i: objects.get(oid) for i, oid in ids.items()})
    return out


def as_objects(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Listing rows as JSON objects, Python values.

    Fields an object lacks (NaN; a None is kept) and DirectorSync's own columns (``_node_id``,
    ``_planned``) are left out.
    """
    names = [c for c in frame.columns if not str(c).startswith("_")]
    arrays: list[Any] = []
    gaps: list[tuple[str, list[int]]] = []
    for name in names:
        values = frame[name].to_numpy(dtype=object)
        missing = pd.isna(values)
        if missing.any():
            gaps.append((name, [int(i) for i in missing.nonzero()[0] if values[i] is not None]))
        arrays.append(values)
    records = [dict(zip(names, row)) for row in zip(*arrays)]
    for name, rows in gaps:
        for i in rows:
            del records[i][name]
    return records

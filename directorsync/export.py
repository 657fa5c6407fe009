"""Export (PULL): a tenant's objects on Director → a workbook the importers read.

``directorsync export --tenant T --out FILE.xlsx [--resources …]`` lists each resource on the
tenant's nodes (the nodes its profile targets) and writes one sheet row per object, in the
sheets and columns the profile reads, each cell read back by :mod:`directorsync.reverse`. The
resources asked for are exported with those they depend on (``depends_on``): their sheets are
the ones the importers translate names through (the Repo sheet for alert rules, the
RoutingPolicy sheet for processing policies …).

Rules (docs/export.md):

- **one row per object**: the object's row is written from the first node, in the order the
  tenants file gives the resource's nodes, that holds it (the *reference* node);
- **divergence**: each other node holding the object is compared with the reference, cell by
  cell (names, not ids); differing columns and objects missing on a node are reported
  (:class:`ExportResult.divergences`, the notes sheet);
- **write-only fields**: fields Director does not return (``diff.write_only``,
  ``diff.write_only_if_absent``, absent from the listing) leave their column empty and are listed
  in the notes sheet; the plan compares them only when Director returns them, so the exported
  workbook still plans no change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from directorsync.errors import ProfileError
from directorsync.hooks.registry import HOOKS
from directorsync.inventory import Inventory, projectable
from directorsync.profile.model import Profile, dependency_order
from directorsync.reverse import ColumnRule, column_rules, column_values, lookup_tables
from directorsync.tenants import Node, Tenant
from directorsync.transforms import parse_spec
from directorsync.vocabulary import PLANNED
from directorsync.workbook_writer import write_workbook

#: The sheet listing divergences and write-only columns (no profile reads it).
NOTES_SHEET = "DirectorSync export"
NOTES_COLUMNS = ["kind", "resource", "sheet", "object", "column", "nodes", "detail"]


@dataclass
class ExportResult:
    """What an export wrote and found.

    Attributes:
        path: the workbook written.
        sheets: data rows per sheet.
        objects: objects per resource (one row each, or several for list-of-object sheets).
        divergences: ``{resource, object, reference, node, fields: {column: [reference value,
            node value]}}``; ``fields`` is ``{"(absent)": …}`` for an object the node lacks.
        notes: the notes sheet's rows (``kind``: ``write_only``, ``not_returned``,
            ``divergence``, ``absent``).
        seconds: wall time per stage.
    """

    path: Path
    sheets: dict[str, int] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    divergences: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def export_resources(profiles: dict[str, Profile], asked: list[str] | None) -> list[str]:
    """The resources exported for ``asked`` (all when None): with their dependencies, in order."""
    if not asked:
        return dependency_order(profiles)
    unknown = [r for r in asked if r not in profiles]
    if unknown:
        raise ProfileError(
            f"unknown resource(s): {', '.join(unknown)} (known: {', '.join(sorted(profiles))})"
        )
    wanted: set[str] = set()
    todo = list(asked)
    while todo:
        name = todo.pop()
        if name in wanted or name not in profiles:
            continue
        wanted.add(name)
        todo.extend(profiles[name].depends_on)
    return [r for r in dependency_order(profiles) if r in wanted]


def export_workbook(
    inventory: Inventory,
    profiles: dict[str, Profile],
    out: str | Path,
    resources: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExportResult:
    """List the tenant's objects and write them as a workbook at ``out``.

    Args:
        inventory: the tenant's inventory (its client lists Director; nothing is written).
        profiles: every profile by name.
        out: the ``.xlsx`` file to write.
        resources: the resources to export (their dependencies are added); all when None.
        progress: called with a line of text per resource.
    """
    started = time.perf_counter()
    result = ExportResult(Path(out))
    sheets: dict[str, pd.DataFrame] = {}
    names = export_resources(profiles, resources)
    for name in names:
        if progress:
            progress(f"exporting {name}")
        profile = profiles[name]
        t0 = time.perf_counter()
        written = _export_resource(profile, inventory, inventory.tenant, result)
        for sheet, frame in written.items():
            sheets[sheet] = frame
        result.seconds[name] = round(time.perf_counter() - t0, 3)
    _fill_translation_keys([profiles[n] for n in names], sheets)
    t0 = time.perf_counter()
    notes = pd.DataFrame(result.notes, columns=NOTES_COLUMNS)
    write_workbook(result.path, {**sheets, NOTES_SHEET: notes})
    result.seconds["write"] = round(time.perf_counter() - t0, 3)
    result.sheets = {s: len(f) for s, f in sheets.items()}
    result.seconds["total"] = round(time.perf_counter() - started, 3)
    return result


# ---------------------------------------------------------------- one resource


def _listing(
    inventory: Inventory, name: str, node: Node, columns: list[str] | None
) -> pd.DataFrame:
    frame = inventory.frame(name, node, columns)
    if PLANNED in frame:
        frame = frame[frame[PLANNED].isna()]
    return frame


def _keys(frame: pd.DataFrame, profile: Profile) -> pd.Series:
    key = [k for k in profile.natural_key if k in frame] or [profile.name_field]
    if len(key) == 1:
        return frame[key[0]].astype(str) if key[0] in frame else pd.Series(dtype=str)
    return frame[key].astype(str).agg(" / ".join, axis=1)


def _canonical(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _export_resource(
    profile: Profile, inventory: Inventory, tenant: Tenant, result: ExportResult
) -> dict[str, pd.DataFrame]:
    nodes = tenant.nodes_for(profile.name, profile.targets)
    hook = profile.hooks.get("export")
    rules = column_rules(profile)
    write_only = set(profile.diff.get("write_only") or []) | set(
        profile.diff.get("write_only_if_absent") or []
    )
    compared = list(profile.diff.get("compare") or [])
    wanted = None
    if not hook and projectable(profile):
        wanted = sorted({r.source for r in rules} | set(profile.natural_key))
    per_node: list[tuple[Node, pd.DataFrame, pd.DataFrame]] = []  # node, listing, cells
    missing_sources: set[str] = set()
    base: _Base | None = None
    if len(nodes) > 1:  # the nodes' listings are received and decoded side by side
        inventory.prefetch(profile.name, nodes, wanted)
    for node in nodes:
        listing = _listing(inventory, profile.name, node, wanted)
        listing = listing.reset_index(drop=True)
        keys = _keys(listing, profile)
        if hook:
            cells = pd.DataFrame(
                {f: listing[f].map(_canonical) if f in listing else None for f in compared},
                index=listing.index,
            )
        else:
            tables = lookup_tables(profile, _lookup_frames(inventory, node, rules))
            pos = base.index.get_indexer(pd.Index(keys)) if base is not None else None
            columns = {}
            for rule in rules:
                if rule.source in listing and listing[rule.source].notna().any():
                    columns[rule.column] = _read_column(rule, listing, pos, tables, base)
                else:
                    if len(listing):
                        missing_sources.add(rule.source)
                    columns[rule.column] = pd.Series(
                        [None] * len(listing), index=listing.index, dtype=object
                    )
            cells = pd.DataFrame(columns, index=listing.index)
        cells.index = keys.to_numpy()
        listing.index = keys.to_numpy()
        per_node.append((node, listing, cells))
        if base is None and not hook:
            base = _Base(listing, cells)
    reference, rows = _reference(profile, per_node, result)
    result.objects[profile.name] = len(rows)
    sheet = profile.sheet or profile.name
    for source in sorted(missing_sources):
        for rule in (r for r in rules if r.source == source):
            kind = "write_only" if source in write_only else "not_returned"
            detail = (
                "Director does not return this field: the column is left empty (the plan "
                "compares it only when Director returns it)"
                if kind == "write_only"
                else "no object on Director holds a value for this field: the column is left empty"
            )
            result.notes.append(_note(kind, profile.name, sheet, "", rule.column, "", detail))
    if hook:
        written = HOOKS.get(hook, "export")(rows, profile, {"tenant": tenant})
        return {k: v.reset_index(drop=True) for k, v in written.items()}
    frame = _explode(reference, rules)
    return {sheet: _with_sheet_columns(frame, profile)}


@dataclass
class _Base:
    """The first node's listing and cells, which later nodes' equal values reuse."""

    listing: pd.DataFrame
    cells: pd.DataFrame
    raw: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.unique = ~self.listing.index.duplicated(keep="first")
        self.index = self.listing.index[self.unique]

    def values(self, source: str) -> np.ndarray:
        if source not in self.raw:
            self.raw[source] = _cells(self.listing[source])[self.unique]
        return self.raw[source]

    def cells_of(self, column: str) -> np.ndarray:
        return self.cells[column].to_numpy(dtype=object)[self.unique]


def _read_column(
    rule: ColumnRule,
    listing: pd.DataFrame,
    pos: np.ndarray | None,
    tables: dict[str, dict[Any, Any]],
    base: _Base | None,
) -> pd.Series:
    """One column's cells on a node; values equal to the first node's reuse its cells.

    Only an object whose raw value differs from the first node's (or that the first node lacks)
    is read back again; ids (a ``lookup``) differ from node to node and are always read back.
    ``pos``: each row's position among the first node's objects (-1: not there).
    """
    values = listing[rule.source]
    if base is None or pos is None or rule.lookup is not None or rule.source not in base.listing:
        return column_values(rule, values, tables)
    have = pos >= 0
    raw = _cells(values)
    theirs = np.full(len(raw), None, dtype=object)
    theirs[have] = base.values(rule.source)[pos[have]]
    same = have & ~np.not_equal(raw, theirs).astype(bool)
    out = np.full(len(raw), None, dtype=object)
    out[same] = base.cells_of(rule.column)[pos[same]]
    if (~same).any():
        out[~same] = column_values(rule, values[~same], tables).to_numpy(dtype=object)
    return pd.Series(out, index=values.index, dtype=object)


def _lookup_frames(
    inventory: Inventory, node: Node, rules: list[ColumnRule]
) -> Callable[[str], pd.DataFrame | None]:
    needed = {r.lookup.source for r in rules if r.lookup is not None}

    def frames(source: str) -> pd.DataFrame | None:
        if source not in needed:
            return None
        found = inventory.frame(source, node)
        return found[found[PLANNED].isna()] if PLANNED in found else found

    return frames


def _reference(
    profile: Profile,
    per_node: list[tuple[Node, pd.DataFrame, pd.DataFrame]],
    result: ExportResult,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference cells and listing rows (first node holding each object); divergences."""
    if not per_node:
        return pd.DataFrame(), pd.DataFrame()
    cells = pd.concat([c for _, _, c in per_node])
    listing = pd.concat([x for _, x, _ in per_node])
    owner = np.concatenate([[n.name] * len(c) for n, _, c in per_node])
    first = ~cells.index.duplicated(keep="first")
    reference = cells[first]
    ref_node = pd.Series(owner[first], index=reference.index)
    sheet = profile.sheet or profile.name
    all_nodes = [n.name for n, _, _ in per_node]
    for node, _, node_cells in per_node:
        node_cells = node_cells[~node_cells.index.duplicated(keep="first")]
        lacking = reference.index.difference(node_cells.index, sort=False)
        for key in lacking:
            holders = [n.name for n, _, c in per_node if key in c.index]
            result.divergences.append(
                {
                    "resource": profile.name,
                    "object": key,
                    "reference": ref_node[key],
                    "node": node.name,
                    "fields": {"(absent)": [f"on {', '.join(holders)}", f"not on {node.name}"]},
                }
            )
            result.notes.append(
                _note("absent", profile.name, sheet, key, "", f"{ref_node[key]}, {node.name}",
                      f"on {', '.join(holders)}; not on {node.name} (of {', '.join(all_nodes)})")
            )  # fmt: skip
        others = node_cells[ref_node.reindex(node_cells.index).ne(node.name).to_numpy()]
        if others.empty:
            continue
        ref = reference.loc[others.index]
        differs = {
            col: np.not_equal(_cells(ref[col]), _cells(others[col])).astype(bool)
            for col in reference.columns
        }
        mask = np.zeros(len(others), dtype=bool)
        for flags in differs.values():
            mask |= flags
        for i in np.flatnonzero(mask):
            key = others.index[int(i)]
            fields = {
                col: [ref[col].iloc[i], others[col].iloc[i]]
                for col, flags in differs.items()
                if flags[i]
            }
            result.divergences.append(
                {
                    "resource": profile.name,
                    "object": key,
                    "reference": ref_node[key],
                    "node": node.name,
                    "fields": fields,
                }
            )
            shown = "; ".join(f"{c}: {a!r} ≠ {b!r}" for c, (a, b) in fields.items())
            result.notes.append(
                _note("divergence", profile.name, sheet, key, ", ".join(fields),
                      f"{ref_node[key]}, {node.name}", f"row written from {ref_node[key]}: {shown}")
            )  # fmt: skip
    rows = listing[~listing.index.duplicated(keep="first")]
    return reference, rows


def _cells(column: pd.Series) -> np.ndarray:
    """A column's values for comparing: every kind of missing value is None."""
    values = column.to_numpy(dtype=object).copy()
    values[pd.isna(values)] = None
    return values


def _note(
    kind: str, resource: str, sheet: str, obj: str, column: str, nodes: str, detail: str
) -> dict[str, str]:
    return {
        "kind": kind,
        "resource": resource,
        "sheet": sheet,
        "object": obj,
        "column": column,
        "nodes": nodes,
        "detail": detail,
    }


def _explode(reference: pd.DataFrame, rules: list[ColumnRule]) -> pd.DataFrame:
    """One sheet row per object, or per item of its list-of-object columns."""
    frame = reference.reset_index(drop=True)
    multi = [r.column for r in rules if r.rows]
    if not multi or frame.empty:
        return frame
    frame[multi] = frame[multi].map(lambda v: v if isinstance(v, list) and v else [None])
    return frame.explode(multi, ignore_index=True)


def _with_sheet_columns(frame: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """The sheet's columns: required first, then those read back; filter columns filled."""
    order = list(dict.fromkeys([*(profile.xlsx.get("required_columns") or []), *frame.columns]))
    out = frame.reindex(columns=order)
    found = profile.xlsx.get("filter") or []
    for condition in [found] if isinstance(found, dict) else found:
        value = condition.get("equals")
        if value is None and condition.get("in"):
            value = condition["in"][0]
        if value is not None:
            out[condition["column"]] = value
    return out


def _fill_translation_keys(profiles: list[Profile], sheets: dict[str, pd.DataFrame]) -> None:
    """Fill the key column of the sheets other columns translate through.

    A ``sheet_map`` without ``keep_unmatched`` translates a key column into names: the key column
    is written with the name itself, so that each name translates to itself.
    """
    for profile in profiles:
        for spec in _entries(profile):
            for step in spec.get("transform") or []:
                name, arg = parse_spec(step)
                if name != "sheet_map" or not isinstance(arg, dict) or arg.get("keep_unmatched"):
                    continue
                target = sheets.get(arg["sheet"])
                if target is not None and arg["from"] not in target and arg["to"] in target:
                    target[arg["from"]] = target[arg["to"]]


def _entries(profile: Profile) -> list[dict[str, Any]]:
    out = []
    for spec in profile.mapping.values():
        spec = {"col": spec} if isinstance(spec, str) else dict(spec)
        out.append(spec)
        for sub in ("zip", "object"):
            out += [i for i in (spec.get(sub) or {}).values() if isinstance(i, dict)]
    return out

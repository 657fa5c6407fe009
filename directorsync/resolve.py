"""Name → id resolution against inventories, per node.

``resolve:`` maps a target field to a lookup::

    routing_policy:                 # field written (ids)
      from: routing_policies        # a resource profile or a catalog (see inventory.CATALOGS)
      lookup:                       # ``lookup_many`` for a list of names
        by: policy_name             # inventory column compared with the name (default: name)
        using: "${routing_policy_name}"   # field holding the name
      return: id                    # inventory column written (default: id)
      none_value: "None"            # written when the name is empty (default: null)
      label: routing policy         # how messages name the thing
      severity: skip                # skip | error | warn

Existence checks are prechecks: ``{type: must_exist, field, from, by?, label?}`` (and
``must_exist_many`` for a list of names) look names up the same way without writing anything; on
a resolve target (no ``from``) they set the severity of its unresolved names. They run after the
resolve entries, in their prechecks order.

Names are compared exactly. An unresolved name gives a finding (and the row's SKIP/ERROR) naming
the node and, where a close match exists, "did you mean …". A name that the same plan creates
resolves to a ``$ref:`` placeholder and the row records the dependency in ``_depends``.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from directorsync.cells import distinct_cells, gather_lists, is_empty, spread
from directorsync.inventory import Inventory, is_ref, skip_reason
from directorsync.profile.model import Profile
from directorsync.profile.schema import using_field
from directorsync.tenants import Node
from directorsync.vocabulary import DEPENDS, NODE, ON_NODE, REASON, ROW, STATUS


def resolve_frame(
    frame: pd.DataFrame,
    profile: Profile,
    inventory: Inventory,
    nodes: list[Node],
    planned: Collection[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Resolve every ``resolve:`` entry of a profile on a desired frame (one row per node/object).

    Each distinct (node, name) pair is looked up once, whatever the number of rows naming it.

    Args:
        frame: the desired rows (one per node and object).
        profile: the resource's profile (its ``resolve:`` entries and existence prechecks).
        inventory: Director's objects, read per node on demand.
        nodes: the nodes of the run (their names word the findings).
        planned: the resources planned in this run, when known: an unknown name of a resource
            left out of the run says so (the object may be in the workbook all the same).

    Returns:
        ``(frame, findings)``: a new frame with resolved fields, ``_depends`` (the ``$ref:`` ids
        a row depends on; null for none) and updated ``_status``/``_reason``; the findings of
        unresolved names.
    """
    out = frame.copy(deep=False)
    n = len(out)
    verdicts = _Verdicts.of(out)
    depends = out[DEPENDS].to_numpy(dtype=object).copy() if DEPENDS in out else np.full(n, None)
    out[DEPENDS] = None  # filled at the end (kept before the resolved columns)
    node_codes, node_values = pd.factorize(out[NODE].to_numpy(dtype=object))
    all_findings = []
    names = {node.id: node.name for node in nodes}
    for spec in lookups(profile):
        target = spec["target"]
        source = spec["from"]
        match = spec["by"] or _default_match(source, inventory)
        ret = spec["return"]
        inv = inventory.frames(source, nodes, lookup_columns(spec, inventory))
        lookup_field = spec["field"]
        many = spec["many"]
        rows = np.flatnonzero(verdicts.status == "ok")
        active = pd.DataFrame(
            {
                NODE: out[NODE].to_numpy(dtype=object)[rows],
                lookup_field: out[lookup_field].to_numpy(dtype=object)[rows],
            },
            index=out.index[rows],
        )
        codes = (node_codes[rows], node_values)
        found = _lookup_distinct(active, lookup_field, inv, match, ret, many, codes)
        if ret is not None:
            values = (
                out[target].to_numpy(dtype=object).copy() if target in out else np.full(n, None)
            )
            values[out.index.get_indexer(found.values.index)] = found.values.to_numpy(dtype=object)
            empty = out.index.get_indexer(found.empty_rows)
            if len(empty):
                values[empty] = _none_values(spec["none_value"], len(empty))
            out[target] = pd.Series(values, index=out.index, dtype=object)
        _add_depends(depends, out.index.get_indexer(found.refs.index), found.refs.to_numpy())
        left_out = planned is not None and source in inventory.profiles and source not in planned
        findings = _unresolved_findings(
            out, found.unresolved, inv, match, spec, profile, names, source if left_out else None
        )
        all_findings.append(findings)
        verdicts.mark(out.index, findings, spec["severity"])
    verdicts.store(out)
    out[DEPENDS] = pd.Series(depends, index=out.index, dtype=object)
    findings = pd.concat(all_findings, ignore_index=True) if all_findings else pd.DataFrame()
    return out, findings


def lookups(profile: Profile) -> list[dict[str, Any]]:
    """Every lookup of a profile, in the order they run.

    First the ``resolve:`` entries, then existence prechecks that name an inventory (``from``).

    Each is ``{target, from, field, by, many, return, none_value, label, severity}`` (``target``
    and ``return`` are None for an existence check).
    """
    severity = {
        c["field"]: c["severity"]
        for c in profile.existence_checks
        if not c.get("from") and c.get("severity")
    }
    out = []
    for target, spec in profile.resolve.items():
        many = bool(spec.get("lookup_many"))
        lookup = spec.get("lookup_many" if many else "lookup") or {}
        out.append(
            {
                "target": target,
                "from": spec["from"],
                "field": using_field(lookup.get("using", "")),
                "by": lookup.get("by"),
                "many": many,
                "return": spec.get("return", "id"),
                "none_value": spec.get("none_value"),
                "label": spec.get("label"),
                "severity": severity.get(target, spec.get("severity", "skip")),
            }
        )
    for check in profile.existence_checks:
        if check.get("from"):
            out.append(
                {
                    "target": None,
                    "from": check["from"],
                    "field": check["field"],
                    "by": check.get("by"),
                    "many": check["type"] == "must_exist_many",
                    "return": None,
                    "none_value": None,
                    "label": check.get("label"),
                    "severity": check.get("severity", "skip"),
                }
            )
    return out


def lookup_columns(spec: dict[str, Any], inventory: Inventory) -> list[str]:
    """The columns of its ``from`` listing that a lookup (see :func:`lookups`) reads."""
    match = spec["by"] or _default_match(spec["from"], inventory)
    return list(dict.fromkeys([match, spec["return"] or match, "id"]))


def _none_values(none: Any, count: int) -> np.ndarray:
    """What empty names resolve to; a list/dict ``none_value`` (``[]``) is copied per row."""
    values = np.empty(count, dtype=object)
    if isinstance(none, (list, dict)):
        values[:] = [copy.deepcopy(none) for _ in range(count)]
    else:
        values[:] = none
    return values


def _default_match(source: str, inventory: Inventory) -> str:
    profile = inventory.profiles.get(source)
    return profile.remote_key[0] if profile else "name"


def _add_depends(depends: np.ndarray, rows: np.ndarray, refs: np.ndarray) -> None:
    """Merge rows' new ``$ref:`` ids into their sorted dependency lists (in place)."""
    if len(rows):
        depends[rows] = [sorted(set(a or ()) | set(b)) for a, b in zip(depends[rows], refs)]


@dataclass
class Lookup:
    """What one ``resolve:`` entry found.

    Attributes:
        values: resolved value per row with a name (for ``lookup_many``: the list of values).
        empty_rows: rows with no name at all (they get ``none_value``).
        unresolved: one row per unresolved name (index = row): ``_node_id``, ``_name``, ``_skip``.
        refs: per row, the ``$ref:`` ids of objects the plan creates that its names resolved to.
    """

    values: pd.Series
    empty_rows: pd.Index
    unresolved: pd.DataFrame
    refs: pd.Series


def _lookup_distinct(
    frame: pd.DataFrame,
    field: str,
    inv: pd.DataFrame,
    match: str,
    ret: str | None,
    many: bool,
    nodes: tuple[np.ndarray, Any] | None = None,
) -> Lookup:
    """:func:`_lookup` on the distinct (node, cell) pairs, spread back over the rows.

    100,000 devices × 3 nodes naming 40 distinct group lists are 120 lookups, not 300,000.

    Args:
        frame: the desired rows.
        field: the column holding the names to look up.
        inv: Director's objects of the looked-up resource.
        match: the inventory column the names are matched on.
        ret: the inventory column returned (None: an existence check).
        many: whether a cell holds a list of names.
        nodes: ``pd.factorize`` of the frame's ``_node_id`` column, when the caller has it.
    """
    cells = distinct_cells(frame[field])
    if cells is None:
        return _lookup(frame, field, inv, match, ret, many)
    cell_codes, cell_values = cells
    node_codes, node_values = nodes or pd.factorize(frame[NODE].to_numpy(dtype=object))
    width = max(len(cell_values), 1)
    pair_codes, pair_ids = pd.factorize(node_codes.astype(np.int64) * width + cell_codes)
    if len(pair_ids) > len(frame) // 2:
        return _lookup(frame, field, inv, match, ret, many)
    pairs = pd.DataFrame(
        {
            NODE: np.asarray(node_values, dtype=object)[pair_ids // width],
            field: cell_values.to_numpy(dtype=object)[pair_ids % width],
        }
    )
    done = _lookup(pairs, field, inv, match, ret, many)
    rows = frame.index
    return Lookup(
        values=_spread_values(done.values, pair_codes, rows) if ret is not None else done.values,
        empty_rows=rows[np.isin(pair_codes, done.empty_rows.to_numpy())],
        unresolved=_spread_frame(done.unresolved, pair_codes, rows),
        refs=_spread_values(done.refs, pair_codes, rows),
    )


def _spread_values(values: pd.Series, pair_codes: np.ndarray, rows: pd.Index) -> pd.Series:
    """Per-pair values → per-row values (rows whose pair has none are left out)."""
    if values.empty:
        return pd.Series(dtype=object)
    at = pd.Index(values.index).get_indexer(pair_codes)
    have = at >= 0
    return spread(values.reset_index(drop=True), at[have], rows[have])


def _spread_frame(frame: pd.DataFrame, pair_codes: np.ndarray, rows: pd.Index) -> pd.DataFrame:
    """Per-pair records (several per pair allowed) → per-row records, in row order."""
    if frame.empty:
        return frame
    per_row = pd.DataFrame({"_pair": pair_codes, "_pos": np.arange(len(rows))})
    long = frame.rename_axis("_pair").reset_index().reset_index(names="_item")
    long = long.merge(per_row, on="_pair").sort_values(["_pos", "_item"], kind="stable")
    out = long.drop(columns=["_pair", "_pos", "_item"])
    out.index = rows[long["_pos"].to_numpy()]
    return out


def _lookup(
    frame: pd.DataFrame, field: str, inv: pd.DataFrame, match: str, ret: str | None, many: bool
) -> Lookup:
    """Look names up in the inventory, once per distinct (node, name) pair."""
    ret_col = ret or match
    if match in inv and ret_col in inv:
        ids = inv["id"] if "id" in inv else pd.Series(None, index=inv.index, dtype=object)
        table = pd.DataFrame(
            {NODE: inv[NODE], "_name": inv[match], "_value": inv[ret_col], "_id": ids}
        )
    else:
        table = pd.DataFrame({NODE: [], "_name": [], "_value": [], "_id": []}, dtype=object)
    table = table.dropna(subset=["_name"]).drop_duplicates([NODE, "_name"], keep="first")
    left = frame[[NODE, field]].rename(columns={field: "_name"})
    if many:
        left = left.explode("_name")
    left = left[~is_empty(left["_name"])]
    empty_rows = frame.index[~frame.index.isin(left.index)]
    pair_codes, pairs = _distinct_pairs(left[NODE], left["_name"])
    pairs = pairs.merge(table, on=[NODE, "_name"], how="left")  # keeps the pairs' order
    value = pairs["_value"].to_numpy(dtype=object)[pair_codes]
    pair_skip = pairs["_id"].map(skip_reason).to_numpy(dtype=object)
    pair_ok = pairs["_value"].notna().to_numpy() & pd.isna(pair_skip)
    pair_ref = pairs["_id"].map(is_ref).to_numpy(dtype=bool) & pair_ok
    ok, planned = pair_ok[pair_codes], pair_ref[pair_codes]
    unresolved = pd.DataFrame(
        {
            NODE: left[NODE].to_numpy()[~ok],
            "_name": left["_name"].to_numpy()[~ok],
            "_skip": pair_skip[pair_codes][~ok],
        },
        index=left.index[~ok],
    )
    ids = pairs["_id"].to_numpy(dtype=object)[pair_codes]
    refs = gather_lists(pd.Series(ids[planned], index=left.index[planned], dtype=object))
    found = pd.Series(value[ok], index=left.index[ok], dtype=object)
    if many:
        gathered = gather_lists(found)
        named = frame.index[frame.index.isin(left.index)]
        values: pd.Series = pd.Series([[] for _ in range(len(named))], index=named, dtype=object)
        values.loc[gathered.index] = gathered
    else:
        values = found
    return Lookup(values, empty_rows, unresolved, refs)


def _distinct_pairs(nodes: pd.Series, names: pd.Series) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes per row and the frame of distinct ``(_node_id, _name)`` pairs they point to."""
    node_codes, node_values = pd.factorize(nodes.to_numpy(dtype=object))
    name_codes, name_values = pd.factorize(names.to_numpy(dtype=object))
    width = max(len(name_values), 1)
    pair_codes, pair_values = pd.factorize(node_codes.astype(np.int64) * width + name_codes)
    pairs = pd.DataFrame(
        {
            NODE: np.asarray(node_values, dtype=object)[pair_values // width],
            "_name": np.asarray(name_values, dtype=object)[pair_values % width],
        }
    )
    return pair_codes, pairs


def _unresolved_findings(
    frame: pd.DataFrame,
    unresolved: pd.DataFrame,
    inv: pd.DataFrame,
    match: str,
    spec: dict[str, Any],
    profile: Profile,
    node_names: dict[str, str],
    left_out: str | None = None,
) -> pd.DataFrame:
    if unresolved.empty:
        return pd.DataFrame()
    label = spec.get("label") or spec["from"].rstrip("s").replace("_", " ")
    hints = _did_you_mean(unresolved, inv, match)
    grouped = unresolved.assign(_hint=hints).groupby(level=0)
    messages = grouped.apply(lambda g: _message(g, label, node_names, left_out)).rename("message")
    idx = messages.index
    field = spec["field"]
    return pd.DataFrame(
        {
            "resource": profile.name,
            "sheet": frame.loc[idx, "_sheet"].to_numpy() if "_sheet" in frame else profile.sheet,
            "row": frame.loc[idx, ROW].to_numpy() if ROW in frame else None,
            "column": _source_column(profile, field),
            "check": "resolve",
            "severity": spec["severity"],
            "message": messages.to_numpy(),
            "value": grouped["_name"].agg(lambda s: ", ".join(map(str, s))).to_numpy(),
            "node": frame.loc[idx, NODE].map(node_names).to_numpy(),
            "_index": idx.to_numpy(),
        }
    )


def _did_you_mean(unresolved: pd.DataFrame, inv: pd.DataFrame, match: str) -> pd.Series:
    """A close existing name per unresolved (node, name), computed once per distinct pair."""
    if match not in inv:
        return pd.Series(None, index=unresolved.index, dtype=object)
    choices = inv.dropna(subset=[match]).groupby(NODE)[match].agg(lambda s: list(map(str, s)))
    pairs = unresolved.drop_duplicates()
    hint = {}
    for node, name in zip(pairs[NODE], pairs["_name"]):
        options = choices.get(node, [])
        lower = {o.lower(): o for o in options}
        close = (
            [lower[str(name).lower()]]
            if str(name).lower() in lower
            else difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
        )
        hint[(node, name)] = close[0] if close else None
    keys = pd.Series(list(zip(unresolved[NODE], unresolved["_name"])), index=unresolved.index)
    return keys.map(hint)


def _message(
    group: pd.DataFrame, label: str, node_names: dict[str, str], left_out: str | None = None
) -> str:
    node = node_names.get(group[NODE].iloc[0], group[NODE].iloc[0])
    unknown, skipped = [], []
    for name, hint, skip in zip(group["_name"], group["_hint"], group["_skip"]):
        if isinstance(skip, str):
            skipped.append(f"{label} '{name}' is not created: its own row is skipped ({skip})")
        else:
            unknown.append(
                f"'{name}'" + (f" (did you mean '{hint}'?)" if isinstance(hint, str) else "")
            )
    clauses = list(skipped)
    if unknown:
        noun = label if len(unknown) == 1 else f"{label}s"
        missing = f"unknown {noun} {', '.join(unknown)} {ON_NODE.format(node)}"
        if left_out:  # the workbook may define it: its resource is not planned in this run
            missing += f" ({left_out} are not in this plan: if the workbook defines it, add them to --resources)"
        clauses.insert(0, missing)
    return "; ".join(clauses)


def _source_column(profile: Profile, field: str) -> str:
    spec = profile.mapping.get(field)
    if isinstance(spec, dict) and "col" in spec:
        return spec["col"]
    return spec if isinstance(spec, str) else field


@dataclass
class _Verdicts:
    """Rows' ``_status`` and ``_reason`` as arrays while a frame is resolved."""

    status: np.ndarray
    reason: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Verdicts:
        n = len(frame)
        status = frame[STATUS].to_numpy(dtype=object) if STATUS in frame else np.full(n, "ok")
        reason = frame[REASON].to_numpy(dtype=object) if REASON in frame else np.full(n, None)
        return cls(status.astype(object), reason.astype(object).copy())

    def mark(self, index: pd.Index, findings: pd.DataFrame, severity: str) -> None:
        """Downgrade rows with blocking findings, their messages appended to the reason."""
        if findings.empty or severity == "warn":
            return
        reasons = findings.groupby("_index", sort=False)["message"].agg("; ".join)
        rows = index.get_indexer(reasons.index)
        self.reason[rows] = [
            f"{c}; {r}" if isinstance(c, str) and c else r
            for c, r in zip(self.reason[rows], reasons)
        ]
        self.status = self.status.copy()
        self.status[rows[self.status[rows] != "error"]] = severity

    def store(self, frame: pd.DataFrame) -> None:
        frame[STATUS] = pd.Series(self.status, index=frame.index, dtype=object)
        frame[REASON] = pd.Series(self.reason, index=frame.index, dtype=object)

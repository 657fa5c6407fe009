"""Planning: workbook + profiles + live inventory → a :class:`~directorsync.plan.Plan` value.

For each resource, in dependency order: read its sheet(s), map, precheck, fan out to the target
nodes, resolve names, list the inventory once per node, diff, template requests. Objects planned
for creation are added to the inventory so that later resources resolve them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from directorsync.cells import cellwise
from directorsync.config import new_run_id
from directorsync.diff import diff_frame, remote_columns
from directorsync.errors import DirectorError, ProfileError, WorkbookError
from directorsync.hooks.alert_rules import PUBLIC_IP_FALLBACK, block_on_absent_repos
from directorsync.hooks.registry import HOOKS, post_payloads, preprocess_rows
from directorsync.inventory import Inventory, ref, skipped_marker
from directorsync.jsonio import collector_paused, prompt_handoffs
from directorsync.logs import log_context
from directorsync.mapping import map_sheet
from directorsync.payload import build_requests
from directorsync.plan import LOG, Plan, Progress
from directorsync.prechecks import run_prechecks
from directorsync.profile.model import Profile, dependency_order
from directorsync.resolve import lookup_columns, lookups, resolve_frame
from directorsync.template_check import known_profiles, resolve_sheet_names, unread_column_notes
from directorsync.tenants import Node, Tenant
from directorsync.transforms import Context
from directorsync.vocabulary import (
    DEPENDS,
    FINDING_COLUMNS,
    KEY,
    NODE,
    NODE_NAME,
    PLAN_COLUMNS,
    ROW,
    ROWS,
    SHEET,
    SOURCE,
)
from directorsync.workbook import Workbook, source_label
from directorsync.writeonly import FORCE_UPDATE, write_only_rows


class _LazySheets(Mapping[str, pd.DataFrame]):
    """Sheets of a workbook loaded on first access; absent sheets read as missing."""

    def __init__(self, workbook: Workbook) -> None:
        self._wb = workbook

    def __getitem__(self, name: str) -> pd.DataFrame:
        if not self._wb.has_sheet(name):
            raise KeyError(name)
        return self._wb.sheet(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._wb.sheet_names)

    def __len__(self) -> int:
        return len(self._wb.sheet_names)


def build_plan(
    tenant: Tenant,
    workbook: Workbook,
    profiles: dict[str, Profile],
    inventory: Inventory,
    *,
    run_id: str | None = None,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    explicit: bool = False,
) -> Plan:
    """Plan every profile (dependency order) for one tenant and workbook.

    Args:
        tenant: the tenant planned for (its nodes and pool).
        workbook: the tenant's workbook.
        profiles: the profiles to plan, by resource name.
        inventory: Director's objects, listed per node as the plan needs them.
        run_id: the run's id (a new one if None).
        options: extra context for the transforms (the workbook name and the planned resources
            are added).
        progress: called with a line of text per resource planned.
        explicit: the resources were named by the user: a missing sheet is then an error
            (otherwise it is reported and the resource is left out).
    """
    started = time.perf_counter()
    workbook.sheet_names  # noqa: B018 - an unreadable file stops the plan here, with its message
    ctx = Context(
        sheets=_LazySheets(workbook),
        tenant=tenant,
        options={**(options or {}), "workbook": workbook.name, "planned": list(profiles)},
    )
    names = resolve_sheet_names(workbook.name, workbook.sheet_names, profiles)
    workbook.alias_sheets(names.aliases)
    rows, findings, notes = [], [], list(names.notes)
    headers: dict[str, tuple[str, list[str]]] = {}  # sheets mapped, for the unread columns
    timings: dict[str, float] = {}
    # one pause for the whole plan: millions of fresh containers (listings, frames), no cycles;
    # and prompt lock hand-overs to the threads receiving and parsing listings meanwhile
    with collector_paused(), prompt_handoffs():
        for name in dependency_order(profiles):
            profile = profiles[name]
            if name in names.blocked:  # an ambiguous sheet: the note says so
                continue
            if progress:
                progress(f"planning {name}")
            try:
                with log_context(tenant=tenant.name, pool=tenant.pool_uuid, resource=name):
                    planned, found, extra = plan_resource(
                        profile, workbook, tenant, inventory, ctx, timings
                    )
                    notes.extend(extra)
                    LOG.debug("planned %s", planned["action"].value_counts().to_dict())
            except WorkbookError as exc:
                level = "info" if exc.context.get("absent") and not explicit else "error"
                hint = exc.context.get("hint") if level == "error" else None
                notes.append(
                    {"resource": name, "level": level, "message": exc.message + (hint or "")}
                )
                continue
            except DirectorError as exc:  # a listing failed (after the client's retries)
                if _refused_access(exc):
                    raise
                text = exc.message.removeprefix("cannot list ")
                message = f"could not list {text}; its rows are not planned, the rest goes on"
                notes.append({"resource": name, "level": "error", "message": message})
                continue
            rows.append(planned)
            findings.append(found)
            for sheet in choose_sheet(profile, workbook).sheets:
                headers.setdefault(sheet, (name, list(workbook.sheet(sheet).columns)))
    notes.extend((ctx.options or {}).pop("notes", []))  # said by build hooks (per node)
    notes.extend(unread_column_notes(workbook.name, headers, known_profiles(profiles)))
    hidden = set(workbook.hidden_sheets)
    for name, profile in profiles.items():
        notes.extend(
            {
                "resource": name,
                "level": "info",
                "message": f"{workbook.name}: sheet '{sheet}' is hidden in the workbook; it is "
                "read like any other sheet",
            }
            for sheet in profile.sheets
            if sheet in hidden
        )
    if not rows and not any(n["level"] == "error" for n in notes):
        expected = ", ".join(dict.fromkeys(s for p in profiles.values() for s in p.sheets))
        notes.append(
            {
                "resource": "*",
                "level": "error",
                "message": (
                    f"{workbook.name}: no sheet of a known resource (sheets: {', '.join(workbook.sheet_names) or 'none'};"
                    f" expected one of: {expected})"
                ),
            }
        )
    all_rows = block_on_unplanned_repos(pd.concat(rows, ignore_index=True)) if rows else None
    if (
        all_rows is not None
        and "alert_rules" in profiles
        and "repos" not in set(all_rows["resource"])
    ):
        why = next((n["message"] for n in notes if n["resource"] == "repos"), None)
        why = why or "the resources planned do not include repos"
        fallback = bool((options or {}).get(PUBLIC_IP_FALLBACK))
        with collector_paused():
            block_on_absent_repos(all_rows, tenant, inventory, why, fallback)
    plan = Plan(
        tenant=tenant.name,
        pool_uuid=tenant.pool_uuid,
        workbook=workbook.name,
        resources=list(dependency_order(profiles)),
        rows=all_rows if all_rows is not None else pd.DataFrame(columns=PLAN_COLUMNS),
        findings=_concat_findings(findings),
        notes=notes,
        run_id=run_id or new_run_id(),
    )
    inventory.release_received()  # the plan is made: received bodies are not needed any more
    plan.stage_timings = timings
    plan.timings["plan"] = round(time.perf_counter() - started, 3)
    return plan


def _refused_access(exc: BaseException | None) -> bool:
    """Every listing would fail the same way: Director unreachable, TLS, token or rights."""
    while exc is not None:
        if getattr(exc, "status", None) in (401, 403):
            return True
        if any(m in str(exc) for m in ("cannot reach Director", "TLS")):
            return True
        exc = exc.__cause__
    return False


def block_on_unplanned_repos(rows: pd.DataFrame) -> pd.DataFrame:
    """Skip alert rules that search a repo whose row was skipped.

    Such a rule (its repo is not on Director either) is skipped before sending, naming the repo
    and why it was not planned.
    """
    if rows.empty or not rows["resource"].eq("repos").any():
        return rows
    repos = rows[rows["resource"].eq("repos")]
    unplanned = repos[repos["action"].isin(["skip", "error"]) & repos["remote_id"].isna()]
    why = dict(zip(unplanned["key"], unplanned["reason"]))
    if not why:
        return rows
    alerts = rows["resource"].eq("alert_rules") & rows["action"].isin(["create", "update"])
    for i in rows.index[alerts]:
        payload: dict[str, Any] = rows.at[i, "payload"] or {}  # type: ignore[assignment]
        names = [str(r).rsplit("/", 1)[-1] for r in payload.get("repos") or []]
        missing = next((n for n in names if n in why), None)
        if missing is not None:
            rows.at[i, "action"] = "skip"
            rows.at[i, "reason"] = (
                f"repo '{missing}' was not planned ({why[missing]}): fix its row in the Repo "
                "sheet first"
            )
    return rows


def _concat_findings(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and not p.empty]
    if not parts:
        return pd.DataFrame(columns=[*FINDING_COLUMNS, "node"])
    out = pd.concat(parts, ignore_index=True)
    out = out.drop(columns=["_index"], errors="ignore")
    if "node" not in out:
        out["node"] = None
    order = {name: i for i, name in enumerate(dict.fromkeys(out["resource"]))}
    out = (
        out.assign(_order=out["resource"].map(order))
        .sort_values(["_order", "sheet", "row"], kind="stable")
        .drop(columns="_order")
    )
    return out[[*FINDING_COLUMNS, "node"]].reset_index(drop=True)


def choose_sheet(profile: Profile, workbook: Workbook) -> Profile:
    """With ``xlsx.sheet: [A, B]``, the profile reading the first of them the workbook has."""
    options = profile.xlsx.get("sheet")
    if not isinstance(options, list):
        return profile
    present = [s for s in options if workbook.has_sheet(s)]
    raw = copy.deepcopy(profile.raw)
    raw["xlsx"]["sheet"] = present[0] if present else options[0]
    return Profile(profile.name, profile.path, raw)


def desired_frame(profile: Profile, workbook: Workbook, ctx: Context) -> pd.DataFrame:
    """The mapped frame of one profile (before prechecks).

    Raises:
        WorkbookError: the sheet is absent (``absent=True`` in the context) or lacks columns.
    """
    for sheet in profile.sheets:
        if not workbook.has_sheet(sheet):
            raise WorkbookError(
                f"{workbook.name}: sheet '{sheet}' is absent; {profile.name} not planned",
                file=workbook.name,
                sheet=sheet,
                absent=True,
                hint=workbook.sheet_hint(sheet),
            )
    build = profile.hooks.get("build")
    if build:
        return HOOKS.get(build, "build")(ctx.sheets, profile, ctx)
    if profile.sheet is None:
        raise ProfileError(f"{profile.name}: the profile names no xlsx.sheet (nor a build hook)")
    return map_sheet(workbook.sheet(profile.sheet), profile, ctx, workbook.name)


class _Laps:
    """Seconds spent in each stage of a resource's plan (``timings["devices.map"]``…)."""

    def __init__(self, timings: dict[str, float] | None, resource: str) -> None:
        self.timings, self.resource = timings, resource
        self.last = time.perf_counter()

    def lap(self, stage: str, minus: float = 0.0) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            key = f"{self.resource}.{stage}"
            self.timings[key] = round(self.timings.get(key, 0.0) + now - self.last - minus, 3)
        self.last = now


def columns_read(profiles: Iterable[Profile]) -> tuple[set[str], set[str]]:
    """What a plan may read of a workbook, for :attr:`Workbook.read_columns`.

    Returns:
        Every name the profiles' ``xlsx`` sections mention (columns, aliases, lookup columns of
        other sheets), lower-cased: a superset of the columns a plan reads; and the extra sheets
        of the profiles (read by hooks, every column of them counts).
    """
    names: set[str] = set()
    sheets: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            names.add(value.strip().lower())
        elif isinstance(value, dict):  # keys are field names (not columns) but in aliases
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for profile in profiles:
        collect(profile.xlsx)
        collect(list(profile.xlsx.get("aliases") or {}))
        sheets.update(profile.sheets[1:])
    return names, sheets


def plan_resource(
    profile: Profile,
    workbook: Workbook,
    tenant: Tenant,
    inventory: Inventory,
    ctx: Context,
    timings: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, str]]]:
    """Plan one resource: rows in ``PLAN_COLUMNS``, its findings and notes.

    Args:
        profile: the resource's profile.
        workbook: the workbook holding its sheets.
        tenant: the tenant planned for.
        inventory: Director's objects; the objects this plan creates are registered in it.
        ctx: what context-aware transforms read (the workbook's sheets, the tenant).
        timings: receives the seconds spent per stage (map, prechecks, resolve, listing —
            waiting for and decoding Director's objects —, diff, payload, rows).
    """
    laps = _Laps(timings, profile.name)
    profile = choose_sheet(profile, workbook)
    nodes = tenant.nodes_for(profile.name, profile.targets)
    if nodes and all(workbook.has_sheet(s) for s in profile.sheets):
        # list (and decode) what the diff and the lookups need while the sheet is mapped
        inventory.prefetch(profile.name, nodes, remote_columns(profile))
        for spec in lookups(profile):
            inventory.prefetch(spec["from"], nodes, lookup_columns(spec, inventory))
    frame = preprocess_rows(desired_frame(profile, workbook, ctx), profile, ctx)
    laps.lap("map")
    frame, findings = run_prechecks(frame, profile, workbook.name)
    frame[SOURCE] = _source_labels(workbook.name, *_sheet_and_rows(frame, profile))
    laps.lap("prechecks")
    if not nodes:
        raise WorkbookError(
            f"tenant {tenant.name} has no node for {profile.name} "
            f"(roles {profile.targets or tenant.targets.get(profile.name)})"
        )
    node_frame = pd.DataFrame({NODE: [n.id for n in nodes], NODE_NAME: [n.name for n in nodes]})
    fanned = frame.merge(node_frame, how="cross")
    planned = (ctx.options or {}).get("planned")
    fanned, unresolved = resolve_frame(fanned, profile, inventory, nodes, planned)
    hook = profile.hooks.get("desired")
    if hook:
        fanned = HOOKS.get(hook, "desired")(
            fanned, profile, {"inventory": inventory, "tenant": tenant}
        )
    laps.lap("resolve")
    listings: dict[str, pd.DataFrame] = {}
    by_id = {n.id: n for n in nodes}
    waited = [0.0]
    unlisted: dict[str, str] = {}  # node id → why its listing failed

    def listing(node_id: str) -> pd.DataFrame:  # each node's when its rows are diffed
        started = time.perf_counter()
        try:
            frame = inventory.frame(profile.name, by_id[node_id], remote_columns(profile))
        except DirectorError as exc:  # that node's rows are ERROR, the others are planned
            if _refused_access(exc):
                raise
            unlisted[node_id] = "could not list " + exc.message.removeprefix("cannot list ")
            named = dict.fromkeys([*profile.remote_key, profile.id_field])
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in named})
        else:
            listings[node_id] = frame
        waited[0] += time.perf_counter() - started
        return frame

    diffed = unlisted_rows(diff_frame(fanned, listing, profile), unlisted)
    forced = (ctx.options or {}).get(FORCE_UPDATE) or ()
    diffed, blind = write_only_rows(diffed, profile, listings, forced)
    if timings is not None:
        key = f"{profile.name}.listing"
        timings[key] = round(timings.get(key, 0.0) + waited[0], 3)
    laps.lap("diff", minus=waited[0])
    diffed = post_payloads(build_requests(diffed, profile), profile, ctx)
    laps.lap("payload")
    _register_creates(diffed, profile, inventory, nodes)
    notes = _unseen_fields(profile, list(listings.values())) + blind
    planned = _plan_rows(diffed, profile, workbook.name)
    found = _concat_findings([findings, unresolved])
    laps.lap("rows")
    return planned, found, notes


def unlisted_rows(frame: pd.DataFrame, unlisted: Mapping[str, str]) -> pd.DataFrame:
    """The rows of nodes whose listing failed are ERROR, saying so (nothing known to compare)."""
    if not unlisted:
        return frame
    failed = frame[NODE].isin(list(unlisted))
    frame.loc[failed, "action"] = "error"
    frame.loc[failed, "reason"] = frame.loc[failed, NODE].map(unlisted)
    return frame


def _unseen_fields(profile: Profile, listings: list[pd.DataFrame]) -> list[dict[str, str]]:
    """A note for compared fields Director does not return (changes to them go undetected)."""
    listings = [frame for frame in listings if not frame.empty]
    fields = profile.diff.get("write_only_if_absent") or []
    unseen = [f for f in fields if not any(f in frame for frame in listings)]
    if not listings or not unseen:
        return []
    return [
        {
            "resource": profile.name,
            "level": "info",
            "message": (
                f"Director's listing has no {', '.join(unseen)}: they are sent on create but a change to "
                "them on an existing object cannot be detected"
            ),
        }
    ]


def _register_creates(
    frame: pd.DataFrame, profile: Profile, inventory: Inventory, nodes: list[Node]
) -> None:
    """Objects this plan creates — and those it would create but skips — for later resources."""
    action = frame["action"].to_numpy(dtype=object)
    creates = action == "create"
    # the few rows created, skipped or in error are looked at; not every row of the plan
    rows = np.flatnonzero(creates | (action == "skip") | (action == "error"))
    keys = frame[KEY].to_numpy(dtype=object)[rows]
    absent = pd.isna(frame["remote_id"].to_numpy(dtype=object)[rows])
    named = (creates[rows] | absent) & pd.notna(keys) & (keys != "")
    rows, keys = rows[named], keys[named]
    if not len(rows):
        return
    reasons = frame["reason"].to_numpy(dtype=object)
    ids = np.array(
        [
            ref(profile.name, k) if c else skipped_marker(str(r))
            for k, c, r in zip(keys, creates[rows], reasons[rows])
        ],
        dtype=object,
    )
    node_of = frame[NODE].to_numpy(dtype=object)[rows]
    for node in nodes:
        on_node = node_of == node.id
        if not on_node.any():
            continue
        planned = pd.DataFrame(
            {
                remote: frame[local].to_numpy(dtype=object)[rows[on_node]]
                for local, remote in zip(profile.natural_key, profile.remote_key)
            }
        )
        planned[profile.id_field] = ids[on_node]
        inventory.add_planned(profile.name, node, planned)


def _sheet_and_rows(frame: pd.DataFrame, profile: Profile) -> tuple[pd.Series, pd.Series]:
    rows = frame[ROWS] if ROWS in frame else frame[ROW].map(lambda r: [r])
    sheet = frame[SHEET] if SHEET in frame else pd.Series(profile.sheet, index=frame.index)
    return sheet, rows


def _plan_rows(frame: pd.DataFrame, profile: Profile, workbook: str) -> pd.DataFrame:
    sheet, rows_col = _sheet_and_rows(frame, profile)
    out = pd.DataFrame(
        {
            "resource": profile.name,
            "node_id": frame[NODE],
            "node_name": frame[NODE_NAME],
            "key": frame[KEY],
            "action": frame["action"],
            "reason": frame["reason"],
            "changes": frame["changes"],
            "payload": frame["payload"],
            "method": frame["method"],
            "path": frame["path"],
            "remote_id": frame["remote_id"],
            "remote_hash": frame["remote_hash"],
            "depends_on": _dependencies(frame[DEPENDS]),
            "sheet": sheet,
            "excel_rows": rows_col,
        },
        index=frame.index,
    )
    out["source"] = frame[SOURCE] if SOURCE in frame else _source_labels(workbook, sheet, rows_col)
    out["drift"] = None  # filled by directorsync.drift when the ledger knows the last apply
    return out.reset_index(drop=True)


def _dependencies(refs: pd.Series) -> pd.Series:
    """``$ref:resource:key`` lists → ``resource:key`` lists (``()``, JSON ``[]``, for none)."""
    return pd.Series(_DEPENDENCIES(refs), index=refs.index, dtype=object)


_DEPENDENCIES = cellwise(lambda items: [r.split(":", 1)[1] for r in items] if items else ())


def _source_labels(workbook: str, sheets: pd.Series, rows: pd.Series) -> pd.Series:
    """``book.xlsx › Sheet › row 7`` (or ``rows 2, 3``), one label per object."""
    sheet_of = sheets.to_numpy(dtype=object)
    rows_text = _ROWS_LABEL(rows)
    labels = np.empty(len(rows), dtype=object)
    for sheet in pd.unique(sheet_of):
        on_sheet = sheet_of == sheet
        labels[on_sheet] = source_label(workbook, sheet, None) + " › " + rows_text[on_sheet]
    return pd.Series(labels, index=rows.index, dtype=object)


def _rows_label(rows: list[int]) -> str:
    if len(rows) == 1:
        return f"row {rows[0]}"
    return "rows " + ", ".join(map(str, rows))


_ROWS_LABEL = cellwise(_rows_label)

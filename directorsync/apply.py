"""Apply: push a plan's changed rows to Director, concurrently and safely.

- Only ``create``/``update``/``delete`` rows are sent (optionally a selection of them); every
  other row is carried into the result as UNCHANGED / SKIP / ERROR with its reason.
- Resources go in dependency order, then their deletes in reverse order (docs/lifecycle.md);
  inside a resource, rows go in ``apply.waves`` order (syslog ``use_as_proxy`` before
  ``uses_proxy``), each node with at most ``concurrency`` orders in flight.
- ``$ref:`` placeholders (objects created earlier in the run) are replaced by their new ids,
  found by re-listing the dependency once per node. A row whose dependency failed is reported as
  blocked and never sent.
- Failures stay in their row: Director's refusal or failed order → ERROR with Director's text;
  anything unexpected → EXCEPTION. Writes refused before Director acted (HTTP 5xx with a JSON
  body, 429) and failed orders are retried with backoff. A create whose outcome is unknown
  (dropped connection, timeout) is never blindly re-sent: the resource is re-listed and the object
  looked up by natural key first; only if it is still absent after its order had time to finish
  is the create sent again — no duplicates.
- ``actions.after_write`` runs follow-up actions (alert rule activate/deactivate).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from directorsync.diff import key_series, remote_hash
from directorsync.director.orders import transient_failure
from directorsync.director.pacing import WriteWindow, write_window
from directorsync.errors import (
    AmbiguousWriteError,
    DirectorError,
    DirectorHTTPError,
    OrderError,
    TransportError,
    may_pass,
)
from directorsync.hooks.registry import apply_hook
from directorsync.inventory import Inventory, is_ref
from directorsync.jsonio import collector_paused
from directorsync.logs import log_context
from directorsync.plan import Plan, plain_rows
from directorsync.preimage import rows_pre_images
from directorsync.profile.model import Profile
from directorsync.runresult import result_value
from directorsync.tenants import Node, Tenant
from directorsync.verify import verify_result
from directorsync.vocabulary import REF_PREFIX
from directorsync.writeguard import RowSettled, WriteGuard, already_present

if TYPE_CHECKING:
    from directorsync.director.orders import OrderOutcome

LOG = logging.getLogger("directorsync.apply")
DRY = {"create": "PLANNED_CREATE", "update": "PLANNED_UPDATE", "delete": "PLANNED_DELETE"}
CARRIED = {"unchanged": "UNCHANGED", "skip": "SKIP", "error": "ERROR"}
Progress = Callable[[int, int, dict[str, Any]], None]


@dataclass
class ApplyOptions:
    """How to apply."""

    concurrency: int = 8
    dry_run: bool = False
    retries: int = 3
    backoff: float = 0.2
    check_stale: bool = False
    confirm_polls: int = 6
    sleep: Callable[[float], None] = time.sleep
    #: rows an earlier apply created or updated (their objects are there for rows depending on them)
    present: frozenset[int] = frozenset()
    guard: WriteGuard | None = None  # journal, stop, resume (default: a guard without ledger)
    verify: bool = True  # read back what was applied and compare (directorsync.verify)


@dataclass
class _Run:
    plan: Plan
    client: Any
    tenant: Tenant
    inventory: Inventory
    profiles: dict[str, Profile]
    options: ApplyOptions
    progress: Progress | None
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    done: int = 0
    total: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: dict[tuple[str, str, str], str] = field(default_factory=dict)
    failed: dict[tuple[str, str, str], str] = field(default_factory=dict)
    fresh: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    records: Any = ()  # plan rows as dicts (read-only), by position; then the rows to send only
    id_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    guard: Any = None
    before: dict[int, dict[str, Any] | None] = field(default_factory=dict)  # pre-images


def apply_plan(
    plan: Plan,
    client: Any,
    tenant: Tenant,
    inventory: Inventory,
    profiles: dict[str, Profile],
    *,
    selection: list[int] | None = None,
    options: ApplyOptions | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Apply a plan and return the ``directorsync/result@1`` value.

    Args:
        plan: the plan to apply (its rows are sent as they are).
        client: the Director client that sends the writes and follows their orders.
        tenant: the tenant the plan was made for (its pool and nodes).
        inventory: Director's objects, re-listed to resolve ids and to check for stale rows.
        profiles: the profiles of the plan's resources, by name.
        selection: positional indices of ``plan.rows`` to send (default: every changed row);
            changed rows outside the selection are reported as SKIP "not selected".
        options: retries, back-off, concurrency, dry run and stale checks (defaults if None).
        progress: called after each row with (rows done, rows to send, the row's result).
    """
    options = options or ApplyOptions()
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    run = _Run(plan, client, tenant, inventory, profiles, options, progress)
    run.guard = options.guard or WriteGuard(client, tenant.pool_uuid, profiles=profiles)
    rows = plan.rows.reset_index(drop=True)
    with collector_paused():  # a large plan: hundreds of thousands of dicts, without cycles
        run.records = plain_rows(rows) if len(rows) else []
        todo = _carry_over(run, selection)
    run.records = {i: run.records[i] for i in todo}  # the others are in run.results now
    run.total = len(todo)
    if options.check_stale and not options.dry_run:
        todo = _drop_stale(run, todo)
    _block_unapplied(run, rows, todo)
    resources: Any = rows["resource"].to_numpy(dtype=object) if len(rows) else []
    deletes = set(rows.index[rows["action"] == "delete"]) if len(rows) else set()
    passes = [(r, False) for r in plan.resources] + [(r, True) for r in plan.resources[::-1]]
    for resource, deleting in passes:
        mine = [i for i in todo if resources[i] == resource and (i in deletes) == deleting]
        if mine:
            with log_context(tenant=tenant.name, pool=tenant.pool_uuid, resource=resource):
                LOG.info("applying %d %s row(s)", len(mine), resource)
                _apply_resource(run, rows, resource, mine)
    ordered = [run.results[i] for i in range(len(rows))]
    result = result_value(plan, ordered, started, time.perf_counter() - t0, options.dry_run)
    return verify_result(result, inventory, profiles, options.verify, run.guard)


def _carry_over(run: _Run, selection: list[int] | None) -> list[int]:
    """Fill results for rows that are not sent; return the indices to send."""
    chosen = None if selection is None else set(selection)
    todo = []
    for i, row in enumerate(run.records):
        action = row.get("action")
        if action in DRY and (chosen is None or i in chosen):
            if run.options.dry_run:
                run.results[i] = _row_result(row, DRY[action], row.get("reason"))
            else:
                todo.append(i)
        elif action in DRY:
            run.results[i] = _row_result(row, "SKIP", "not selected for this apply")
        else:
            run.results[i] = _row_result(row, CARRIED.get(action, "ERROR"), row.get("reason"))
    return todo


def _block_unapplied(run: _Run, rows: pd.DataFrame, todo: list[int]) -> None:
    """Creates that are not sent in this run (not selected, stale) cannot serve as dependencies."""
    sending = set(todo)
    creates = (rows["action"] == "create").to_numpy()
    columns = [rows[c].to_numpy(dtype=object) for c in ("resource", "node_id", "key")]
    for i in creates.nonzero()[0].tolist():
        if i not in sending and i not in run.options.present:
            key = (columns[0][i], columns[1][i], columns[2][i])
            reason = run.results[i].get("reason") if i in run.results else None
            run.failed[key] = f"not applied in this run: {reason or 'not selected'}"


def _row_result(
    row: dict[str, Any], status: str, reason: Any = None, **extra: Any
) -> dict[str, Any]:
    out = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
    out.update(status=status, error=None, order_id=None, duration_ms=None, attempts=0)
    if status in ("ERROR", "EXCEPTION") and not extra.get("error"):
        out["error"] = reason
    out["reason"] = reason
    out.update(extra)
    return out


def _nodes(run: _Run) -> dict[str, Node]:
    return {n.id: n for n in run.tenant.nodes}


def _drop_stale(run: _Run, todo: list[int]) -> list[int]:
    """Refuse rows whose remote object changed since the plan was made."""
    keep = []
    nodes = _nodes(run)
    for i in todo:
        row = run.records[i]
        profile = run.profiles[row["resource"]]
        node = nodes[row["node_id"]]
        remote = _fresh_listing(run, profile, node)
        now = _remote_hash_for(remote, profile, row["key"])
        if now != row.get("remote_hash"):
            what = (
                "now exists"
                if row.get("remote_hash") is None
                else ("was deleted" if now is None else "changed")
            )
            run.results[i] = _row_result(
                row,
                "SKIP",
                f"stale: the object {what} on Director since the plan was made; plan again",
            )
            _tick(run, run.results[i])
        else:
            keep.append(i)
    return keep


def _fresh_listing(run: _Run, profile: Profile, node: Node) -> pd.DataFrame:
    """A listing made during this apply (once per resource and node for the stale check)."""
    key = (profile.name, node.id)
    with run.lock:
        if key in run.fresh:
            return run.fresh[key]
    frame = run.inventory.refresh(profile.name, node)
    if "_planned" in frame:
        frame = frame[~frame["_planned"].fillna(False).astype(bool)]
    with run.lock:
        run.fresh[key] = frame
    return frame


def _remote_hash_for(remote: pd.DataFrame, profile: Profile, key: str) -> str | None:
    if remote.empty:
        return None
    keys = key_series(remote, profile.remote_key)
    match = remote[keys == key]
    if match.empty:
        return None
    return remote_hash(match.head(1), profile).iloc[0]


def _apply_resource(run: _Run, rows: pd.DataFrame, resource: str, todo: list[int]) -> None:
    profile = run.profiles[resource]
    waves = _waves(rows, todo, profile)
    nodes = _nodes(run)
    nids, limit = set(rows.loc[todo, "node_id"]), run.options.concurrency
    per_node = {nid: write_window(run.client, nid, limit) for nid in nids}
    run.before.update(rows_pre_images(run.inventory, profile, nodes, run.records, todo))
    workers = max(1, min(64, run.options.concurrency * len(per_node)))
    for wave in waves:
        with ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"apply-{resource}"
        ) as pool:
            futures = [
                pool.submit(
                    _guarded,
                    run,
                    run.records[i],
                    i,
                    profile,
                    nodes[run.records[i]["node_id"]],
                    per_node[run.records[i]["node_id"]],
                )
                for i in wave
            ]
            for f in futures:
                f.result()


def _waves(rows: pd.DataFrame, todo: list[int], profile: Profile) -> list[list[int]]:
    """Split rows into ordered waves by ``apply.waves: {field, order}`` (payload field)."""
    spec = profile.section("apply").get("waves")
    if not spec:
        return [todo]
    order = [str(v) for v in spec.get("order") or []]

    def rank(i: int) -> int:
        payload = cast("dict[str, Any] | None", rows.at[i, "payload"])
        value = str((payload or {}).get(spec["field"]))
        return order.index(value) if value in order else len(order)

    buckets: dict[int, list[int]] = {}
    for i in todo:
        buckets.setdefault(rank(i), []).append(i)
    return [buckets[k] for k in sorted(buckets)]


def _guarded(
    run: _Run, row: dict[str, Any], i: int, profile: Profile, node: Node, slots: WriteWindow
) -> None:
    started = time.perf_counter()
    context = {
        "tenant": run.tenant.name,
        "pool": run.tenant.pool_uuid,
        "resource": profile.name,
        "node": node.name,
    }
    with log_context(**context):
        try:
            with slots:
                result = _apply_row(run, row, profile, node)
        except Exception as exc:  # noqa: BLE001 - one failing row never stops the run
            LOG.exception("%s %s: unexpected error", row["method"], row["key"])
            result = _row_result(row, "EXCEPTION", f"{exc.__class__.__name__}: {exc}")
        result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
        if i in run.before:
            result["before"] = run.before[i]
        _log_row(result)
    key = (row["resource"], row["node_id"], row["key"])
    with run.lock:
        run.results[i] = result
        if result["status"] not in ("CREATED", "UPDATED", "UNCHANGED"):
            run.failed[key] = result.get("error") or result.get("reason") or result["status"]
    _tick(run, result)


def _log_row(result: dict[str, Any]) -> None:
    """One action-log line per row sent: status, key, order, attempts, time, reason or error."""
    failed_row = result["status"] in ("ERROR", "EXCEPTION")
    LOG.log(
        logging.WARNING if failed_row else logging.DEBUG,
        "%s %s %s (order %s, %d attempt(s), %.0f ms)%s",
        result["status"],
        result.get("method"),
        result["key"],
        result.get("order_id") or "-",
        result.get("attempts") or 0,
        result.get("duration_ms") or 0,
        f": {result.get('error') or result.get('reason')}"
        if (failed_row or result.get("reason"))
        else "",
    )


def _tick(run: _Run, result: dict[str, Any]) -> None:
    with run.lock:
        run.done += 1
        done = run.done
    if run.progress:
        run.progress(done, run.total, result)


def _apply_row(run: _Run, row: dict[str, Any], profile: Profile, node: Node) -> dict[str, Any]:
    try:
        return _apply_guarded_row(run, row, profile, node)
    except RowSettled as settled:  # stopping, settled by a resumed run, or already present
        return _row_result(row, settled.status, settled.reason)


def _apply_guarded_row(
    run: _Run, row: dict[str, Any], profile: Profile, node: Node
) -> dict[str, Any]:
    run.guard.check(row)
    blocked = [d for d in row.get("depends_on") or [] if _dep_key(d, node) in run.failed]
    if blocked:
        reasons = "; ".join(f"{d} failed ({run.failed[_dep_key(d, node)]})" for d in blocked)
        return _row_result(row, "ERROR", f"blocked: depends on {reasons}")
    try:
        payload = _substitute(run, row.get("payload") or {}, node)
        path = _substitute(run, row["path"], node)
    except LookupError as exc:
        return _row_result(row, "ERROR", f"blocked: {exc}")
    hook_ctx = {"resource": profile.name, "node": node.name, "row": row}
    payload = apply_hook(profile, "pre_apply", hook_ctx, payload)
    status = {"POST": "CREATED", "PUT": "UPDATED", "DELETE": "DELETED"}[row["method"]]
    try:
        attempts, outcome, note = _send(run, row, profile, node, path, payload)
    except AmbiguousWriteError as exc:
        return _row_result(
            row,
            "ERROR",
            f"outcome unknown after retries ({exc}); check the object on Director and plan again",
            attempts=getattr(exc, "attempts", 0),
        )
    except DirectorError as exc:
        return _row_result(row, "ERROR", exc.message, attempts=getattr(exc, "attempts", 0))
    result = _row_result(
        row,
        status,
        note or row.get("reason"),
        attempts=attempts,
        order_id=getattr(outcome, "order_id", None) or None,
    )
    result["payload"] = payload
    _after_write(run, row, profile, node, result)
    return apply_hook(profile, "post_apply", hook_ctx, result)


def _dep_key(dep: str, node: Node) -> tuple[str, str, str]:
    resource, key = dep.split(":", 1)
    return resource, node.id, key


def _substitute(run: _Run, value: Any, node: Node) -> Any:
    """Replace ``$ref:resource:key`` placeholders (anywhere in a value) with created ids."""
    if isinstance(value, dict):
        return {k: _substitute(run, v, node) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(run, v, node) for v in value]
    if isinstance(value, str) and REF_PREFIX in value:
        if is_ref(value):
            return _created_id(run, value[len(REF_PREFIX) :], node)
        parts = value.split(REF_PREFIX)
        return parts[0] + "".join(
            _created_id(run, p.split("/")[0], node) + p[len(p.split("/")[0]) :] for p in parts[1:]
        )
    return value


def _created_id(run: _Run, dep: str, node: Node) -> str:
    resource, key = dep.split(":", 1)
    cache_key = (resource, node.id, key)
    with run.lock:
        if cache_key in run.ids:
            return run.ids[cache_key]
    with run.lock:
        listing_lock = run.id_locks.setdefault((resource, node.id), threading.Lock())
    with listing_lock:  # one listing at a time; a thread that waited may find its id already
        with run.lock:
            if cache_key in run.ids:
                return run.ids[cache_key]
        ids = _ids_on_node(run, run.profiles[resource], node)
        with run.lock:
            run.ids.update({(resource, node.id, k): v for k, v in ids.items()})
    if key not in ids:
        raise LookupError(f"{resource} '{key}' was not found on {node.name} after its creation")
    return ids[key]


def _ids_on_node(run: _Run, profile: Profile, node: Node) -> dict[str, str]:
    """Natural key → id of every object of a resource on a node, listed now.

    A listing that fails in a way that can pass (no answer, HTTP 5xx or 429) is listed again
    with backoff inside the row: the write before it succeeded, the row must say so.
    """
    for attempt in range(1, run.options.retries + 2):
        try:
            remote = run.inventory.refresh(profile.name, node)
            break
        except DirectorError as exc:
            if attempt > run.options.retries or not may_pass(exc):
                raise
        run.options.sleep(min(5.0, run.options.backoff * 2 ** (attempt - 1)))
    if remote.empty:
        return {}
    if "_planned" in remote:
        remote = remote[~remote["_planned"].fillna(False).astype(bool)]
    ids = remote[profile.id_field]
    keys = key_series(remote, profile.remote_key)
    keep = ids.notna()
    return dict(zip(keys[keep], ids[keep].astype(str)))


def _remote_object(run: _Run, profile: Profile, node: Node, key: str) -> dict[str, Any] | None:
    """The object with this natural key on the node (write shape), listed now."""
    remote = run.inventory.refresh(profile.name, node)
    if remote.empty:
        return None
    if "_planned" in remote:
        remote = remote[~remote["_planned"].fillna(False).astype(bool)]
    match = remote[key_series(remote, profile.remote_key) == key]
    return None if match.empty else cast(dict[str, Any], match.iloc[0].to_dict())


def _send(
    run: _Run, row: dict[str, Any], profile: Profile, node: Node, path: str, payload: dict[str, Any]
) -> tuple[int, OrderOutcome | None, str | None]:
    """Send one write with the retry rules; returns (attempts, outcome, note)."""
    pool = run.tenant.pool_uuid
    attempts = 0
    while True:
        attempts += 1
        try:
            return _send_once(run, row, profile, node, path, payload, pool, attempts)
        except _Retry:
            pass
        except DirectorError as exc:
            exc.attempts = attempts
            raise
        run.options.sleep(min(5.0, run.options.backoff * 2 ** (attempts - 1)))


class _Retry(Exception):
    """Internal: the attempt failed in a way that is safe to retry."""


def _send_once(
    run: _Run,
    row: dict[str, Any],
    profile: Profile,
    node: Node,
    path: str,
    payload: dict[str, Any],
    pool: str,
    attempts: int,
) -> tuple[int, OrderOutcome | None, str | None]:
    """One attempt: ``(attempts, outcome, note)``; :class:`_Retry` if safe to retry, else raises."""
    last = attempts > run.options.retries
    try:
        outcome, note = run.guard.write(
            row, node.id, path, payload, lambda: _remote_object(run, profile, node, row["key"])
        )
        return attempts, outcome, note
    except AmbiguousWriteError:
        # a create whose outcome is unknown is never re-sent before looking for the object;
        # an update (PUT of the same body) is idempotent and can simply be sent again
        if row["method"] == "POST" and _confirm_created(run, profile, node, row["key"]):
            return attempts, None, "created (confirmed by re-listing after an unanswered request)"
        if last:
            raise
    except OrderError as exc:
        if row["method"] == "POST":  # someone (maybe an unanswered request of ours) made it?
            present = _remote_object(run, profile, node, row["key"])
            if present is not None:
                raise already_present(
                    profile, payload, present, ours=run.guard.maybe_ours(row)
                ) from exc
        if last or exc.timed_out or not transient_failure([exc.message, *exc.errors]):
            raise _as_row_error(exc) from exc  # a refusal (validation) is final at once
    except DirectorHTTPError as exc:
        if (exc.status < 500 and exc.status != 429) or last:
            raise _as_row_error(exc) from exc
    except TransportError:
        if last:
            raise
    raise _Retry


class RowError(DirectorError):
    """A row failed on Director's side (its message is Director's text)."""


def _as_row_error(exc: DirectorError) -> RowError:
    text = (
        getattr(exc, "director_message", "")
        or "; ".join(getattr(exc, "errors", []) or [])
        or exc.message
    )
    return RowError(text)


def _confirm_created(run: _Run, profile: Profile, node: Node, key: str) -> bool:
    """After an unanswered create: look for the object, giving its order time to finish."""
    for attempt in range(run.options.confirm_polls):
        if _ids_on_node(run, profile, node).get(key):
            return True
        run.options.sleep(min(2.0, 0.05 * 2**attempt))
    return False


def _after_write(
    run: _Run, row: dict[str, Any], profile: Profile, node: Node, result: dict[str, Any]
) -> None:
    """Follow-up actions (``actions.after_write``): ``{path, when: {field: value}}``."""
    actions = profile.actions.get("after_write") or []
    payload = row.get("payload") or {}
    for action in actions:
        when = action.get("when") or {}
        source = {**payload, **(row.get("extra") or {})}
        if any(source.get(k) != v for k, v in when.items()):
            continue
        try:
            obj_id = row.get("remote_id") or _created_id(run, f"{profile.name}:{row['key']}", node)
        except LookupError as exc:
            result.update(status="ERROR", error=f"{action['path']}: {exc}")
            return
        path = action["path"].replace("{id}", str(obj_id))
        try:
            _send_action(run, node, path)
        except DirectorError as exc:
            result.update(status="ERROR", error=f"{path}: {exc}")


def _send_action(run: _Run, node: Node, path: str) -> None:
    """A follow-up action (idempotent: activate/deactivate), retried like any safe write."""
    for attempt in range(1, run.options.retries + 2):
        try:
            run.client.write("POST", run.tenant.pool_uuid, node.id, path, {})
            return
        except (AmbiguousWriteError, OrderError, TransportError) as exc:
            if attempt > run.options.retries or getattr(exc, "timed_out", False):
                raise
        except DirectorHTTPError as exc:
            if (exc.status < 500 and exc.status != 429) or attempt > run.options.retries:
                raise
        run.options.sleep(min(5.0, run.options.backoff * 2 ** (attempt - 1)))

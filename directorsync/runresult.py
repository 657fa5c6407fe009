"""The result of a run that was stopped at once (a second Ctrl-C): what is known, no more.

A normal or a cancelled apply returns its result from :func:`~directorsync.apply.apply_plan`
(never-sent rows SKIP "cancelled"). A run stopped at once cannot wait for that, so its result is
assembled from the rows that finished, the rows whose write left (outcome unknown: ERROR naming
``--resume``) and the rest (SKIP "cancelled").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from directorsync.ledger.journal import row_key
from directorsync.plan import Plan, plain_rows
from directorsync.vocabulary import CANCELLED_REASON, RESULT_SCHEMA

CARRIED = {"unchanged": "UNCHANGED", "skip": "SKIP", "error": "ERROR"}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"by_status", "by_resource"}`` of result rows."""
    by_status: dict[str, int] = {}
    by_resource: dict[str, dict[str, int]] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        res = by_resource.setdefault(r["resource"], {})
        res[r["status"]] = res.get(r["status"], 0) + 1
    return {"by_status": by_status, "by_resource": by_resource}


def partial_result(
    plan: Plan,
    known: dict[str, dict[str, Any]],
    sent: set[str],
    *,
    run_id: str,
    started: dt.datetime,
    selection: list[int] | None = None,
) -> dict[str, Any]:
    """The result of a run stopped at once.

    Args:
        plan: the plan the run was applying.
        known: results of the rows that finished, by journal row key.
        sent: row keys whose write left without a known answer yet.
        run_id: the run's id in the ledger.
        started: when the run started.
        selection: the plan rows the run was to send (None: every changed row).
    """
    chosen = None if selection is None else set(selection)
    rows = []
    for i, row in enumerate(plain_rows(plan.rows.reset_index(drop=True)) if len(plan.rows) else []):
        rk = row_key(row["resource"], row["node_id"], row["key"])
        action = row.get("action")
        if rk in known:
            rows.append(known[rk])
            continue
        out = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        out.update(error=None, order_id=None, duration_ms=None, attempts=0)
        if action in ("create", "update", "delete") and (chosen is None or i in chosen):
            if rk in sent:
                reason = (
                    "stopped at once: the write was sent and its outcome is unknown; "
                    f"`directorsync apply --resume {run_id}` finds it out"
                )
                out.update(status="ERROR", reason=reason, error=reason)
            else:
                out.update(status="SKIP", reason=CANCELLED_REASON)
        elif action in ("create", "update", "delete"):
            out.update(status="SKIP", reason="not selected for this apply")
        else:
            out.update(status=CARRIED.get(str(action), "ERROR"))
        rows.append(out)
    now = dt.datetime.now(dt.UTC)
    return {
        "schema": RESULT_SCHEMA,
        "run_id": run_id,
        "tenant": plan.tenant,
        "pool_uuid": plan.pool_uuid,
        "workbook": plan.workbook,
        "dry_run": False,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": now.isoformat(timespec="seconds"),
        "phases": {**plan.timings, "apply": round((now - started).total_seconds(), 3)},
        "plan_hash": plan.hash,
        "notes": plan.notes,
        "summary": summary(rows),
        "findings": plan.findings_records(),
        "rows": rows,
    }


def empty_result(tenant: str, run_id: str, started: dt.datetime, reason: str) -> dict[str, Any]:
    """The result of a run stopped before it had a plan."""
    return {
        "schema": RESULT_SCHEMA,
        "run_id": run_id,
        "tenant": tenant,
        "dry_run": False,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "phases": {},
        "notes": [
            {"level": "warning", "resource": "-", "message": f"stopped before planning: {reason}"}
        ],
        "summary": {"by_status": {}, "by_resource": {}},
        "findings": [],
        "rows": [],
    }


def result_value(
    plan: Plan, rows: list[dict[str, Any]], started: dt.datetime, seconds: float, dry_run: bool
) -> dict[str, Any]:
    """The ``directorsync/result@1`` value of an apply: its rows, counts, timings, findings."""
    by_status: dict[str, int] = {}
    by_resource: dict[str, dict[str, int]] = {}
    for r in rows:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        res = by_resource.setdefault(r["resource"], {})
        res[r["status"]] = res.get(r["status"], 0) + 1
    return {
        "schema": RESULT_SCHEMA,
        "run_id": plan.run_id,
        "tenant": plan.tenant,
        "pool_uuid": plan.pool_uuid,
        "workbook": plan.workbook,
        "dry_run": dry_run,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "phases": {**plan.timings, "apply": round(seconds, 3)},
        "plan_hash": plan.hash,
        "notes": plan.notes,
        "summary": {"by_status": by_status, "by_resource": by_resource},
        "findings": plan.findings_records(),
        "rows": rows,
    }


def failed(result: dict[str, Any]) -> bool:
    """True when any row ended in ERROR or EXCEPTION (the run's exit code is then 1)."""
    counts = result["summary"]["by_status"]
    return bool(counts.get("ERROR") or counts.get("EXCEPTION")) or any(
        n.get("level") == "error" for n in result.get("notes") or []
    )

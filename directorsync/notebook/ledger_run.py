"""Applies started from a notebook or the review widget, recorded in the run ledger like the CLI's.

:func:`apply_recorded` wraps ``Session.apply`` the way ``directorsync apply`` does (see
:mod:`directorsync.cli.apply_lifecycle`): the run gets a record (``running``, stages ``apply`` and
``report``, its trigger — ``notebook`` for a notebook or the widget, ``cli`` for a tenant of
``directorsync run`` — and its artifacts), holds its tenant's lease while it writes (a busy
tenant raises :class:`~directorsync.errors.TenantBusyError`), journals each write (intent,
accepted, done) through a :class:`~directorsync.writeguard.WriteGuard`, and ends ``completed``,
``failed`` (rows in ERROR/EXCEPTION, or an error) or ``cancelled`` (``directorsync cancel`` from
another shell stops new writes, as for the CLI). Like the CLI's, a run that wrote records the
objects it created as owned and what it applied as the last-applied state
(:func:`directorsync.lastapplied.record_after_apply`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from directorsync.errors import LedgerError
from directorsync.lastapplied import record_after_apply
from directorsync.ledger.database import open_configured
from directorsync.ledger.leases import acquire, release
from directorsync.plan import Plan
from directorsync.report.annotate import link_from
from directorsync.runtracker import RunTracker
from directorsync.writeguard import WriteGuard

#: the artifacts of a run folder, as the CLI records them
ARTIFACT_FILES = {"plan": "plan.json", "result": "result.json", "report": "report.html"}
FAILED = ("ERROR", "EXCEPTION")


def artifacts(folder: Path) -> dict[str, str]:
    """The paths a run records for its folder (``plan``, ``result``, ``report``, ``log``)."""
    found = {name: str((folder / file).resolve()) for name, file in ARTIFACT_FILES.items()}
    found.update(folder=str(folder.resolve()), log=str((folder / "actions.log").resolve()))
    return found


def write_reports(result: Mapping[str, Any], folder: Path) -> dict[str, Path]:
    """Write ``result.json`` and ``report.html`` of a result into ``folder`` (created)."""
    from directorsync.report.console import write_result_json
    from directorsync.report.customer import write_html

    folder.mkdir(parents=True, exist_ok=True)
    return {
        "result": write_result_json(result, folder / "result.json"),
        "report": write_html(result, folder / "report.html"),
    }


def apply_recorded(
    session: Any,
    plan: Plan,
    *,
    run_id: str,
    folder: Path,
    trigger: str = "notebook",
    kind: str = "apply",
    selection: list[int] | None = None,
    dry_run: bool = False,
    progress: Callable[..., None] | None = None,
    present: list[int] | None = None,
    reports: bool = True,
    annotated: Path | None = None,
    ledger_id: str | None = None,
) -> dict[str, Any]:
    """Apply a plan (or its selected rows) as a run of the ledger; the result dict.

    Args:
        session: the :class:`~directorsync.session.Session` that applies.
        plan: the plan.
        run_id: the run's id, in the result (a new one per apply; names ``folder`` too).
        folder: the run's report folder; its files are recorded as the run's artifacts.
        trigger: ``notebook`` (a notebook, the review widget) or ``cli`` (``directorsync run``).
        kind: the run's kind: ``apply``, or ``run`` for a tenant of ``directorsync run``.
        selection: the plan rows to apply (None: every changed row).
        dry_run: report what would be sent, send nothing (no lease taken).
        progress: ``progress(done, total, row)`` after each row, as ``Session.apply`` calls it.
        present: rows an earlier apply created or updated (see ``Session.apply``).
        reports: write ``result.json`` and ``report.html`` into ``folder`` (stage ``report``);
            False when the caller writes them itself later.
        annotated: an annotated workbook of the plan, linked from the report.
        ledger_id: the id of the run's record when it is not ``run_id`` (a tenant of
            ``directorsync run`` shares its fleet's run id: ``<run_id>-<tenant>``).

    Raises:
        TenantBusyError: another run holds the tenant's lease (the run is recorded as failed).
    """
    settings = session.settings
    ledger = open_configured(settings)
    record = ledger_id or run_id
    tracker = RunTracker(
        ledger,
        record,
        tenant=plan.tenant,
        kind=kind,
        trigger=trigger,
        heartbeat_sec=settings.ledger.heartbeat_sec,
    )
    files = artifacts(folder)
    tracker.begin(
        ["apply", "report"],
        dry_run=dry_run,
        plan_id=plan.run_id,
        workbook=plan.workbook,
        artifacts=files,
    )
    leased = False
    try:
        if not dry_run:
            acquire(ledger, plan.tenant, record)
            leased = True
        tracker.stage("apply")
        total = len(plan.changed()) if selection is None else len(selection)
        tracker.set_total(0 if dry_run else total)
        guard = WriteGuard(
            session.client,
            plan.pool_uuid,
            ledger=ledger,
            run_id=record,
            stop=tracker.stop,
            profiles=session.profiles,
        )

        def on_row(done: int, n: int, row: dict[str, Any]) -> None:
            tracker.on_row(done, n, row)
            if progress is not None:
                progress(done, n, row)

        result = session.apply(
            plan,
            selection=selection,
            dry_run=dry_run,
            progress=on_row,
            present=present,
            guard=guard,
        )
        result.update(run_id=run_id, plan_run_id=plan.run_id)
        if not dry_run:  # owned objects and the last-applied state, as a CLI apply records them
            record_after_apply(
                ledger,
                record,
                session.tenant(plan.tenant),
                result,
                session.inventory(plan.tenant),
                session.profiles,
            )
        if tracker.stop.stopping:
            result["stopped"] = tracker.stop.why
        if annotated is not None:
            result["annotated_workbook"] = link_from(annotated, folder)
        tracker.stage("report")
        if reports:
            write_reports(result, folder)
    except BaseException as exc:
        code = getattr(exc, "exit_code", 1)
        message = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
        state = "cancelled" if tracker.stop.stopping else "failed"
        tracker.finish(state, exit_code=code, message=message)
        raise
    finally:
        if leased:
            _release(ledger, plan.tenant, record)
    counts = (result.get("summary") or {}).get("by_status") or {}
    if tracker.stop.stopping:
        state, code, message = "cancelled", tracker.stop.exit_code, tracker.stop.why
    else:
        failed = sum(int(counts.get(s, 0)) for s in FAILED)
        state, code, message = (
            ("failed", 1, f"{failed} row(s) failed") if failed else ("completed", 0, "")
        )
    tracker.finish(state, exit_code=code, message=message, counts=counts, artifacts=files)
    ledger.close()
    return result


def _release(ledger: Any, tenant: str, run_id: str) -> None:
    try:
        release(ledger, tenant, run_id)
    except LedgerError:  # the lease expires by itself; the run's record says how it ended
        pass

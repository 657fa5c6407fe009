"""Drift checks: one tenant (plan without writing, classify), or a fleet in parallel (the gate).

:func:`tenant_drift` plans a tenant's workbook against Director, classifies each difference
against the ledger's last-applied state (:mod:`directorsync.drift`) and returns the
``directorsync/drift@1`` report. It never writes to Director; it records a ``drift`` run in the
ledger when one exists (like ``plan``, it never creates the ledger).

:func:`fleet_drift` runs :func:`check_tenant` for many tenants on worker processes (or on Dask
when ``drift.executor`` is ``dask``) and :func:`verification_summary` gathers their outcomes in
the verification summary's shape: ``timestamp``, ``total_targets``, ``successful``, ``failed``,
``total_duration``, ``verification_passed`` and per tenant ``target``, ``direction``,
``success``, ``message``, ``duration``, ``counts`` (per drift class), ``verification_passed``.
Exit codes (:func:`gate_exit_code`): 0 no drift, 2 drift (with ``--fail-on-diff``), 1 errors.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from directorsync.config import Settings, new_run_id
from directorsync.drift import classify_plan, drift_report
from directorsync.errors import DirectorSyncError
from directorsync.fanout import on_dask
from directorsync.jsonio import dumps_lenient
from directorsync.lastapplied import load_state
from directorsync.runtracker import recorded_run
from directorsync.session import Session
from directorsync.vocabulary import DRIFT_CLASSES, DRIFT_SCHEMA

EXIT_NO_DRIFT, EXIT_ERRORS, EXIT_DRIFT = 0, 1, 2
#: called with each tenant's outcome as it ends
Done = Callable[[dict[str, Any]], None]


def write_report(value: dict[str, Any], path: str | Path) -> Path:
    """A drift report or summary as indented JSON (parents created); the ``_plan`` left out."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {k: v for k, v in value.items() if not k.startswith("_")}
    path.write_bytes(msgspec.json.format(dumps_lenient(data), indent=2) + b"\n")
    return path


def tenant_drift(
    settings: Settings,
    tenant: str,
    xlsx: str | Path,
    resources: list[str] | None = None,
    *,
    after: Callable[[Any, Session], Any] | None = None,
) -> dict[str, Any]:
    """The drift report of one tenant (see the module docstring).

    ``after(plan, session)`` runs on the classified plan while the session is open (``--adopt``);
    what it returns is kept under ``"_after"`` (left out of the JSON).
    """
    started = time.perf_counter()
    with recorded_run(settings, tenant, "drift", workbook=str(xlsx)) as run:
        with Session.open(settings=settings) as session:
            plan = session.plan(tenant, xlsx, resources)
            state = load_state(run.ledger, tenant, plan.resources) if run is not None else {}
            classify_plan(plan, state, session.profiles)
            report = drift_report(
                plan,
                state,
                session.tenant(tenant),
                session.inventory(tenant),
                session.profiles,
                settings.drift.builtin,
            )
            if after is not None:
                report["_after"] = after(plan, session)
        report["duration"] = round(time.perf_counter() - started, 3)
        if run is not None:
            run.finish(
                "failed" if report["notes"] else "completed",
                exit_code=EXIT_DRIFT if report["total"] else EXIT_NO_DRIFT,
                counts=report["counts"],
            )
    return report


@dataclass(frozen=True)
class DriftJob:
    """One tenant of a fleet check (picklable: it crosses to worker processes)."""

    settings: Settings
    tenant: str
    xlsx: str
    resources: tuple[str, ...] | None
    out_dir: str


def check_tenant(job: DriftJob) -> dict[str, Any]:
    """Run one tenant's check; its summary entry (never raises for expected failures).

    Writes ``<out_dir>/<tenant>.json`` (its drift report) when the check ran.
    """
    started = time.perf_counter()
    entry: dict[str, Any] = {"target": job.tenant, "direction": "pull", "workbook": job.xlsx}
    settings = job.settings.model_copy(deep=True)
    settings.app.run_id = new_run_id()  # each tenant's check is a run of its own
    try:
        if not Path(job.xlsx).is_file():
            raise DirectorSyncError(f"{job.xlsx}: no such workbook", tenant=job.tenant)
        report = tenant_drift(settings, job.tenant, job.xlsx, list(job.resources or []) or None)
    except DirectorSyncError as exc:
        return {
            **entry,
            "success": False,
            "message": exc.message,
            "duration": round(time.perf_counter() - started, 3),
            "counts": dict.fromkeys(DRIFT_CLASSES, 0),
            "verification_passed": False,
        }
    detail = Path(job.out_dir) / f"{job.tenant}.json"
    write_report(report, detail)
    drifted = report["total"]
    errors = [n["message"] for n in report["notes"]]
    message = (
        "; ".join(errors)
        if errors
        else f"{drifted} difference(s): "
        + ", ".join(f"{c} {n}" for c, n in report["counts"].items() if n)
        if drifted
        else "no drift"
    )
    if report["mode"] == "two_way":
        message += " (two-way: no earlier apply in the ledger)"
    return {
        **entry,
        "success": not errors,
        "message": message,
        "duration": round(time.perf_counter() - started, 3),
        "mode": report["mode"],
        "counts": report["counts"],
        "by_resource": report["by_resource"],
        "detail": detail.name,
        "verification_passed": not errors and drifted == 0,
    }


def fleet_drift(
    jobs: list[DriftJob], settings: Settings, on_done: Done | None = None
) -> list[dict]:
    """Check the jobs in parallel (``drift.executor``); entries in the jobs' order.

    Worker processes start from a fork server that imported DirectorSync once; with one worker
    (``drift.parallel`` 1, or one tenant) the checks run in this process.
    """
    if settings.drift.executor == "dask":
        return _on_dask(jobs, settings, on_done)
    entries: dict[str, dict[str, Any]] = {}
    workers = max(1, min(settings.drift.parallel, len(jobs)))
    if workers == 1:  # one at a time: no worker process to start
        for job in jobs:
            entries[job.tenant] = check_tenant(job)
            if on_done:
                on_done(entries[job.tenant])
        return [entries[job.tenant] for job in jobs]
    # workers forked from a server that imported DirectorSync once: fast to start, and
    # without this process's threads or sockets
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["directorsync.driftgate"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(check_tenant, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                entry = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died fails its tenant only
                entry = _died(job, exc)
            entries[job.tenant] = entry
            if on_done:
                on_done(entry)
    return [entries[job.tenant] for job in jobs]


def _on_dask(jobs: list[DriftJob], settings: Settings, on_done: Done | None) -> list[dict]:
    local = {
        "n_workers": max(1, min(settings.drift.parallel, len(jobs))),
        "threads_per_worker": 1,
        "processes": True,
    }
    return on_dask(
        check_tenant,
        jobs,
        key=lambda job: f"drift-{job.tenant}-{time.time_ns()}",
        on_error=_died,
        on_done=on_done,
        scheduler=settings.drift.scheduler or None,
        local=local,
    )


def _died(job: DriftJob, exc: BaseException) -> dict[str, Any]:
    return {
        "target": job.tenant,
        "direction": "pull",
        "workbook": job.xlsx,
        "success": False,
        "message": f"the check stopped: {exc.__class__.__name__}: {exc}",
        "duration": 0.0,
        "counts": dict.fromkeys(DRIFT_CLASSES, 0),
        "verification_passed": False,
    }


def verification_summary(entries: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """The fleet's verification summary (see the module docstring)."""
    counts = {c: sum(e["counts"].get(c, 0) for e in entries) for c in DRIFT_CLASSES}
    return {
        "schema": DRIFT_SCHEMA,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "total_targets": len(entries),
        "successful": sum(bool(e["success"]) for e in entries),
        "failed": sum(not e["success"] for e in entries),
        "drifted": sum(bool(e["success"]) and not e["verification_passed"] for e in entries),
        "total_duration": round(duration, 3),
        "counts": counts,
        "verification_passed": all(e["verification_passed"] for e in entries),
        "results": entries,
    }


def gate_exit_code(summary: dict[str, Any], fail_on_diff: bool) -> int:
    """1 when a tenant could not be checked; else 2 with drift and ``fail_on_diff``; else 0."""
    if summary["failed"]:
        return EXIT_ERRORS
    if fail_on_diff and not summary["verification_passed"]:
        return EXIT_DRIFT
    return EXIT_NO_DRIFT

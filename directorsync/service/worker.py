"""One sync of the service, run in its own process.

The service runs each sync in a process of its own (so that a sync's planning never holds up
the API, and a sync stops the way a CLI apply stops: cancel from the ledger, SIGTERM, a second
SIGTERM). The processes are forked from a multiprocessing *forkserver* that has already
imported the planning and apply modules (:data:`PRELOAD`), so a sync starts in milliseconds.
:func:`child_main` gets the job — the service's settings (with the Director token, which never
travels on a command line or in the environment), the tenant, the workbook, the kind, the
trigger and the options — and runs it as a ledger run with the service's run id. Its events go
as JSON lines to a pipe (the service wakes its WebSocket clients on each), its console output
to ``console.log`` beside the run's reports. ``python -m directorsync.service.worker`` runs a
job read as JSON on standard input the same way (events on standard output).

Kinds: ``apply`` (``dry_run`` plans and reports without writing) and ``plan`` / ``drift`` (plan
only, never writes: the plan is saved with the run's artifacts).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from directorsync.config import Settings
from directorsync.errors import DirectorSyncError
from directorsync.redact import redact_text

#: modules the forkserver imports once, before forking each sync's process
PRELOAD = ["directorsync.service.worker", "directorsync.cli.apply_command", "directorsync.planner"]


class PipeLines:
    """A text stream whose lines go to a multiprocessing connection (the events)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def write(self, text: str) -> int:
        """Send ``text`` (whole lines: the tracker writes one event per call)."""
        if text:
            self.conn.send_bytes(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        """Nothing to flush: each write is sent."""
        return None

    def isatty(self) -> bool:
        """Never a terminal."""
        return False


def child_main(job: dict[str, Any], events: Any, log_path: str) -> None:
    """The body of a sync's process: console to ``log_path``, events to ``events``; exits."""
    os.setsid()  # Ctrl-C on the service's terminal is the service's to handle
    os.environ.update(LOGNAME=job["user"], USER=job["user"])  # the ledger's user
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = PipeLines(events)
    sys.stderr = open(2, "w", encoding="utf-8", buffering=1, closefd=False)  # noqa: SIM115
    run_main(job)


def run_job(job: dict[str, Any]) -> int:
    """Run one job (see the module docstring); the exit code of the equivalent CLI command."""
    settings = Settings.model_validate(job["settings"])
    settings.app.run_id = job["sync_id"]
    options = job.get("options") or {}
    resources = options.get("resources") or None
    xlsx = Path(job["workbook"])
    if job["kind"] == "apply":
        from directorsync.cli.apply_command import run_apply

        return run_apply(
            settings,
            tenant=job["tenant"],
            xlsx=xlsx,
            resources=resources,
            plan_file=None,
            approved=None,
            dry_run=bool(options.get("dry_run")),
            events=job.get("events", "-"),
            trigger=job["trigger"],
            auto_approve=True,  # the API call is the approval (docs/lifecycle.md)
            force_refresh=bool(options.get("force_refresh")),
        )
    return plan_only(
        settings,
        job["tenant"],
        xlsx,
        resources,
        job["kind"],
        job["trigger"],
        force_refresh=bool(options.get("force_refresh")),
    )


def plan_only(
    settings: Settings,
    tenant: str,
    xlsx: Path,
    resources: list[str] | None,
    kind: str,
    trigger: str,
    force_refresh: bool = False,
) -> int:
    """A run that plans and saves its plan, never writing (``validate_only``, drift checks)."""
    from directorsync.ledger.database import open_configured
    from directorsync.runtracker import RunTracker
    from directorsync.session import Session, result_dir

    out = result_dir(settings, tenant, settings.run_id)
    tracker = RunTracker(
        open_configured(settings),
        settings.run_id,
        tenant=tenant,
        kind=kind,
        trigger=trigger,
        events=sys.stdout,
        heartbeat_sec=settings.ledger.heartbeat_sec,
    )
    plan_file = out / "plan.json"
    tracker.begin(["plan"], dry_run=True, workbook=str(xlsx))
    tracker.stage("plan")
    try:
        with Session.open(settings=settings) as session:
            plan = session.plan(tenant, xlsx, resources, force_refresh=force_refresh)
        data = plan.to_dict()
        plan.save(plan_file, data)
    except BaseException as exc:
        tracker.finish(
            "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed",
            exit_code=getattr(exc, "exit_code", 1),
            message=getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}",
        )
        raise
    code = 1 if plan.has_errors else 0
    tracker.finish(
        "failed" if plan.has_errors else "completed",
        exit_code=code,
        counts=plan.counts(),
        plan_hash=data["hash"],
        artifacts={"folder": str(out.resolve()), "plan": str(plan_file.resolve())},
    )
    return code


def main() -> None:
    """Read the job from standard input and run it (see :func:`run_main`)."""
    run_main(json.loads(sys.stdin.read()))


def run_main(job: dict[str, Any]) -> None:
    """Run the job, exit with its code (expected errors: one line on standard error)."""
    try:
        code = run_job(job)
    except DirectorSyncError as exc:
        print(f"error: {redact_text(exc.message)}", file=sys.stderr, flush=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted before the run started", file=sys.stderr, flush=True)
        code = 130
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()

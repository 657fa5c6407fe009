"""One sync of the service, run in its own process: ``python -m directorsync.service.worker``.

The service starts one process per sync (so that a sync's planning never holds up the API, and
a sync stops the way a CLI apply stops: cancel from the ledger, SIGTERM, a second SIGTERM). The
process reads its job as JSON on standard input — the service's settings (with the Director
token, which never travels on a command line), the tenant, the workbook, the kind, the trigger
and the options — and runs it as a ledger run with the service's run id. Its events go to
standard output as JSON lines (the service wakes its WebSocket clients on each), its console
output to standard error (the service keeps it as ``console.log`` beside the run's reports).

Kinds: ``apply`` (``dry_run`` plans and reports without writing) and ``plan`` / ``drift`` (plan
only, never writes: the plan is saved with the run's artifacts).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from directorsync.config import Settings
from directorsync.errors import DirectorSyncError
from directorsync.redact import redact_text


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
            events="-",
            trigger=job["trigger"],
        )
    return plan_only(settings, job["tenant"], xlsx, resources, job["kind"], job["trigger"])


def plan_only(
    settings: Settings,
    tenant: str,
    xlsx: Path,
    resources: list[str] | None,
    kind: str,
    trigger: str,
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
            plan = session.plan(tenant, xlsx, resources)
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
    """Read the job from standard input, run it, exit with its code (errors: one line)."""
    job = json.loads(sys.stdin.read())
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

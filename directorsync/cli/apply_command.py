"""The ``apply`` command's body: plan (or load a plan), apply, report, exit code.

Like ``plan``, the tables and the summary go to stdout (``directorsync apply > apply.txt`` keeps
them); progress (``… planning``, the progress bar) and errors go to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from directorsync.cli.apply_lifecycle import ApplyLifecycle, resumable
from directorsync.cli.confirm import confirm_apply, require_terminal
from directorsync.config import Settings
from directorsync.errors import ConfigError, WorkbookError
from directorsync.ledger.database import open_configured
from directorsync.logs import setup_logging
from directorsync.plan import Plan, read_plan
from directorsync.report.console import (
    CONSOLE_DETAIL_ROWS,
    print_plan,
    print_result,
    write_result_json,
)
from directorsync.report.verdicts import apply_verdict, files_line, shown_path
from directorsync.rollback import mark_undone, rollback_plan
from directorsync.runresult import failed
from directorsync.session import Session, check_director, result_dir
from directorsync.verify import verification_line


def run_apply(
    settings: Settings,
    *,
    tenant: str | None,
    xlsx: Path | None,
    resources: list[str] | None,
    plan_file: Path | None,
    approved: Path | None,
    dry_run: bool,
    verbose: bool = False,
    resume: str | None = None,
    wait: bool = False,
    events: str | None = None,
    force: bool = False,
    annotate: bool = False,
    auto_approve: bool = False,
    prune: tuple[bool, bool] = (False, False),
    rollback_on_error: bool = False,
    force_refresh: bool = False,
    verify: bool = True,
    trigger: str = "cli",
    on_drift: str = "revert",
) -> int:
    """Plan (or load ``plan_file``), ask, apply, write reports; return the exit code.

    Asking: :mod:`~directorsync.cli.confirm`.
    Every execution is a run of the ledger with its own id and report folder (a saved plan's
    run id is recorded as the run's ``plan_id``); see :mod:`directorsync.cli.apply_lifecycle`.
    """
    console, status = Console(stderr=events == "-"), Console(stderr=True)
    ask = not (plan_file or resume or dry_run or auto_approve)  # a saved plan was reviewed
    if ask:
        _check_usage(settings, tenant, xlsx, approved)
        require_terminal()  # refused before planning: nobody could answer
    ledger = open_configured(settings)
    previous = resumable(ledger, resume) if resume else None
    if previous:
        plan_file = Path(previous["artifacts"]["plan"])
        approved = approved or _path(previous["artifacts"].get("approved"))
    if not plan_file:
        _check_usage(settings, tenant, xlsx, approved)
    check_director(settings)  # before reading a large plan or workbook
    plan, plan_bytes = read_plan(plan_file) if plan_file else (None, b"")
    if plan and plan_file and tenant and tenant != plan.tenant:
        raise ConfigError(
            f"--tenant {tenant} does not match the plan's tenant '{plan.tenant}' "
            f"({plan_file.name}): drop --tenant or plan again for tenant '{tenant}'"
        )
    tenant = (plan.tenant if plan else None) or tenant or settings.context.tenant
    if not tenant:
        raise click.UsageError("--tenant is required (or --plan)")
    if plan and plan.tenants_file and not settings.inputs.tenants_file:
        settings.inputs.tenants_file = Path(plan.tenants_file)
    run_id = settings.run_id  # never the plan's: each execution keeps its own reports
    out = result_dir(settings, tenant, run_id)
    if plan_bytes:  # the plan applied, beside the reports: the very bytes read and verified
        (out / "plan.json").write_bytes(plan_bytes)
        plan_bytes = b""
    with _event_stream(events) as stream:
        life = ApplyLifecycle(
            ledger,
            run_id,
            tenant,
            trigger=trigger,
            events=stream,
            say=lambda m: status.print(m, markup=False, highlight=False),
            lines=not status.is_terminal,
            heartbeat_sec=settings.ledger.heartbeat_sec,
        )
        artifacts = _artifacts(out, approved)
        life.begin(
            wait=wait,
            stages=["plan", "apply", "report"],
            dry_run=dry_run,
            plan_id=plan.run_id if plan else None,
            resumed_from=resume,
            workbook=str(xlsx) if xlsx else (plan.workbook if plan else None),
            artifacts=artifacts,
        )
        try:
            result = life.execute(
                lambda: _work(
                    life,
                    settings,
                    plan,
                    tenant,
                    xlsx,
                    resources,
                    plan_file,
                    approved,
                    dry_run,
                    previous,
                    out,
                    console,
                    status,
                    force,
                    annotate,
                    ask,
                    prune,
                    rollback_on_error,
                    force_refresh,
                    verify,
                    on_drift,
                )
            )
            result.update(run_id=run_id, plan_run_id=life.plan.run_id if life.plan else None)
            if life.stop.stopping:
                result["stopped"] = life.stop.why
            life.tracker.stage("report")
            code = _report(result, out, console, verbose)
        except BaseException as exc:
            life.fail(exc)
            raise
        code = life.finish(result, code, artifacts)
    if life.stop.hard.is_set():
        _exit_now(code)
    if life.stop.stopping:
        status.print(
            f"{life.stop.why}: run {run_id} cancelled; resume with "
            f"`directorsync apply --resume {run_id}`",
            markup=False,
        )
    return code


def _check_usage(
    settings: Settings, tenant: str | None, xlsx: Path | None, approved: Path | None
) -> None:
    """Usage errors of an apply that plans itself (before the terminal check)."""
    if not (tenant or settings.context.tenant):
        raise click.UsageError("--tenant is required (or --plan)")
    if not xlsx:
        raise click.UsageError("--xlsx is required (or --plan)")
    if approved:
        raise ConfigError("--approved needs --plan (an approval is bound to a saved plan)")


def _work(
    life: ApplyLifecycle,
    settings: Settings,
    plan: Plan | None,
    tenant: str,
    xlsx: Path | None,
    resources: list[str] | None,
    plan_file: Path | None,
    approved: Path | None,
    dry_run: bool,
    previous: Any,
    out: Path,
    console: Console,
    status: Console,
    force: bool = False,
    annotate: bool = False,
    ask: bool = False,
    prune: tuple[bool, bool] = (False, False),
    rollback_on_error: bool = False,
    force_refresh: bool = False,
    verify: bool = True,
    on_drift: str = "revert",
) -> dict[str, Any]:
    """Plan (unless given) and apply; runs in the lifecycle's worker thread.

    The plan's rows are classified against the ledger's last-applied state (three-way drift);
    ``on_drift`` (``revert``, ``keep``, ``fail``) decides what happens to rows changed on
    Director. After the writes, what was applied is recorded as the new last-applied state.
    """
    from directorsync.drift import classify_plan, mark_kept
    from directorsync.drift import on_drift as drift_selection
    from directorsync.lastapplied import load_state, record_after_apply

    logging = setup_logging(
        run_id=life.run_id,
        console_level=settings.logging.level,
        app_log=settings.logging.app_log,
        action_log=out / "actions.log",
        secrets=[settings.token] if settings.token else [],
    )
    try:
        with Session.open(
            settings=settings, progress=lambda m: status.print(f"[dim]… {m}")
        ) as session:
            life.tracker.stage("plan")
            if plan is None:
                assert xlsx is not None  # checked above: without --plan, --xlsx is required
                options = session.prune_options(*prune)
                plan = session.plan(
                    tenant,
                    xlsx,
                    resources,
                    prune=options,
                    ledger=life.ledger,
                    force_refresh=force_refresh,
                )
            session.check_workbook_tenant(plan, force)
            classify_plan(
                plan, load_state(life.ledger, plan.tenant, plan.resources), session.profiles
            )
            if not plan_file:  # the plan's counts and verdict; `apply --plan` does not reprint it
                plan.save(out / "plan.json")
                print_plan(plan.console_view(), console, details=False)
                if ask:
                    confirm_apply(plan, out / "plan.json")
            life.plan = plan
            selection = _approved(approved, plan) if approved else None
            selection, held = drift_selection(plan, on_drift, selection)
            life.selection = selection
            life.tracker.set_pending(["apply", "report"])
            life.tracker.stage("apply")
            guard = life.make_guard(session.client, plan.pool_uuid, session.profiles, previous)
            check_stale = bool(plan_file) and previous is None
            result = _apply(
                session, plan, selection, dry_run, check_stale, status, life, guard, verify
            )
            mark_kept(result, held)
            if not dry_run:
                tenant_of, inventory = session.tenant(plan.tenant), session.inventory(plan.tenant)
                undoing = rollback_on_error and failed(result)
                # owned objects; the last state applied for three-way drift (undone: as before)
                record_after_apply(
                    life.ledger,
                    life.run_id,
                    tenant_of,
                    result,
                    inventory,
                    session.profiles,
                    state=not undoing,
                )
                if undoing:
                    undo = rollback_plan(
                        life.ledger,
                        life.run_id,
                        tenant_of,
                        inventory,
                        session.profiles,
                        result["rows"],
                    )
                    mark_undone(result, session.apply(undo))
            if annotate:
                _annotate(Path(xlsx or plan.workbook), plan, out, result, status)
            return result
    finally:
        logging.close()


def _annotate(
    workbook: Path, plan: Plan, out: Path, result: dict[str, Any], status: Console
) -> None:
    """``--annotate``: ``annotated.xlsx`` beside the report, linked from it (a warning if not)."""
    from directorsync.report.annotate import annotate_into, link_from

    try:
        written = annotate_into(workbook, plan.findings_records(), out)
    except WorkbookError as exc:
        status.print(f"warning: no annotated workbook: {exc.message}", markup=False)
        return
    if written is not None:
        result["annotated_workbook"] = link_from(written, out)


def _approved(path: Path, plan: Plan) -> list[int]:
    from directorsync.notebook.approval import load_approval

    return load_approval(path, plan)


def _apply(
    session: Session,
    plan: Plan,
    selection: list[int] | None,
    dry_run: bool,
    check_stale: bool,
    console: Console,
    life: ApplyLifecycle,
    guard: Any,
    verify: bool = True,
) -> dict[str, Any]:
    """Apply with a progress bar on ``console`` (stderr); the result dict."""
    total = len(plan.changed()) if selection is None else len(selection)
    life.tracker.set_total(0 if dry_run else total)
    columns = [TextColumn("applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True, disable=dry_run or total == 0) as bar:
        task = bar.add_task("apply", total=total)

        def progress(done: int, n: int, row: dict[str, Any]) -> None:
            life.on_row(done, n, row)
            bar.update(task, completed=done, total=n)

        return session.apply(
            plan,
            selection=selection,
            dry_run=dry_run,
            check_stale=check_stale,
            progress=progress,
            guard=guard,
            verify=verify,
        )


def _artifacts(out: Path, approved: Path | None) -> dict[str, str]:
    files = {"plan": "plan.json", "result": "result.json", "report": "report.html"}
    found = {name: str((out / file).resolve()) for name, file in files.items()}
    found.update(folder=str(out.resolve()), log=str((out / "actions.log").resolve()))
    if approved:
        found["approved"] = str(Path(approved).resolve())
    return found


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


@contextmanager
def _event_stream(target: str | None) -> Iterator[IO[str] | None]:
    """``--events``: ``-`` is standard output, else a file (appended)."""
    if not target:
        yield None
    elif target == "-":
        yield sys.stdout
    else:
        with open(target, "a", encoding="utf-8") as stream:
            yield stream


def _exit_now(code: int) -> None:
    """After a second Ctrl-C: the reports are written; do not wait for the orders' threads."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _report(result: dict[str, Any], out: Path, console: Console, verbose: bool) -> int:
    """Write result.json and report.html, print the summary, the files and the verdict line.

    Returns the exit code.
    """
    from directorsync.report.customer import write_html

    write_result_json(result, out / "result.json")
    write_html(result, out / "report.html")
    print_result(result, console, limit=None if verbose else CONSOLE_DETAIL_ROWS)
    check = result.get("verification")
    if check:  # the read-back: one line, then a warning per row Director did not keep
        console.print(Text(verification_line(check)), soft_wrap=True)
        for row in (check.get("rows") or [])[: None if verbose else CONSOLE_DETAIL_ROWS]:
            console.print(Text(row["warning"], "yellow"), soft_wrap=True)
    written = sorted(out.iterdir(), key=lambda p: (p.stat().st_mtime, p.name))
    console.print(Text(files_line(shown_path(out), [p.name for p in written])), soft_wrap=True)
    verdict = apply_verdict(result, shown_path(out / "report.html"))
    console.print(Text(verdict, "bold red" if failed(result) else "bold"), soft_wrap=True)
    return 1 if failed(result) else 0

"""The ``apply`` command's body: plan (or load a plan), apply, report, exit code.

Like ``plan``, the tables and the summary go to stdout (``directorsync apply > apply.txt`` keeps
them); progress (``… planning``, the progress bar) and errors go to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from directorsync.apply import failed
from directorsync.cli.confirm import confirm_apply, require_terminal
from directorsync.config import Settings
from directorsync.errors import ConfigError
from directorsync.logs import setup_logging
from directorsync.plan import read_plan
from directorsync.report.console import print_plan, print_result, write_result_json
from directorsync.session import Session, check_director, result_dir


def run_apply(
    settings: Settings,
    *,
    tenant: str | None,
    xlsx: Path | None,
    resources: list[str] | None,
    plan_file: Path | None,
    approved: Path | None,
    dry_run: bool,
    auto_approve: bool = False,
) -> int:
    """Plan (or load ``plan_file``), ask (:mod:`~directorsync.cli.confirm`), apply, write
    reports; return the exit code."""
    console, status = Console(), Console(stderr=True)
    ask = not (plan_file or dry_run or auto_approve)  # a saved plan was reviewed already
    if not plan_file:
        if not (tenant or settings.context.tenant):
            raise click.UsageError("--tenant is required (or --plan)")
        if not xlsx:
            raise click.UsageError("--xlsx is required (or --plan)")
        if approved:
            raise ConfigError("--approved needs --plan (an approval is bound to a saved plan)")
    if ask:
        require_terminal()  # refused before planning: nobody could answer
    check_director(settings)  # before reading a large plan or workbook
    plan, plan_bytes = read_plan(plan_file) if plan_file else (None, b"")
    tenant = (plan.tenant if plan else None) or tenant or settings.context.tenant
    if not tenant:
        raise click.UsageError("--tenant is required (or --plan)")
    if plan and plan.tenants_file and not settings.inputs.tenants_file:
        settings.inputs.tenants_file = Path(plan.tenants_file)
    run_id = plan.run_id if plan else settings.run_id
    out = result_dir(settings, tenant, run_id)
    if plan_bytes:  # the plan applied, beside the reports: the very bytes read and verified
        (out / "plan.json").write_bytes(plan_bytes)
        plan_bytes = b""
    logging = setup_logging(
        run_id=run_id,
        console_level=settings.logging.level,
        app_log=settings.logging.app_log,
        action_log=out / "actions.log",
        secrets=[settings.token] if settings.token else [],
    )
    try:
        with Session.open(
            settings=settings, progress=lambda m: status.print(f"[dim]… {m}")
        ) as session:
            if plan is None:
                plan = session.plan(tenant, xlsx, resources)
            if not plan_file:
                plan.save(out / "plan.json")
            print_plan(plan.console_view(), console)
            if ask:
                confirm_apply(plan, out / "plan.json")
            selection = _approved(approved, plan) if approved else None
            result = _apply(session, plan, selection, dry_run, bool(plan_file), status)
    finally:
        logging.close()
    return _report(result, out, console)


def _approved(path: Path, plan) -> list[int]:
    from directorsync.notebook.review import load_approval

    return load_approval(path, plan)


def _apply(
    session: Session, plan, selection, dry_run: bool, check_stale: bool, console: Console
) -> dict[str, Any]:
    """Apply with a progress bar on ``console`` (stderr); the result dict."""
    total = len(plan.changed()) if selection is None else len(selection)
    columns = [TextColumn("applying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True, disable=dry_run or total == 0) as bar:
        task = bar.add_task("apply", total=total)
        return session.apply(
            plan,
            selection=selection,
            dry_run=dry_run,
            check_stale=check_stale,
            progress=lambda done, n, row: bar.update(task, completed=done, total=n),
        )


def _report(result: dict[str, Any], out: Path, console: Console) -> int:
    """Write result.json and report.html, print the summary; the exit code."""
    from directorsync.report.customer import write_html

    write_result_json(result, out / "result.json")
    write_html(result, out / "report.html")
    print_result(result, console)
    console.print(f"reports: {out / 'report.html'}  {out / 'result.json'}")
    return 1 if failed(result) else 0

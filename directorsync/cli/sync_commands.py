"""The ``plan`` and ``apply`` commands.

Exit codes (see ``docs/cli.md``): 0 success; 1 rows in ERROR/EXCEPTION or plan errors (also
lint errors); 2 configuration/profile/ledger errors, or — with ``plan --detailed-exitcode`` —
changes pending; 3 workbook or plan-file errors; 4 Director unreachable or refusing; 5 tenant
busy (another run holds its lease); 6 apply not confirmed; 130 cancelled (Ctrl-C, ``cancel``);
143 terminated (SIGTERM).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from directorsync.config import Settings, load_settings
from directorsync.errors import DirectorSyncError

EXIT_OK, EXIT_ROWS_FAILED, EXIT_CHANGES = 0, 1, 2

_F = TypeVar("_F", bound=Callable[..., Any])


def _common(fn: _F) -> _F:
    """Options shared by plan and apply."""
    options = [
        click.option("--tenant", "-t", help="Tenant name in the tenants file."),
        click.option(
            "--xlsx",
            "xlsx",
            type=click.Path(path_type=Path),
            help="Workbook (.xlsx, .csv or a folder of .csv).",
        ),
        click.option(
            "--tenants-file",
            type=click.Path(path_type=Path),
            help="Tenants topology file (default: LP_TENANTS_FILE / inputs.tenants_file).",
        ),
        click.option(
            "--resources",
            "-r",
            help="Comma-separated resources (default: every resource whose sheet is present).",
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(path_type=Path),
            help="Settings YAML (default: ./directorsync.yml, ~/.config/directorsync/config.yml, /etc/directorsync/config.yml).",
        ),
        click.option(
            "--url",
            help="Director base URL (overrides DSYNC_DIRECTOR__BASE_URL / LP_DIRECTOR_URL).",
        ),
        click.option(
            "--no-verify",
            is_flag=True,
            default=None,
            help="Do not verify Director's TLS certificate (warned).",
        ),
        click.option(
            "--prune",
            is_flag=True,
            help="Delete what Director holds that the workbook no longer names (resources with "
            "lifecycle.prune; owned objects only; protected and quarantined ones kept).",
        ),
        click.option(
            "--prune-unowned",
            is_flag=True,
            help="With --prune: also objects DirectorSync did not create (warned with the count).",
        ),
        click.option(
            "--verbose",
            "-v",
            is_flag=True,
            help="List every row to change or look at (default: the first 50).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _settings(
    config_file: Path | None,
    url: str | None,
    no_verify: bool | None,
    tenant: str | None,
    tenants_file: Path | None,
    **extra: Any,
) -> Settings:
    overrides = {
        "director.base_url": url,
        "director.verify_tls": False if no_verify else None,
        "context.tenant": tenant,
        "inputs.tenants_file": str(tenants_file) if tenants_file else None,
    }
    overrides.update(extra)
    return load_settings(config_file, overrides=overrides)


def _resources(value: str | None) -> list[str] | None:
    return [r.strip() for r in value.split(",") if r.strip()] if value else None


def _require(value: Any, option: str) -> Any:
    if not value:
        raise click.UsageError(f"{option} is required")
    return value


#: ``--force-update RESOURCE:KEY`` (plan and apply)
FORCE_UPDATE_OPTION = click.option(
    "--force-update",
    "force_update",
    metavar="RESOURCE:KEY",
    multiple=True,
    help="Send this object's fields Director never returns (e.g. compiled_normalizer), even "
    "when nothing else changed (app.force_update). Repeatable.",
)


def _progress(message: str) -> None:
    click.echo(f"… {message}", err=True)


@click.command("plan")
@_common
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Save the plan as JSON (input of `apply --plan`).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when nothing changes, 2 when changes are pending, 1 on errors.",
)
@click.option(
    "--annotate",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a copy of the workbook with each finding on its cell (.xlsx).",
)
@FORCE_UPDATE_OPTION
@click.option(
    "--force-refresh",
    is_flag=True,
    help="Call Director's RefreshList endpoints (where documented) before listing.",
)
def plan_command(
    tenant: str | None,
    xlsx: Path | None,
    tenants_file: Path | None,
    resources: str | None,
    config_file: Path | None,
    url: str | None,
    no_verify: bool | None,
    verbose: bool,
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    annotate: Path | None = None,
    force_update: tuple[str, ...] = (),
    prune: bool = False,
    prune_unowned: bool = False,
    force_refresh: bool = False,
) -> int:
    """Compare a workbook with Director and show what would change (never changes anything)."""
    try:
        return _plan(
            tenant,
            xlsx,
            tenants_file,
            resources,
            config_file,
            url,
            no_verify,
            out,
            fmt,
            detailed_exitcode,
            verbose,
            annotate,
            force_update,
            (prune, prune_unowned),
            force_refresh,
        )
    except (DirectorSyncError, click.UsageError) as exc:
        if not detailed_exitcode:
            raise
        click.secho(f"error: {getattr(exc, 'message', None) or exc}", fg="red", err=True)
        return EXIT_ROWS_FAILED  # with --detailed-exitcode, 2 means "changes pending" only


def _plan(
    tenant: str | None,
    xlsx: Path | None,
    tenants_file: Path | None,
    resources: str | None,
    config_file: Path | None,
    url: str | None,
    no_verify: bool | None,
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    verbose: bool = False,
    annotate: Path | None = None,
    force_update: tuple[str, ...] = (),
    prune: tuple[bool, bool] = (False, False),
    force_refresh: bool = False,
) -> int:
    from directorsync.plan import plan_json
    from directorsync.report.console import CONSOLE_DETAIL_ROWS, print_plan
    from directorsync.report.verdicts import shown_path
    from directorsync.runtracker import recorded_run
    from directorsync.session import Session

    forced = {"app.force_update": list(force_update) or None}
    settings = _settings(config_file, url, no_verify, tenant, tenants_file, **forced)
    tenant = _require(tenant or settings.context.tenant, "--tenant")
    xlsx = _require(xlsx, "--xlsx")
    with recorded_run(settings, tenant, "plan", workbook=str(xlsx)) as run:
        progress = _progress if fmt == "table" else None
        with Session.open(settings=settings, progress=progress) as session:
            plan = session.plan(
                tenant,
                xlsx,
                _resources(resources),
                prune=session.prune_options(*prune),
                ledger=run.ledger if run else None,
                force_refresh=force_refresh,
            )
            if run is not None:  # a ledger exists: each change gets its drift class
                from directorsync.drift import classify_plan
                from directorsync.lastapplied import load_state

                state = load_state(run.ledger, tenant, plan.resources)
                classify_plan(plan, state, session.profiles)
        data = plan.to_dict() if out or fmt == "json" else None
        if out:
            plan.save(out, data)
        if fmt == "json":
            assert data is not None  # built above for --format json
            click.echo(plan_json(data).decode())
        else:
            if out:
                assert data is not None  # built above for --out
                click.echo(f"plan saved to {shown_path(out)} ({data['hash']})")
            limit = None if verbose else CONSOLE_DETAIL_ROWS
            print_plan(data or plan.console_view(), limit=limit, plan_path=out and shown_path(out))
        _print_notes(plan.notes)  # on stderr: a JSON plan on stdout stays JSON
        if annotate:
            from directorsync.report.annotate import annotate_workbook

            done = annotate_workbook(xlsx, plan.findings_records(), annotate)
            click.echo(
                f"annotated workbook: {annotate} ({done['findings']} findings, "
                f"{done['cells']} cells marked)",
                err=fmt == "json",
            )
        code = EXIT_OK
        if plan.has_errors:
            code = EXIT_ROWS_FAILED
        elif detailed_exitcode and plan.has_changes:
            code = EXIT_CHANGES
        if run is not None:
            run.finish(
                "failed" if plan.has_errors else "completed",
                exit_code=code,
                counts=plan.counts(),
                plan_hash=data["hash"] if data else None,
                artifacts={"plan": str(Path(out).resolve())} if out else {},
            )
    return code


def _print_notes(notes: list[dict[str, str]]) -> None:
    for note in notes:
        color = "red" if note["level"] == "error" else "yellow"
        click.secho(f"{note['level']}: {note['resource']}: {note['message']}", fg=color, err=True)


@click.command("apply")
@_common
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path),  # a missing file is a plan error (exit 3), not click's 2
    help="Apply exactly this saved plan.",
)
@click.option(
    "--approved",
    type=click.Path(exists=True, path_type=Path),
    help="With --plan: apply only the rows of this approval file.",
)
@click.option("--dry-run", is_flag=True, help="Plan and report; never write.")
@click.option("--concurrency", type=int, help="In-flight orders per node (app.concurrency).")
@click.option(
    "--resume",
    "resume",
    metavar="RUN_ID",
    help="Continue an interrupted or cancelled run: follow its accepted orders, look up writes "
    "whose answer is unknown, send the rest.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Apply even when the workbook's file name names another tenant.",
)
@click.option("--wait", is_flag=True, help="Wait while another run holds the tenant (else exit 5).")
@click.option(
    "--events",
    metavar="FILE|-",
    help="Write the run's events as JSON lines (sync.started, sync.progress, …) to FILE or stdout.",
)
@click.option(
    "--annotate",
    is_flag=True,
    help="Also write annotated.xlsx (each finding on its cell) beside the report, linked from it.",
)
@FORCE_UPDATE_OPTION
@click.option(
    "--auto-approve",
    is_flag=True,
    help="Apply what was planned without asking (CI). Without it apply asks on a terminal and "
    "refuses elsewhere (exit 6); --plan, --resume and --dry-run never ask.",
)
@click.option(
    "--rollback-on-error",
    is_flag=True,
    help="When a row ends ERROR or EXCEPTION, undo the run's successful writes (all or nothing).",
)
@click.option(
    "--force-refresh",
    is_flag=True,
    help="Call Director's RefreshList endpoints (where documented) before listing.",
)
@click.option(
    "--no-verify-apply",
    "no_verify_apply",
    is_flag=True,
    help="Do not read back what was applied to check that Director kept it (on by default).",
)
@click.option(
    "--on-drift",
    type=click.Choice(["revert", "keep", "fail"]),
    default="revert",
    show_default=True,
    help="Rows changed on Director since the last apply: overwrite them (revert), leave them "
    "as Director has them (keep), or refuse to apply (fail). Conflicts are applied only with "
    "revert.",
)
def apply_command(
    tenant: str | None,
    xlsx: Path | None,
    tenants_file: Path | None,
    resources: str | None,
    config_file: Path | None,
    url: str | None,
    no_verify: bool | None,
    verbose: bool = False,
    plan_file: Path | None = None,
    approved: Path | None = None,
    dry_run: bool = False,
    concurrency: int | None = None,
    resume: str | None = None,
    wait: bool = False,
    events: str | None = None,
    force: bool = False,
    annotate: bool = False,
    force_update: tuple[str, ...] = (),
    auto_approve: bool = False,
    prune: bool = False,
    prune_unowned: bool = False,
    rollback_on_error: bool = False,
    force_refresh: bool = False,
    no_verify_apply: bool = False,
    on_drift: str = "revert",
) -> int:
    """Plan then apply a workbook (or apply a saved plan); only changed rows are sent.

    Every apply is a run in the ledger (`directorsync history`, `status`, `cancel`) with its own
    report folder. Ctrl-C, SIGTERM or `directorsync cancel` stop new writes at once, follow the
    orders Director accepted and write the reports (exit 130; 143 for SIGTERM); a second
    Ctrl-C stops at once. One apply per tenant at a time (exit 5 when busy, or --wait).
    A workbook whose file name names another tenant of the tenants file (esait_config.xlsx
    with --tenant core) is refused unless --force; with --plan, --tenant must be the plan's.
    Before writing what it planned itself, apply shows the changes and asks (see --auto-approve).

    After its writes, an apply reads back what it changed and reports whether Director kept it
    ("converged") or which rows and fields it did not (--no-verify-apply skips this).
    """
    from directorsync.cli.apply_command import run_apply

    extra = {"app.concurrency": concurrency, "app.force_update": list(force_update) or None}
    settings = _settings(config_file, url, no_verify, tenant, tenants_file, **extra)
    return run_apply(
        settings,
        tenant=tenant,
        xlsx=xlsx,
        resources=_resources(resources),
        plan_file=plan_file,
        approved=approved,
        dry_run=dry_run,
        verbose=verbose,
        resume=resume,
        wait=wait,
        events=events,
        force=force,
        annotate=annotate,
        auto_approve=auto_approve,
        prune=(prune, prune_unowned),
        rollback_on_error=rollback_on_error,
        force_refresh=force_refresh,
        verify=not no_verify_apply,
        on_drift=on_drift,
    )


__all__ = ["apply_command", "plan_command"]

"""The ``plan`` and ``apply`` commands.

Exit codes (see ``docs/cli.md``): 0 success; 1 rows in ERROR/EXCEPTION or plan errors (also
lint errors); 2 configuration/profile errors, or — with ``plan --detailed-exitcode`` — changes
pending; 3 workbook or plan-file errors; 4 Director unreachable or refusing; 5 apply not
confirmed; 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from directorsync.config import load_settings
from directorsync.errors import DirectorSyncError

EXIT_OK, EXIT_ROWS_FAILED, EXIT_CHANGES = 0, 1, 2


def _common(fn):
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
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _settings(config_file, url, no_verify, tenant, tenants_file, **extra: Any):
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
def plan_command(
    tenant, xlsx, tenants_file, resources, config_file, url, no_verify, out, fmt, detailed_exitcode
):
    """Compare a workbook with Director and show what would change (never writes)."""
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
        )
    except (DirectorSyncError, click.UsageError) as exc:
        if not detailed_exitcode:
            raise
        click.secho(f"error: {getattr(exc, 'message', None) or exc}", fg="red", err=True)
        return EXIT_ROWS_FAILED  # with --detailed-exitcode, 2 means "changes pending" only


def _plan(
    tenant, xlsx, tenants_file, resources, config_file, url, no_verify, out, fmt, detailed_exitcode
):
    from directorsync.plan import plan_json
    from directorsync.report.console import print_plan
    from directorsync.session import Session

    settings = _settings(config_file, url, no_verify, tenant, tenants_file)
    tenant = _require(tenant or settings.context.tenant, "--tenant")
    xlsx = _require(xlsx, "--xlsx")
    with Session.open(settings=settings, progress=_progress if fmt == "table" else None) as session:
        plan = session.plan(tenant, xlsx, _resources(resources))
    data = plan.to_dict() if out or fmt == "json" else None
    if out:
        plan.save(out, data)
    if fmt == "json":
        click.echo(plan_json(data).decode())
    else:
        print_plan(data or plan.console_view())
        if out:
            click.echo(f"plan saved to {out} ({data['hash']})")
    _print_notes(plan.notes)  # on stderr: a JSON plan on stdout stays JSON
    if plan.has_errors:
        return EXIT_ROWS_FAILED
    if detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _print_notes(notes: list[dict[str, str]]) -> None:
    for note in notes:
        color = "red" if note["level"] == "error" else "yellow"
        click.secho(f"{note['level']}: {note['resource']}: {note['message']}", fg=color, err=True)


@click.command("apply")
@_common
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(exists=True, path_type=Path),
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
    "--auto-approve",
    is_flag=True,
    help="Apply what was planned without asking (CI). Without it apply asks on a terminal and "
    "refuses elsewhere (exit 5); --plan and --dry-run never ask.",
)
def apply_command(
    tenant,
    xlsx,
    tenants_file,
    resources,
    config_file,
    url,
    no_verify,
    plan_file=None,
    approved=None,
    dry_run=False,
    concurrency=None,
    auto_approve=False,
):
    """Plan then apply a workbook (or apply a saved plan); only changed rows are sent."""
    from directorsync.cli.apply_command import run_apply

    settings = _settings(
        config_file, url, no_verify, tenant, tenants_file, **{"app.concurrency": concurrency}
    )
    return run_apply(
        settings,
        tenant=tenant,
        xlsx=xlsx,
        resources=_resources(resources),
        plan_file=plan_file,
        approved=approved,
        dry_run=dry_run,
        auto_approve=auto_approve,
    )


__all__ = ["apply_command", "plan_command"]

"""``rollback RUN_ID``: the plan that puts Director back as it was before a run.

It is printed and saved (``--out``, else ``plan.json`` in a new report folder of the tenant) and
applied like any saved plan: ``directorsync apply --plan plan.json`` (reviewed: no question).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from directorsync.config import load_settings
from directorsync.errors import ConfigError
from directorsync.ledger.database import open_configured
from directorsync.report.console import print_plan
from directorsync.report.verdicts import shown_path
from directorsync.rollback import rollback_plan
from directorsync.session import Session, result_dir


@click.command("rollback")
@click.argument("run_id")
@click.option(
    "--out", type=click.Path(path_type=Path), help="Where to save the plan (default: reports)."
)
@click.option("--tenants-file", type=click.Path(path_type=Path), help="Tenants topology file.")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Settings YAML.")
@click.option("--url", help="Director base URL (overrides DSYNC_DIRECTOR__BASE_URL).")
@click.option("--no-verify", is_flag=True, default=None, help="Do not verify Director's TLS.")
def rollback_command(
    run_id: str,
    out: Path | None,
    tenants_file: Path | None,
    config_file: Path | None,
    url: str | None,
    no_verify: bool | None,
) -> int:
    """Plan the undoing of run RUN_ID (print it, save it); apply it with `apply --plan`.

    Its updates go back to their pre-images, its deletes are re-created, its creates deleted;
    rows whose object changed again since the run are stale and skipped.
    """
    overrides = {
        "director.base_url": url,
        "director.verify_tls": False if no_verify else None,
        "inputs.tenants_file": str(tenants_file) if tenants_file else None,
    }
    settings = load_settings(config_file, overrides=overrides)
    ledger = open_configured(settings)
    run = ledger.get_run(run_id)
    if not settings.inputs.tenants_file:
        saved = (run.get("artifacts") or {}).get("plan")
        known = (
            json.loads(Path(saved).read_text(encoding="utf-8")).get("tenants_file")
            if saved and Path(saved).is_file()
            else None
        )
        if not known:
            raise ConfigError("no tenants file: pass --tenants-file")
        settings.inputs.tenants_file = Path(known)
    tenant = run["tenant"]
    with Session.open(settings=settings) as session:
        plan = rollback_plan(
            ledger, run_id, session.tenant(tenant), session.inventory(tenant), session.profiles
        )
    plan.tenants_file = str(settings.inputs.tenants_file)
    target = out or result_dir(settings, tenant, settings.run_id) / "plan.json"
    plan.save(target)
    console = Console()
    print_plan(plan.console_view(), console, plan_path=target)
    click.echo(
        f"plan saved to {shown_path(target)}: apply it with directorsync apply --plan {shown_path(target)}"
    )
    return 0

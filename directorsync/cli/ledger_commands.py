"""``history``, ``status`` and ``cancel``: the runs of the ledger, from any shell or machine.

They read the ledger the settings name (``ledger.url``, else ``<reports_dir>/ledger.sqlite``);
none of them talks to Director.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from directorsync.config import load_settings
from directorsync.errors import ConfigError
from directorsync.ledger.database import Ledger, open_configured
from directorsync.ledger.views import history_page, run_view
from directorsync.vocabulary import FINAL_STATES, RUN_STATES

_config = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="Settings YAML (the ledger section names the ledger).",
)
_ledger = click.option(
    "--ledger", "ledger_url", help="Ledger file or URL (overrides ledger.url / DSYNC_LEDGER__URL)."
)


def _open(config_file: Path | None, ledger_url: str | None) -> Ledger:
    settings = load_settings(config_file, overrides={"ledger.url": ledger_url})
    return open_configured(settings)


def _day(value: str | None, option: str) -> str | None:
    """A date or date-time (ISO) → the ledger's UTC text form."""
    if not value:
        return None
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(f"{option}: {value!r} is not a date (YYYY-MM-DD[THH:MM])") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


@click.command("history")
@click.option("--tenant", "-t", help="Only this tenant's runs.")
@click.option("--state", type=click.Choice(RUN_STATES), help="Only runs in this state.")
@click.option("--kind", help="Only runs of this kind (plan, apply, …).")
@click.option("--since", help="Runs created at or after this date (YYYY-MM-DD[THH:MM], UTC).")
@click.option("--until", help="Runs created before this date.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@_config
@_ledger
def history_command(
    tenant: str | None,
    state: str | None,
    kind: str | None,
    since: Any,
    until: Any,
    limit: int,
    offset: int,
    fmt: str,
    config_file: Any,
    ledger_url: str | None,
) -> Any:
    """The ledger's runs, newest first (JSON: count, next, previous, results)."""
    ledger = _open(config_file, ledger_url)
    filters = {
        "tenant": tenant,
        "state": state,
        "kind": kind,
        "since": _day(since, "--since"),
        "until": _day(until, "--until"),
    }
    page = history_page(ledger, limit=limit, offset=offset, **filters)
    if fmt == "json":
        click.echo(json.dumps(page, indent=2, default=str))
        return 0
    _print_history(page)
    return 0


def _print_history(page: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{page['count']} run(s)")
    for column in ("run", "tenant", "kind", "state", "started", "progress", "counts", "by"):
        table.add_column(column, no_wrap=column in ("run", "state", "started"))
    for run in page["results"]:
        progress = run["progress"]
        counts = ", ".join(f"{k} {v}" for k, v in sorted((run["counts"] or {}).items()))
        table.add_row(
            run["id"],
            run["tenant"],
            run["kind"] + (" (dry)" if run["dry_run"] else ""),
            run["state"],
            (run["started_at"] or run["created_at"] or "")[:19],
            f"{progress['rows_processed']}/{progress['total_rows']}",
            counts,
            f"{run['user']}@{run['host']}",
        )
    Console().print(table)
    if page["next"]:
        click.echo(f"more: --offset {page['next_offset']}")


@click.command("status")
@click.argument("run_id")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--watch", is_flag=True, help="Follow a running run until it ends.")
@click.option(
    "--interval", type=float, default=1.0, show_default=True, help="Seconds between reads."
)
@_config
@_ledger
def status_command(
    run_id: str,
    fmt: str,
    watch: bool,
    interval: float,
    config_file: Any,
    ledger_url: str | None,
) -> Any:
    """A run's state, stage, progress, counts, errors and warnings."""
    ledger = _open(config_file, ledger_url)
    last = None
    while True:
        view = run_view(ledger.get_run(run_id))
        shown = json.dumps(view, default=str, sort_keys=True)
        if shown != last:
            _print_status(view, fmt)
            last = shown
        if not watch or view["state"] in FINAL_STATES:
            return 0 if view["state"] in ("completed", "running", "pending") else 1
        time.sleep(interval)


def _print_status(view: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(view, default=str))
        return
    p = view["progress"]
    click.echo(
        f"{view['id']}  {view['tenant']}  {view['kind']}  {view['state']}  "
        f"stage {p['current_stage'] or '-'}  {p['rows_processed']}/{p['total_rows']} rows "
        f"({p['percent_complete']:.0f} %)"
    )
    if view["counts"]:
        click.echo("  counts: " + ", ".join(f"{k} {v}" for k, v in sorted(view["counts"].items())))
    for label in ("errors", "warnings"):
        for item in view[label][:10]:
            where = " ".join(str(item.get(k)) for k in ("resource", "key") if item.get(k))
            click.echo(f"  {label[:-1]}: {where + ': ' if where else ''}{item.get('message')}")
    if view.get("message"):
        click.echo(f"  {view['message']}")


@click.command("cancel")
@click.argument("run_id")
@_config
@_ledger
def cancel_command(run_id: str, config_file: Any, ledger_url: str | None) -> Any:
    """Ask a running run to stop (it sends no new write, follows accepted orders, reports)."""
    ledger = _open(config_file, ledger_url)
    run = ledger.request_cancel(run_id)
    if run["state"] in FINAL_STATES:
        click.echo(f"run {run_id} is already {run['state']}")
        return 0
    click.echo(
        f"cancel asked for run {run_id} ({run['tenant']}, pid {run['pid']} on {run['host']}); "
        f"follow it with `directorsync status {run_id} --watch`"
    )
    return 0


__all__ = ["cancel_command", "history_command", "status_command"]

"""The ``drift`` command: three-way drift of one tenant, or the fleet's drift gate.

Exit codes: 0 no drift (or drift without ``--fail-on-diff``), 2 drift with ``--fail-on-diff``,
1 errors (a tenant could not be checked, its plan has errors, or the command failed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from directorsync.errors import ConfigError, DirectorSyncError

EXIT_OK, EXIT_ERRORS, EXIT_DRIFT = 0, 1, 2


@click.command("drift")
@click.option("--tenant", "-t", help="One tenant of the tenants file.")
@click.option("--tenants", "fleet", help="Comma-separated tenants, or `all`: the fleet gate.")
@click.option(
    "--xlsx",
    type=click.Path(path_type=Path),
    help="The tenant's workbook (--tenant; default: as `directorsync run` finds it).",
)
@click.option(
    "--xlsx-dir",
    type=click.Path(path_type=Path),
    help="Folder holding <tenant>_config.xlsx (default: inputs.workbooks / inputs.xlsx_dir).",
)
@click.option("--tenants-file", type=click.Path(path_type=Path), help="Tenants topology file.")
@click.option("--resources", "-r", help="Comma-separated resources (default: all with a sheet).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Settings YAML.")
@click.option("--url", help="Director base URL (overrides DSYNC_DIRECTOR__BASE_URL).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--fail-on-diff", is_flag=True, help="Exit 2 when any drift is found (CI gate).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON: the tenant's drift report, or the fleet's verification summary.",
)
@click.option(
    "--html",
    "html_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the drift pages (default: <reports_dir>/drift/<run_id>/).",
)
@click.option(
    "--adopt",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --tenant: write a copy of the workbook holding Director's values for the fields "
    "changed on Director (.xlsx).",
)
@click.option(
    "--executor",
    type=click.Choice(["processes", "dask"]),
    help="How a fleet fans out (default: drift.executor).",
)
@click.option("--scheduler", help="Dask scheduler address (with --executor dask).")
@click.option("--parallel", type=click.IntRange(1, 64), help="Tenants checked at the same time.")
def drift_command(
    tenant: str | None,
    fleet: str | None,
    xlsx: Path | None,
    xlsx_dir: Path | None,
    tenants_file: Path | None,
    resources: str | None,
    config_file: Path | None,
    url: str | None,
    fmt: str,
    fail_on_diff: bool,
    out: Path | None,
    html_dir: Path | None,
    adopt: Path | None,
    executor: str | None,
    scheduler: str | None,
    parallel: int | None,
) -> int:
    """Plan without writing and classify each difference against the last apply.

    Classes: workbook_changed, director_changed, conflict, unmanaged, removed (see
    docs/drift.md). Without an earlier apply in the ledger: a two-way diff, and it says so.
    `--tenants all --fail-on-diff --out drift.json` is the fleet gate: tenants in parallel, a
    verification summary, a fleet drift page; exit 0 no drift, 2 drift, 1 errors.
    """
    from directorsync.config import load_settings

    overrides = {
        "director.base_url": url,
        "inputs.tenants_file": str(tenants_file) if tenants_file else None,
        "drift.executor": executor,
        "drift.scheduler": scheduler,
        "drift.parallel": parallel,
    }
    try:  # every error exits 1 (usage too): 2 means "drift found" only
        if bool(tenant) == bool(fleet):
            raise ConfigError("pass --tenant T or --tenants all|a,b,c (one of them)")
        if adopt and not tenant:
            raise ConfigError("--adopt needs --tenant (one workbook)")
        settings = load_settings(config_file, overrides=overrides)
        folder = html_dir or _reports(settings) / "drift" / settings.run_id
        names = [r.strip() for r in (resources or "").split(",") if r.strip()] or None
        if tenant:
            return _one(
                settings, tenant, xlsx, xlsx_dir, names, fmt, fail_on_diff, out, folder, adopt
            )
        return _fleet(settings, fleet or "", xlsx_dir, names, fmt, fail_on_diff, out, folder)
    except DirectorSyncError as exc:
        click.secho(f"error: {exc.message}", fg="red", err=True)
        return EXIT_ERRORS  # 2 means "drift found" only


def _reports(settings: Any) -> Path:
    return Path(settings.app.reports_dir)


def _one(
    settings: Any,
    tenant: str,
    xlsx: Path | None,
    xlsx_dir: Path | None,
    resources: list[str] | None,
    fmt: str,
    fail_on_diff: bool,
    out: Path | None,
    folder: Path,
    adopt: Path | None,
) -> int:
    from directorsync.driftgate import tenant_drift, write_report
    from directorsync.jsonio import dumps_lenient
    from directorsync.notebook.batch import workbook_for
    from directorsync.report.drift_page import write_drift_pages

    workbook = xlsx or workbook_for(settings, tenant, xlsx_dir)
    adopting = (lambda plan, session: _adopt(plan, session, workbook, adopt)) if adopt else None
    report = tenant_drift(settings, tenant, workbook, resources, after=adopting)
    if out:
        write_report(report, out)
    entry = {
        "target": tenant,
        "success": True,
        "verification_passed": report["total"] == 0,
        "counts": report["counts"],
        "by_resource": report["by_resource"],
        "detail": f"{tenant}.json",
        "message": report["message"],
        "mode": report["mode"],
        "duration": report.get("duration", 0),
    }
    summary = {"results": [entry], "counts": report["counts"], "total_targets": 1}
    summary.update(successful=1, failed=0, verification_passed=entry["verification_passed"])
    page = write_drift_pages(summary, {tenant: report}, folder)
    if fmt == "json":
        data = {k: v for k, v in report.items() if not k.startswith("_")}
        click.echo(dumps_lenient(data).decode())
    else:
        _print_report(report)
    say = click.echo if fmt == "table" else lambda m: click.echo(m, err=True)
    if adopt:
        say(report["_after"])
    say(f"drift page: {folder / (tenant + '.html')} (fleet view {page})")
    if report["notes"]:
        return EXIT_ERRORS
    return EXIT_DRIFT if fail_on_diff and report["total"] else EXIT_OK


def _adopt(plan: Any, session: Any, workbook: Path, target: Path) -> str:
    """``--adopt``: the workbook with Director's values for the fields changed on Director."""
    from directorsync.adopt import adopt_workbook
    from directorsync.drift import adopt_cells

    tenant = session.tenant(plan.tenant)
    nodes = {n.id: n for n in tenant.nodes}
    inventory = session.inventory(plan.tenant)

    def frames(source: str, node_id: str) -> Any:
        try:
            return inventory.frame(source, nodes[node_id])
        except DirectorSyncError:
            return None

    cells, notes = adopt_cells(plan, session.profiles, frames, _headers(workbook))
    for note in notes:
        click.secho(f"warning: {note}", fg="yellow", err=True)
    done = adopt_workbook(workbook, cells, target)
    return f"adopted workbook: {target} ({done['cells']} cell(s) with Director's values)"


def _headers(workbook: Path) -> Any:
    from directorsync.workbook import Workbook

    book = Workbook(workbook)

    def headers(sheet: str) -> list[str]:
        return [str(c) for c in book.sheet(sheet).columns] if book.has_sheet(sheet) else []

    return headers


def _print_report(report: dict[str, Any]) -> None:
    counts = ", ".join(f"{c} {n}" for c, n in report["counts"].items())
    click.echo(f"drift of {report['tenant']} ({report['mode']}): {counts}")
    if report["mode"] == "two_way":
        click.secho(report["message"], fg="yellow")
    for note in report["notes"]:
        click.secho(f"error: {note['resource']}: {note['message']}", fg="red", err=True)
    for item in report["items"][:200]:
        where = f"{item['resource']} {item['key']} on {item['node']}"
        if item.get("field"):
            click.echo(
                f"  {item['class']:<17} {where}: {item['field']} workbook={_short(item['workbook'])}"
                f" director={_short(item['director'])} last={_short(item['last_applied'])}"
            )
        else:
            click.echo(f"  {item['class']:<17} {where} ({item.get('note', '')})")
    if len(report["items"]) > 200:
        click.echo(f"  … and {len(report['items']) - 200} more (--format json, or --out)")


def _short(value: Any) -> str:
    text = "null" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _fleet(
    settings: Any,
    names: str,
    xlsx_dir: Path | None,
    resources: list[str] | None,
    fmt: str,
    fail_on_diff: bool,
    out: Path | None,
    folder: Path,
) -> int:
    import json

    from directorsync.driftgate import (
        DriftJob,
        fleet_drift,
        gate_exit_code,
        verification_summary,
        write_report,
    )
    from directorsync.notebook.batch import workbook_for
    from directorsync.report.drift_page import write_drift_pages
    from directorsync.tenants import load_tenants

    if not settings.inputs.tenants_file:
        raise ConfigError("no tenants file: pass --tenants-file or set LP_TENANTS_FILE")
    known = list(load_tenants(settings.inputs.tenants_file))
    wanted = known if names == "all" else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ConfigError(f"unknown tenant {', '.join(unknown)} (known: {', '.join(known)})")
    jobs = [
        DriftJob(
            settings,
            name,
            str(workbook_for(settings, name, xlsx_dir)),
            tuple(resources) if resources else None,
            str(folder),
        )
        for name in wanted
    ]
    started = time.perf_counter()

    def done(entry: dict[str, Any]) -> None:
        state = (
            "passed" if entry["verification_passed"] else "drift" if entry["success"] else "failed"
        )
        click.echo(f"{entry['target']}: {state}: {entry['message']}", err=True)

    entries = fleet_drift(jobs, settings, done)
    summary = verification_summary(entries, time.perf_counter() - started)
    reports = {}
    for entry in entries:
        if entry.get("detail"):
            reports[entry["target"]] = json.loads((folder / entry["detail"]).read_text())
    page = write_drift_pages(summary, reports, folder)
    write_report(summary, out or folder / "drift.json")
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        for entry in entries:
            counts = ", ".join(f"{c} {n}" for c, n in entry["counts"].items() if n) or "none"
            click.echo(
                f"{entry['target']:<20} {'ok' if entry['verification_passed'] else 'DRIFT' if entry['success'] else 'ERROR':<6} {counts}"
            )
        click.echo(
            f"{summary['total_targets']} tenants, {summary['successful']} checked, "
            f"{summary['failed']} failed, {summary['drifted']} with drift "
            f"({summary['total_duration']:.1f} s)"
        )
    say = click.echo if fmt == "table" else lambda m: click.echo(m, err=True)
    say(f"fleet drift page: {page}")
    if out:
        say(f"verification summary: {out}")
    return gate_exit_code(summary, fail_on_diff)

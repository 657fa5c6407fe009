"""``directorsync export``: a tenant's objects on Director → a workbook the importers read."""

from __future__ import annotations

import json
from pathlib import Path

import click

from directorsync.cli.sync_commands import EXIT_OK

#: divergences printed on the console (all are in the notes sheet and the JSON report)
SHOWN = 20


@click.command("export")
@click.option("--tenant", "-t", help="Tenant name in the tenants file.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The workbook to write (.xlsx).",
)
@click.option(
    "--resources",
    "-r",
    help="Comma-separated resources (default: all); the resources they depend on are added.",
)
@click.option(
    "--tenants-file",
    type=click.Path(path_type=Path),
    help="Tenants topology file (default: LP_TENANTS_FILE / inputs.tenants_file).",
)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Settings YAML.")
@click.option("--url", help="Director base URL (overrides DSYNC_DIRECTOR__BASE_URL).")
@click.option(
    "--no-verify", is_flag=True, default=None, help="Do not verify Director's TLS certificate."
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the divergences and notes as JSON.",
)
@click.option(
    "--adopt",
    is_flag=True,
    help="Record the exported objects of prunable resources as DirectorSync's in the ledger "
    "(how=adopted): later plans with --prune may delete them (docs/lifecycle.md).",
)
def export_command(
    tenant: str | None,
    out: Path,
    resources: str | None,
    tenants_file: Path | None,
    config_file: Path | None,
    url: str | None,
    no_verify: bool | None,
    report: Path | None,
    adopt: bool = False,
) -> int:
    """Read the tenant's objects on its nodes and write them as a workbook.

    Nothing is written to Director. Planning the workbook written gives no change; objects that
    differ between nodes are reported (docs/export.md).

    \b
    directorsync export --tenant core --out core_export.xlsx
    directorsync export -t core --out devices.xlsx --resources devices --report export.json
    """
    from directorsync.config import load_settings
    from directorsync.export import export_workbook
    from directorsync.inventory import Inventory
    from directorsync.session import Session

    if out.suffix.lower() != ".xlsx":
        raise click.UsageError(f"--out {out}: export writes an .xlsx workbook")
    overrides = {
        "director.base_url": url,
        "director.verify_tls": False if no_verify else None,
        "context.tenant": tenant,
        "inputs.tenants_file": str(tenants_file) if tenants_file else None,
    }
    settings = load_settings(config_file, overrides=overrides)
    name = tenant or settings.context.tenant
    if not name:
        raise click.UsageError("--tenant is required")
    asked = [r.strip() for r in resources.split(",") if r.strip()] if resources else None
    with Session.open(settings=settings) as session:
        inventory = Inventory(
            session.client,
            session.tenant(name),
            session.profiles,
            max_workers=settings.app.concurrency,
        )
        result = export_workbook(
            inventory,
            session.profiles,
            out,
            asked,
            progress=lambda line: click.echo(f"… {line}", err=True),
        )
        if adopt:
            from directorsync.config import new_run_id
            from directorsync.ledger.database import open_configured
            from directorsync.ownership import adopt_listed

            ledger = open_configured(settings)
            try:
                adopted = adopt_listed(
                    ledger,
                    settings.run_id or new_run_id(),
                    session.tenant(name),
                    inventory,
                    session.profiles,
                    list(result.objects),
                )
            finally:
                ledger.close()
            click.echo(
                f"adopted {sum(adopted.values())} objects (ledger ownership, how=adopted): "
                + ", ".join(f"{r} {n}" for r, n in adopted.items())
            )
    total = sum(result.objects.values())
    click.echo(
        f"exported {total} objects of {len(result.objects)} resources to {out} "
        f"in {result.seconds['total']:.2f} s"
    )
    for resource, count in result.objects.items():
        click.echo(f"  {resource}: {count}")
    if result.divergences:
        click.secho(
            f"{len(result.divergences)} object(s) differ between nodes; each row was written "
            "from the first node holding the object (notes sheet: 'DirectorSync export'):",
            fg="yellow",
            err=True,
        )
        for item in result.divergences[:SHOWN]:
            fields = ", ".join(item["fields"])
            click.echo(
                f"  {item['resource']} '{item['object']}': {item['reference']} ≠ {item['node']} "
                f"({fields})",
                err=True,
            )
        if len(result.divergences) > SHOWN:
            click.echo(f"  … and {len(result.divergences) - SHOWN} more", err=True)
    write_only = [n for n in result.notes if n["kind"] == "write_only"]
    for note in write_only:
        click.echo(
            f"note: {note['resource']}: column '{note['column']}' left empty (Director does not "
            "return it)",
            err=True,
        )
    if report:
        data = {
            "tenant": name,
            "workbook": str(out),
            "objects": result.objects,
            "sheets": result.sheets,
            "divergences": result.divergences,
            "notes": result.notes,
            "seconds": result.seconds,
        }
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    return EXIT_OK

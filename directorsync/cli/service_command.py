"""``serve``: the DirectorSync service (sync API, live events, fleet page) until Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("serve")
@click.option(
    "--host",
    help="Address to listen on (default service.host: 127.0.0.1, this machine only).",
)
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default service.port: 8480).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Syncs running at once; more wait in a queue (default service.workers: 2).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="Settings YAML (default: ./directorsync.yml, ~/.config/directorsync/config.yml, /etc/directorsync/config.yml).",
)
@click.option(
    "--tenants-file",
    type=click.Path(path_type=Path),
    help="Tenants topology file (default: LP_TENANTS_FILE / inputs.tenants_file).",
)
@click.option(
    "--xlsx-dir",
    type=click.Path(path_type=Path),
    help="Folder holding <tenant>_config.xlsx (default: inputs.xlsx_dir).",
)
def serve_command(
    host: str | None,
    port: int | None,
    workers: int | None,
    config_file: Path | None,
    tenants_file: Path | None,
    xlsx_dir: Path | None,
) -> int:
    """Serve the sync API, live events and the fleet page over HTTP.

    Callers need a bearer token of the service: service.tokens in the config file or
    DSYNC_SERVICE__TOKENS=name=token,name2=token2 (the name is recorded as the run's user).
    Syncs use the same settings, tenants file, workbooks and ledger as the CLI, so runs of
    both appear in one history. Ctrl-C or SIGTERM cancel the running syncs cleanly (reports
    written, state cancelled) before the service stops.
    """
    from directorsync.config import load_settings
    from directorsync.service.app import serve

    settings = load_settings(
        config_file,
        overrides={
            "service.host": host,
            "service.port": port,
            "service.workers": workers,
            "inputs.tenants_file": str(tenants_file) if tenants_file else None,
            "inputs.xlsx_dir": str(xlsx_dir) if xlsx_dir else None,
        },
    )
    serve(settings)
    return 0

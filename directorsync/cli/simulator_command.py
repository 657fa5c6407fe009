"""``directorsync simulator``: run the local Director until Ctrl-C or SIGTERM.

The first line printed is ``Director simulator listening on http://HOST:PORT`` (with ``--port
0`` the bound port), so that scripts can read the base URL and know the server is ready.
"""

from __future__ import annotations

import errno
import gc
import signal
import threading
from pathlib import Path
from typing import Any

import click

from directorsync.simulator.embedded import DEFAULT_TOKEN, Simulator


@click.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8470,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0: any free port.",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Tenants file (format of tenants.yml). Default: the built-in demo topology.",
)
@click.option(
    "--token",
    default=DEFAULT_TOKEN,
    show_default=True,
    envvar="DSYNC_SIM_TOKEN",
    help="Bearer token.",
)
@click.option(
    "--state", type=click.Path(dir_okay=False, path_type=Path), help="SQLite file that keeps state."
)
@click.option(
    "--latency-ms", type=click.IntRange(min=0), default=0, help="Delay before every answer."
)
@click.option("--job-ms", type=click.IntRange(min=0), default=0, help="How long each order runs.")
@click.option("--fail-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of 503 answers.")
@click.option(
    "--drop-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of dropped connections."
)
@click.option(
    "--job-fail-rate", type=click.FloatRange(0, 1), default=0.0, help="Share of failed orders."
)
@click.option(
    "--max-inflight", type=click.IntRange(min=0), default=0, help="Concurrent requests before 429."
)
@click.option("--rng-seed", type=int, default=None, help="Seed of ids and random faults.")
@click.option(
    "--lenient-devicegroup-empty-name", is_flag=True, help="Accept DeviceGroups edits with name ''."
)
@click.option(
    "--plugins-with-uuid", is_flag=True, help="Add uuid/processpolicy to Devices/{id}/plugins."
)
@click.option(
    "--np-read-compiled-normalizer", is_flag=True, help="Echo compiled_normalizer in NP reads."
)
def simulator_command(
    host: str, port: int, seed: Path | None, token: str, state: Path | None, **knobs: Any
) -> int:
    """Run the local Director simulator (plain HTTP) until Ctrl-C or SIGTERM."""
    try:
        sim = Simulator(seed=seed, token=token, host=host, port=port, state=state, **knobs)
    except OSError as exc:
        raise click.ClickException(_bind_message(host, port, exc)) from None
    # this process only serves: the loaded state lives until exit, so the cyclic collector need
    # not walk it again (a state of 300,000 objects otherwise costs the first requests ~0.5 s)
    gc.collect()
    gc.freeze()
    stop = threading.Event()
    try:
        sim.start()
    except OSError as exc:
        raise click.ClickException(_bind_message(host, port, exc)) from None
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        _banner(sim, state)
        while not stop.wait(timeout=1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        signal.signal(signal.SIGTERM, previous)
    click.echo("Director simulator stopped")
    return 0


def _bind_message(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {host}:{port}: the port is already in use "
            "(another simulator?); stop it or pick another --port (0: any free port)"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _banner(sim: Simulator, state: Path | None) -> None:
    click.echo(f"Director simulator listening on {sim.base_url}")
    for tenant in sim.tenants.values():
        nodes = ", ".join(
            f"{n.name} ({n.role[:-1] if n.role.endswith('s') else n.role}: {n.id})"
            for n in tenant.nodes
        )
        click.echo(f"  tenant {tenant.name}: pool {tenant.pool_uuid}: {nodes}")
    click.echo(f"  token: {sim.token}   state: {state or 'memory'}")
    first = next(iter(sim.tenants.values())).nodes[0]
    click.echo(
        f"  try: curl -H 'Authorization: Bearer {sim.token}' {sim.configapi(first.id)}/Repos"
    )
    click.echo("Press Ctrl-C to stop.")

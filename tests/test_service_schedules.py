"""The service runs its schedules: a due schedule starts a sync through the service's runner.

The service is built in-process (:func:`create_app`, no HTTP needed for the scheduler); its
scheduler's clock is moved by the test, the sync itself runs for real against the simulator and
lands in the ledger with trigger ``scheduled``.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx
import pytest
from conftest import cli_env, need_samples, new_simulator, writes
from service_process import ALICE, service_env, until

from directorsync.config import load_settings
from directorsync.errors import ConfigError
from directorsync.service.app import create_app

FINAL = ("completed", "failed", "cancelled")


def _settings(tmp_path, env, tenants: str):
    config = tmp_path / "directorsync.yml"
    config.write_text(
        "schedules:\n"
        f"  - {{name: nightly-check, cron: '0 2 * * *', tenants: {tenants}, kind: plan}}\n",
        encoding="utf-8",
    )
    return load_settings(config, env=env)


def test_a_due_schedule_starts_a_sync_of_the_service(tmp_path):
    sim = new_simulator().start()
    try:
        env = service_env(cli_env(sim, tmp_path), need_samples())
        app = create_app(_settings(tmp_path, env, "[core]"))
        try:
            scheduler = app.state.scheduler
            due = scheduler.next_times()["nightly-check"]  # the next 02:00 UTC
            assert (due.hour, due.minute) == (2, 0)
            scheduler.clock = lambda: due - dt.timedelta(seconds=30)
            assert scheduler.tick() == []  # not due yet
            scheduler.clock = lambda: due
            [firing] = scheduler.tick()
            assert (firing.tenant, firing.kind, firing.error) == ("core", "plan", None)
            ledger = app.state.ledger

            def ended():
                try:
                    run = ledger.get_run(firing.sync_id)
                except Exception:  # noqa: BLE001 - not recorded yet (the sync's process starts)
                    return None
                return run if run["state"] in FINAL else None

            run = until(ended, "the scheduled sync to end", timeout=180)
            listed = asyncio.run(_get(app, "/api/schedules"))  # no lifespan: no thread
            [shown] = listed.json()["schedules"]
            assert (shown["name"], shown["runs"], shown["tenants"]) == (
                "nightly-check",
                "plan",
                ["core"],
            )
            assert [f["sync_id"] for f in shown["recent"]] == [firing.sync_id]
            assert run["state"] == "completed", run
            assert (run["tenant"], run["trigger"]) == ("core", "scheduled")
            assert run["user"] == "schedule:nightly-check"
            assert writes(sim) == []  # a plan writes nothing
        finally:
            app.state.runner.shutdown(10)
            app.state.ledger.close()
    finally:
        sim.stop()


def test_a_schedule_naming_an_unknown_tenant_stops_the_service_start(tmp_path):
    env = service_env(cli_env(None, tmp_path), need_samples())
    with pytest.raises(ConfigError, match="unknown tenant.*acme"):
        create_app(_settings(tmp_path, env, "[acme]"))


async def _get(app, path: str) -> httpx.Response:
    """``GET path`` of the app in this process, as the service's caller alice."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        return await client.get(path, headers={"Authorization": f"Bearer {ALICE}"})

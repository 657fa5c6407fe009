"""The live fleet page of ``directorsync serve`` in headless Chromium.

A sync started through the API shows on the page, its progress bar moves with the WebSocket
events while the simulator's orders are held (``job_ms``), then the page shows the finished
counts. A run message holding markup is shown as text. The page's dry-run button starts a
sync; stopping the service cancels it.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from conftest import cli_env, need_samples, writes
from service_process import ALICE, ServiceProcess, service_env, until

from directorsync.ledger.database import open_ledger

CHROMIUM = Path("/usr/bin/chromium")
SLOW = 600_000
MARKUP = '<img src=x onerror="window.pwned=1"><b>bold?</b>'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def test_the_fleet_page_follows_a_sync_live(start_simulator, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    sim = start_simulator(job_ms=SLOW)
    env = service_env(cli_env(sim, tmp_path), need_samples())
    service = ServiceProcess(env, tmp_path / "out", "--workers", "2")
    ledger = open_ledger(f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}")
    try:
        ledger.create_run(
            "20260101T000000Z-0a0b0c", tenant="sccoe", kind="apply", trigger="cli",
            state="failed", message=MARKUP, counts={"ERROR": 1}, completed_at=ledger.now(),
        )  # fmt: skip
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{service.base_url}/#token={ALICE}")
            assert "token" not in page.url  # the token leaves the address bar at once
            sccoe = page.locator('tr[data-tenant="sccoe"]')
            expect(sccoe.locator(".message")).to_have_text(MARKUP)
            assert page.evaluate("window.pwned") is None

            with service.client() as api:
                res = api.post(
                    "/api/tenants/core/syncs", json={"options": {"resources": ["repos"]}}
                )
                assert res.status_code == 202, res.text
                sync_id = res.json()["sync_id"]
            core = page.locator('tr[data-tenant="core"]')
            expect(core).to_have_attribute("data-state", "running", timeout=60_000)
            until(lambda: len(writes(sim)) >= 2, "the first writes")
            sim.advance(SLOW)  # the first orders end; the next ones are held again
            label = core.locator(".progress-label")
            expect(label).to_contain_text(re.compile(r"[1-9][0-9]*/12 rows"), timeout=30_000)
            percent = float(core.locator("progress").get_attribute("value") or 0)
            assert 0 < percent < 100, percent

            sim.configure(job_ms=0)
            sim.advance(SLOW)
            expect(core).to_have_attribute("data-state", "completed", timeout=60_000)
            expect(core.locator(".counts")).to_have_text("CREATED 12")
            expect(core.locator(".run")).to_contain_text(sync_id)
            assert core.locator("progress").get_attribute("value") == "100"
            expect(core.locator("button.open-report")).to_be_visible()

            esait = page.locator('tr[data-tenant="esait"]')
            esait.locator("button.dry-run").click()
            expect(esait.locator(".run")).to_contain_text("(dry run)", timeout=30_000)
            dry_id = esait.locator(".run").inner_text().split(" ")[0]
            browser.close()
    finally:
        assert service.stop() in (0, -signal.SIGTERM)  # uvicorn ends by the signal it got
    # stopping the service ended its sync: cancelled cleanly, or done before the stop
    assert ledger.get_run(dry_id)["state"] in ("cancelled", "completed")
    assert "tok-" not in service.output()

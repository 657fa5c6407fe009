"""The review widget in a real JupyterLab, driven by headless Chromium (Playwright).

Opens ``explore.ipynb`` (parameterised for one resource), runs every cell, ticks one row of the
DiffReview, clicks "Apply selected", confirms and checks in the simulator's request log that exactly that
row was written. Run ``python tests/test_jupyterlab_browser.py`` to regenerate
``docs/img/review.png``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLES, TOKEN

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_ENV = "REVIEW_SCREENSHOT_PATH"  # not DSYNC_*: conftest clears those

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll the server's /api/status until it answers (bounded), or fail with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout} s")


@pytest.fixture
def lab(simulator, tmp_path):
    """JupyterLab on a free port, root = a folder holding explore.ipynb for one resource."""
    import papermill

    pytest.importorskip("playwright.sync_api")

    root = tmp_path / "lab"
    root.mkdir()
    papermill.execute_notebook(  # parameterise only; JupyterLab runs it
        str(ROOT / "notebooks" / "explore.ipynb"),
        str(root / "explore.ipynb"),
        parameters={"tenant": "core", "resources": ["repos", "routing_policies"]},
        prepare_only=True,
        progress_bar=False,
    )
    config = Path(os.environ["JUPYTER_CONFIG_DIR"])  # a temp dir (conftest)
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "DSYNC_DIRECTOR__BASE_URL": simulator.base_url,
        "DSYNC_DIRECTOR__TOKEN": TOKEN,
        "LP_TENANTS_FILE": str(SAMPLES / "tenants.yml"),
        "DSYNC_INPUTS__WORKBOOKS__CORE": str(SAMPLES / "core_config_light.xlsx"),
        "DSYNC_APP__REPORTS_DIR": str(tmp_path / "reports"),
    }
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--allow-root",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],  # fmt: skip
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/api/status?token={token}", proc)
        yield f"http://127.0.0.1:{port}/lab/tree/explore.ipynb?token={token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def test_review_widget_applies_only_the_ticked_row(lab, simulator, tmp_path):
    from playwright.sync_api import sync_playwright

    from directorsync.tenants import load_tenants

    nodes = {n.name: n.id for n in load_tenants(SAMPLES / "tenants.yml")["core"].nodes}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1900})
            page.set_default_timeout(60_000)
            page.goto(lab, wait_until="domcontentloaded")
            page.locator(".jp-NotebookPanel").first.wait_for()
            page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for()
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator("[data-command='runmenu:run-all']").first.click()
            review = page.locator(".directorsync-review")
            accept = page.locator(".jp-Dialog .jp-mod-accept")  # "Select Kernel", if asked
            try:
                review.or_(accept).first.wait_for(timeout=120_000)
                if accept.is_visible():
                    accept.click()
                review.wait_for(timeout=120_000)
            except Exception:
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                errors = page.locator(".jp-OutputArea-output[data-mime-type*='error']")
                raise AssertionError(
                    f"no review widget; cell errors: {errors.all_inner_texts()}; "
                    f"screenshot {tmp_path / 'failure.png'}, log {tmp_path / 'lab.log'}"
                ) from None
            before = len(simulator.requests())

            row = review.locator(".widget-checkbox").filter(has_text="create").first
            action, resource, node, rest = row.inner_text().split(" · ")
            key = rest.split(" — ")[0].strip()
            row.locator("input[type=checkbox]").check()
            row.locator("xpath=..").locator("button").first.click()  # its details
            review.locator("th", has_text="before").first.wait_for()  # the detail pane
            review.locator("button", has_text="Apply selected").click()
            review.get_by_text("Apply 1 changes to tenant core (1 create)?").wait_for()
            review.locator("button", has_text="Yes, apply").click()
            review.get_by_text("applied: 1 CREATED").wait_for()
            png = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "review.png")
            review.screenshot(path=str(png))
        finally:
            browser.close()

    writes = [r for r in simulator.requests()[before:] if r["method"] in ("POST", "PUT", "DELETE")]
    assert len(writes) == 1, writes
    assert nodes[node.strip()] in writes[0]["path"]
    assert key in json.dumps(writes[0]["body"])
    assert (action.strip(), resource) == ("create", "repos")
    assert png.stat().st_size > 10_000


if __name__ == "__main__":  # regenerate the screenshot in the docs
    target = ROOT / "docs" / "img" / "review.png"
    os.environ[SCREENSHOT_ENV] = str(target)
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))

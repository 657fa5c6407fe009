"""The review widget in a real JupyterLab, driven by headless Chromium (Playwright).

Opens ``explore.ipynb`` (two resources), runs every cell, filters the DiffReview (resource and
action), sorts its data grid from the header menu, selects a range of rows (click, shift-click on
the grid's canvas, at positions computed from the row height the grid is given), inspects a row,
clicks "Apply selected", confirms and checks in the simulator's request log that exactly the
selected rows were written. Run ``python tests/test_jupyterlab_browser.py`` to regenerate
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


def _row_shown(review) -> tuple[str, str]:
    """``(key, node)`` of the row in the detail pane (``resource · key on node — …``)."""
    head = review.locator(".directorsync-detail").inner_text().splitlines()[0]
    key, node = head.split(" · ", 1)[1].split(" on ", 1)
    return key, node.split(" — ", 1)[0].strip()


def test_review_grid_sorts_filters_selects_a_range_and_applies_it(lab, simulator, tmp_path):
    from playwright.sync_api import sync_playwright

    from directorsync.notebook.review_grid import COLUMN_WIDTHS, HEADER_HEIGHT, ROW_HEIGHT
    from directorsync.tenants import load_tenants

    nodes = {n.name: n.id for n in load_tenants(SAMPLES / "tenants.yml")["core"].nodes}

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, timeout=30_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1900})
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
            status = review.locator(".widget-label").filter(has_text="rows shown").first
            status.wait_for()

            # filter: the review's own filters (each option with its count)
            selects = review.locator("select")
            for n, wanted in ((0, "repos"), (2, "create")):
                label = selects.nth(n).locator("option", has_text=wanted).first.inner_text()
                selects.nth(n).select_option(label=label)
            review.get_by_text(re.compile(r"^create [\d,]+$")).wait_for()  # the counts line

            # sort: the key column's header menu (its icon: bottom right of the header cell)
            grid = review.locator(".lm-DataGrid-viewport").first
            key_left = sum(COLUMN_WIDTHS[c] for c in ("row", "resource", "node"))
            icon = {"x": key_left + COLUMN_WIDTHS["key"] - 8, "y": HEADER_HEIGHT - 8}
            grid.click(position=icon)
            page.locator(
                ".ipydatagrid-context-menu .lm-Menu-item", has_text="Sort Descending"
            ).click()

            # select a range: click view row 0, shift-click view row 2 (in the key column)
            def row_at(n: int) -> dict:
                return {"x": key_left + 40, "y": HEADER_HEIGHT + ROW_HEIGHT * n + ROW_HEIGHT / 2}

            grid.click(position=row_at(0))
            review.get_by_text(re.compile(r"· 1 selected")).wait_for()
            detail = review.locator(".directorsync-detail")
            detail.locator("th", has_text="after").wait_for()  # inspect: before → after
            first, first_text = _row_shown(review), detail.inner_text()
            grid.click(position=row_at(2), modifiers=["Shift"])
            review.get_by_text(re.compile(r"· 3 selected")).wait_for()
            page.wait_for_function(  # the detail pane follows the row clicked
                "t => document.querySelector('.directorsync-detail').innerText !== t",
                arg=first_text,
            )
            third = _row_shown(review)
            review.locator("button", has_text="Apply selected").click()
            review.get_by_text("Apply 3 changes to tenant core (3 create)?").wait_for()
            review.locator("button", has_text="Yes, apply").click()
            review.get_by_text("applied: 3 CREATED").wait_for()
            png = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "review.png")
            if os.environ.get(SCREENSHOT_ENV):  # the docs' picture: let the canvas redraw the
                page.wait_for_timeout(1500)  # result column (nothing in the DOM to wait on)
            review.screenshot(path=str(png))
        finally:
            browser.close()

    writes = [r for r in simulator.requests()[before:] if r["method"] in ("POST", "PUT", "DELETE")]
    assert len(writes) == 3, writes
    for key, node in (first, third):  # the rows clicked, among exactly three writes
        hits = [w for w in writes if nodes[node] in w["path"] and f'"{key}"' in json.dumps(w)]
        assert len(hits) == 1, (key, node, writes)
    assert all("/Repos" in w["path"] for w in writes), writes
    assert first[0] >= third[0]  # the grid was sorted by key, descending
    assert png.stat().st_size > 10_000


if __name__ == "__main__":  # regenerate the screenshot in the docs
    target = ROOT / "docs" / "img" / "review.png"
    os.environ[SCREENSHOT_ENV] = str(target)
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))

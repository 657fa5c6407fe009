"""The HTML report as a reader sees it: rendered by headless Chromium.

Run ``python tests/test_report_browser.py`` to regenerate ``docs/img/report.png``,
``docs/img/report-open.png`` and ``docs/img/fleet.png``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zlib
from html import unescape
from pathlib import Path

import pytest

from directorsync.report.customer import write_html
from directorsync.report.fleet_page import render_fleet_index

CHROMIUM = Path("/usr/bin/chromium")
SCRIPT = "<script>alert(1)</script>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium"),
]


def _row(resource, key, status, node="lp-core-01", changes=(), **extra):
    """A result row; ``changes`` as (field, before, after) triples."""
    action = {"CREATED": "create", "UNCHANGED": "unchanged", "SKIP": "skip"}.get(status, "update")
    row = {
        "resource": resource,
        "node_id": node.upper().replace("-", ""),
        "node_name": node,
        "key": key,
        "action": action,
        "status": status,
        "reason": None,
        "error": None,
        "changes": [{"field": f, "before": b, "after": a} for f, b, a in changes],
        "order_id": None,
        "duration_ms": None,
        "attempts": 1 if status in ("CREATED", "UPDATED", "ERROR", "EXCEPTION") else 0,
        "source": f"core_config.xlsx › {resource} › row {zlib.crc32(key.encode()) % 400 + 2}",
    }
    return row | extra


STORE = "/opt/immune/storage/"
RULE = {"key": "EventID", "value": "4624", "repo": "Repo_win"}


def realistic_result() -> dict:
    """A tenant's apply: a bit of everything, as a customer would receive it."""
    rows = [
        _row("repos", "Repo_fw", "CREATED", order_id="a81f3c02", duration_ms=412, changes=[
            ("name", None, "Repo_fw"),
            ("hiddenrepopath", None, [{"path": STORE, "retention": 365}])]),
        _row("repos", "Repo_win", "UPDATED", order_id="a81f3c07", duration_ms=388,
             reason="1 field differs", changes=[("hiddenrepopath",
             [{"path": STORE, "retention": 90}], [{"path": STORE, "retention": 180}])]),
        _row("repos", "Repo_linux", "UNCHANGED"),
        _row("repos", "Repo_audit", "UNCHANGED"),
        _row("routing_policies", "RP_windows", "UPDATED", order_id="b2201e9d", duration_ms=655,
             reason="2 fields differ", changes=[
            ("catch_all", "Repo_default", "Repo_win"),
            ("routing_criteria", [RULE], [RULE, RULE | {"value": "4625", "repo": "Repo_audit"}])]),
        _row("routing_policies", "RP_firewall", "ERROR", order_id="b2201ea1", duration_ms=1840,
             attempts=3, error="Repo 'Repo_fw_old' does not exist on lp-core-01."),
        _row("routing_policies", "RP_linux", "UNCHANGED"),
        _row("normalization_policies", "NP_Windows", "CREATED", order_id="c0de7710",
             duration_ms=297, changes=[
            ("name", None, "NP_Windows"),
            ("normalization_packages", None, ["LP_Windows", "LP_Windows_Sysmon"]),
            ("compiled_normalizer", None, "WinCompiled")]),
        _row("normalization_policies", "NP_Überwachung", "SKIP",
             reason="normalization package 'LP_Legacy' is not installed on this node"),
        _row("device_groups", "DG_DMZ", "CREATED", order_id="d9310b55", duration_ms=233,
             payload={"name": "DG_DMZ", "description": "Firewalls in the DMZ"}),
        _row("devices", "fw-dmz-01", "UPDATED", order_id="e77c1a02", duration_ms=501,
             reason="1 field differs", changes=[("ip", ["10.0.8.1"], ["10.0.8.1", "10.0.8.2"])]),
        _row("devices", SCRIPT, "EXCEPTION", duration_ms=12,
             error="TypeError: ip address list is empty"),
        _row("devices", "fw-dmz-02", "SKIP", reason="device group 'DG_Legacy' not found"),
    ]  # fmt: skip
    rows += [_row("devices", f"srv-{i:03d}", "UNCHANGED", node="lp-core-02") for i in range(40)]
    finding = {"resource": "devices", "sheet": "Devices", "row": 14, "column": "IP",
               "check": "ip_address", "severity": "error", "message": "not an IP address",
               "value": "10.0.300.1"}  # fmt: skip
    return {
        "schema": "directorsync/result@1",
        "run_id": "20240611T091502Z-7f3a",
        "tenant": "core",
        "pool_uuid": "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
        "workbook": "core_config.xlsx",
        "dry_run": False,
        "started_at": "2024-06-11T09:15:02+00:00",
        "finished_at": "2024-06-11T09:15:21+00:00",
        "phases": {"load": 1.84, "plan": 4.2, "apply": 12.97},
        "plan_hash": "sha256:9f2c1e7b44d0",
        "findings": [
            finding,
            finding
            | {
                "resource": "repos",
                "sheet": "Repo",
                "row": 9,
                "column": "Retention",
                "check": "in_range(1, 3650)",
                "message": "out of range",
                "value": 0,
            },
        ],  # fmt: skip
        "rows": rows,
    }


def chromium(*args: str, profile: Path, timeout: float = 60) -> str:
    """Runs headless Chromium with networking features off; returns stdout."""
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    return done.stdout


def visible_text(dom: str) -> str:
    """The text of a dumped DOM: no style/script, no tags, entities decoded, spaces collapsed."""
    dom = re.sub(r"<(style|script)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", dom)))


def screenshot(html: Path, png: Path, profile: Path) -> None:
    chromium(f"--screenshot={png}", "--window-size=1280,2000", "--hide-scrollbars",
             html.as_uri(), profile=profile)  # fmt: skip


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return write_html(realistic_result(), tmp_path_factory.mktemp("report") / "report.html")


def test_reader_sees_tenant_counts_and_errors(report, tmp_path):
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile")
    text = visible_text(dom)
    assert "DirectorSync report · core" in text
    assert "20240611T091502Z-7f3a" in text
    assert "Rows in total" in text and "53" in text
    assert "Repo 'Repo_fw_old' does not exist on lp-core-01." in text
    assert "normalization package 'LP_Legacy' is not installed on this node" in text
    assert "NP_Überwachung" in text


def test_script_payload_is_text_and_never_runs(report, tmp_path):
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile")
    assert SCRIPT in visible_text(dom)
    assert "<script" not in dom.lower()  # the DOM holds it only as text (&lt;script&gt;)


def test_playwright_inner_text_and_no_dialog(report):
    sync_api = pytest.importorskip("playwright.sync_api")
    dialogs = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=True)
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(report.as_uri())
            text = page.inner_text("body")
        finally:
            browser.close()
    assert dialogs == []
    assert SCRIPT in text
    assert "core" in text and "Would create" not in text


def test_screenshot_renders(report, tmp_path):
    png = tmp_path / "report.png"
    screenshot(report, png, tmp_path / "profile")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # something was drawn, not a blank page


def fleet_tenants() -> list[dict]:
    good, clean = realistic_result(), realistic_result()
    clean["rows"] = [r | {"status": "UNCHANGED"} for r in clean["rows"]]
    return [
        {"tenant": "sccoe", "ok": True, "error": None, "result": clean,
         "report_href": "../sccoe/r1/report.html", "notebook_href": None},
        {"tenant": "core", "ok": True, "error": None, "result": good,
         "report_href": "../core/r1/report.html", "notebook_href": "../core/r1/tenant_sync.ipynb"},
        {"tenant": "esait", "ok": False, "error": "PapermillExecutionError: KeyError 'Repo'",
         "result": None, "report_href": None, "notebook_href": "../esait/r1/tenant_sync.ipynb"},
    ]  # fmt: skip


def shots(page, report: Path, fleet: Path, folder: Path) -> dict:
    """Screenshots of the report and of the fleet page.

    The report as opened, then with a findings group and a resource open. Returns the report's
    height in px and what the reader sees.
    """
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(report.as_uri())
    seen = {"height": page.evaluate("document.documentElement.scrollHeight")}
    seen["first"] = page.inner_text("#verdict")
    page.screenshot(path=str(folder / "report.png"), full_page=True)
    hidden = page.is_visible("text=10.0.300.1")
    page.click("#findings details summary")
    page.click("#r1 > summary")
    seen["opened"] = not hidden and page.is_visible("text=10.0.300.1")
    page.locator("#findings").screenshot(path=str(folder / "report-open.png"))
    page.emulate_media(media="print")
    seen["toc_in_print"] = page.is_visible("nav.toc")
    page.emulate_media(media="screen")
    page.goto(fleet.as_uri())
    seen["grid"] = page.inner_text("#grid table")
    page.screenshot(path=str(folder / "fleet.png"), full_page=True)
    return seen


def test_pages_read_summary_first_open_on_click_and_print(report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    fleet = tmp_path / "index.html"
    fleet.write_text(render_fleet_index("r1", fleet_tenants()), encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            seen = shots(browser.new_page(), report, fleet, tmp_path)
        finally:
            browser.close()
    assert seen["first"] == (
        "6 of 8 changes applied, 2 failed — see Errors; 2 rows skipped — see Skipped rows."
    )
    assert seen["height"] < 4000, "the report reads summary first, details folded"
    assert seen["opened"], "a findings group opens to its cells, without script"
    assert not seen["toc_in_print"]
    grid_rows = seen["grid"].splitlines()
    assert grid_rows[1].startswith("esait") and grid_rows[2].startswith("core")  # problems first
    assert "1 changed · 1 failed" in seen["grid"]
    for png in ("report.png", "report-open.png", "fleet.png"):
        assert (tmp_path / png).stat().st_size > 10_000


def test_fleet_page_links_and_states(tmp_path):
    good = realistic_result()
    tenants = [
        {"tenant": "core", "ok": True, "error": None, "result": good,
         "report_href": "../core/r1/report.html", "notebook_href": "../core/r1/tenant_sync.ipynb"},
        {"tenant": "esait", "ok": False, "error": "PapermillExecutionError: KeyError 'Repo'",
         "result": None, "report_href": None, "notebook_href": "../esait/r1/tenant_sync.ipynb"},
    ]  # fmt: skip
    page = tmp_path / "index.html"
    page.write_text(render_fleet_index("r1", tenants), encoding="utf-8")
    text = visible_text(chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile"))
    assert "PapermillExecutionError: KeyError 'Repo'" in text
    assert "rows failed" in text and "failed" in text


if __name__ == "__main__":  # regenerate the screenshots in the docs
    import tempfile

    from playwright.sync_api import sync_playwright

    out = Path(__file__).resolve().parents[1] / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        html = write_html(realistic_result(), Path(tmp) / "report.html")
        fleet = Path(tmp) / "index.html"
        fleet.write_text(render_fleet_index("r1", fleet_tenants()), encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            seen = shots(browser.new_page(), html, fleet, out)
            browser.close()
    sys.exit(print(f"wrote {out}/report.png, report-open.png, fleet.png; {seen['height']} px"))

"""Three-way drift on the simulator: classes, apply --on-drift, the fleet gate (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from directorsync.cli import cli
from directorsync.config import load_settings
from directorsync.errors import DirectorSyncError
from directorsync.fanout import on_dask
from directorsync.lastapplied import load_state
from directorsync.ledger.database import open_configured
from tests.conftest import session_for, use_simulator, writes

BACKEND1, BACKEND2 = "506caf32de83054497d07c3c632a98cb", "01925abf82fe0db0a75c190c4316b8a6"
POOL = "a9fa7661c4f84b278b136e94a86b4ea2"


def written(path: Path) -> int:
    """When a report was written (run ids sort by the second only: not by name)."""
    return path.stat().st_mtime_ns


def invoke(*args: str) -> int:
    """The command in this process; an expected error gives its exit code, as the CLI does."""
    try:
        result = CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=False)
    except DirectorSyncError as exc:
        return exc.exit_code
    return result.return_value


def drift_json(tenants_file: Path, xlsx: Path, tmp_path: Path, *extra: str) -> tuple[int, dict]:
    out = tmp_path / "drift-core.json"
    code = invoke(
        "drift", "--tenant", "core", "--tenants-file", str(tenants_file), "--xlsx", str(xlsx),
        "--resources", "repos", "--format", "json", "--out", str(out), *extra,
    )  # fmt: skip
    return code, json.loads(out.read_text())


def apply(tenants_file: Path, xlsx: Path, *extra: str, tenant: str = "core") -> int:
    return invoke(
        "apply", "--tenant", tenant, "--tenants-file", str(tenants_file), "--xlsx", str(xlsx),
        "--resources", "repos", "--auto-approve", *extra,
    )  # fmt: skip


def classes(report: dict) -> dict[tuple[str, str], str]:
    """(key, node) → class of each item."""
    return {(i["key"], i["node"]): i["class"] for i in report["items"]}


def set_retention(xlsx: Path, out: Path, changes: dict[str, str]) -> Path:
    """A copy of a workbook with other retention_days for some repos."""
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["Repo"]
    for row in ws.iter_rows(min_row=2):
        if row[2].value in changes:
            row[4].value = changes[row[2].value]
    wb.save(out)
    return out


def repo_ids(s, node: str) -> dict[str, str]:
    return {r["name"]: r["id"] for r in s.client.list_objects(POOL, node, "Repos")}


def hand_retention(s, node: str, name: str, days: int) -> None:
    """A change made by hand on Director (through its API, not DirectorSync)."""
    path = f"Repos/{repo_ids(s, node)[name]}"
    s.client.write("PUT", POOL, node, path, {"hiddenrepopath": [{"path": "/data_hot/", "retention": days}]})  # fmt: skip


def test_each_class_on_drift_modes_and_the_recorded_state(
    simulator, samples, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator, tmp_path)
    sample = samples / "core_config.xlsx"
    # no earlier apply: a two-way diff, and it says so
    code, report = drift_json(tenants_file, sample, tmp_path)
    assert code == 0 and report["mode"] == "two_way" and "two-way" in report["message"]
    assert report["counts"]["workbook_changed"] == 12 and report["total"] == 12
    assert apply(tenants_file, sample) == 0
    settings = load_settings(None, env={"DSYNC_APP__REPORTS_DIR": str(tmp_path / "reports")})
    ledger = open_configured(settings)
    state = load_state(ledger, "core")
    assert len(state) == 12  # 6 repos × 2 backends, each with its id and compared fields
    recorded = state[(BACKEND1, "repos", "Repo_secu")]
    assert recorded["fields"] == {"hiddenrepopath": [{"path": "/data_hot/", "retention": 90}]}
    code, report = drift_json(tenants_file, sample, tmp_path, "--fail-on-diff")
    assert (code, report["mode"], report["total"]) == (0, "three_way", 0)

    # a hand change, a workbook change, a conflict, an unmanaged and a removed object
    with session_for(simulator, tenants_file, tmp_path) as s:
        hand_retention(s, BACKEND1, "Repo_secu", 30)
        hand_retention(s, BACKEND1, "Repo_cloud", 200)
        s.client.write("POST", POOL, BACKEND1, "Repos", {"name": "Repo_handmade", "hiddenrepopath": [{"path": "/data_hot/", "retention": 5}]})  # fmt: skip
        s.client.write("DELETE", POOL, BACKEND2, f"Repos/{repo_ids(s, BACKEND2)['Repo_system_expert']}")  # fmt: skip
    edited = set_retention(
        sample, tmp_path / "core_config.xlsx", {"Repo_system_verbose": "14", "Repo_cloud": "365"}
    )
    code, report = drift_json(tenants_file, edited, tmp_path, "--fail-on-diff")
    assert code == 2
    assert classes(report) == {
        ("Repo_secu", "lb-backend01"): "director_changed",
        ("Repo_system_verbose", "lb-backend01"): "workbook_changed",
        ("Repo_system_verbose", "lb-backend02"): "workbook_changed",
        ("Repo_cloud", "lb-backend01"): "conflict",
        ("Repo_cloud", "lb-backend02"): "workbook_changed",
        ("Repo_handmade", "lb-backend01"): "unmanaged",
        ("Repo_system_expert", "lb-backend02"): "removed",
    }
    assert report["counts"] == {
        "workbook_changed": 3, "director_changed": 1, "conflict": 1, "unmanaged": 1, "removed": 1
    }  # fmt: skip
    secu = next(i for i in report["items"] if i["key"] == "Repo_secu")
    assert secu["field"] == "hiddenrepopath" and secu["director"][0]["retention"] == 30
    assert secu["workbook"][0]["retention"] == secu["last_applied"][0]["retention"] == 90

    # the plan JSON carries the class of each changed row and field
    plan_file = tmp_path / "plan.json"
    invoke("plan", "--tenant", "core", "--tenants-file", str(tenants_file), "--xlsx", str(edited),
           "--resources", "repos", "--out", str(plan_file))  # fmt: skip
    rows = {(r["key"], r["node_name"]): r for r in json.loads(plan_file.read_text())["rows"]}
    assert rows[("Repo_cloud", "lb-backend01")]["drift"] == "conflict"
    assert rows[("Repo_secu", "lb-backend01")]["changes"][0]["drift"] == "director_changed"
    assert rows[("Repo_system_expert", "lb-backend02")]["drift"] == "removed"
    assert rows[("Repo_secu", "lb-backend02")]["drift"] is None  # unchanged

    # fail: refuses while rows changed on Director exist, writes nothing
    before = len(writes(simulator))
    assert apply(tenants_file, edited, "--on-drift", "fail") == 1
    assert len(writes(simulator)) == before
    # keep: the hand change and the conflict stay as Director has them, the rest is applied
    assert apply(tenants_file, edited, "--on-drift", "keep") == 0
    result = json.loads(
        max((tmp_path / "reports" / "core").glob("*/result.json"), key=written).read_text()
    )
    status = {(r["key"], r["node_name"]): (r["status"], r["reason"]) for r in result["rows"]}
    assert status[("Repo_secu", "lb-backend01")][0] == "SKIP"
    assert "--on-drift keep" in status[("Repo_secu", "lb-backend01")][1]
    assert status[("Repo_cloud", "lb-backend01")][0] == "SKIP"
    assert status[("Repo_cloud", "lb-backend02")][0] == "UPDATED"
    assert status[("Repo_system_expert", "lb-backend02")][0] == "CREATED"
    report_html = max((tmp_path / "reports" / "core").glob("*/report.html"), key=written)
    report_html = report_html.read_text()
    assert 'class="drift d-workbook-changed"' in report_html  # the class of each applied change
    code, report = drift_json(tenants_file, edited, tmp_path)
    assert classes(report) == {
        ("Repo_secu", "lb-backend01"): "director_changed",
        ("Repo_cloud", "lb-backend01"): "conflict",
        ("Repo_handmade", "lb-backend01"): "unmanaged",
    }
    # revert (the default): Director gets the workbook's values back
    assert apply(tenants_file, edited) == 0
    code, report = drift_json(tenants_file, edited, tmp_path, "--fail-on-diff")
    assert code == 2 and classes(report) == {("Repo_handmade", "lb-backend01"): "unmanaged"}
    page = (tmp_path / "reports" / "drift").glob("*/core.html")
    assert "unmanaged" in next(page).read_text()


def test_fleet_gate_summary_exit_codes_and_page(
    simulator, samples, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator, tmp_path)
    for tenant in ("core", "esait", "sccoe"):
        assert apply(tenants_file, samples / f"{tenant}_config.xlsx", tenant=tenant) == 0
    with session_for(simulator, tenants_file, tmp_path) as s:
        for node in (BACKEND1, BACKEND2):  # the same hand change on both backends of core
            hand_retention(s, node, "Repo_secu", 45)
            path = f"Repos/{repo_ids(s, node)['Repo_system']}"
            two = [
                {"path": "/data_hot/", "retention": 60},
                {"path": "/cold_nfs/", "retention": 400},
            ]
            s.client.write("PUT", POOL, node, path, {"hiddenrepopath": two})
    out = tmp_path / "drift.json"
    html = tmp_path / "fleet"
    base = ["drift", "--tenants-file", str(tenants_file), "--xlsx-dir", str(samples),
            "--resources", "repos", "--fail-on-diff", "--html", str(html)]  # fmt: skip
    assert invoke(*base, "--tenants", "all", "--out", str(out), "--parallel", "2") == 2
    summary = json.loads(out.read_text())
    assert {k: summary[k] for k in ("total_targets", "successful", "failed", "drifted")} == {
        "total_targets": 3, "successful": 3, "failed": 0, "drifted": 1
    }  # fmt: skip
    assert summary["verification_passed"] is False and summary["total_duration"] > 0
    assert summary["timestamp"].endswith("+00:00")
    by_tenant = {r["target"]: r for r in summary["results"]}
    core = by_tenant["core"]
    assert core["counts"]["director_changed"] == 4 and core["verification_passed"] is False
    assert core["success"] is True and core["direction"] == "pull" and core["duration"] > 0
    assert by_tenant["esait"]["verification_passed"] and by_tenant["sccoe"]["verification_passed"]
    assert sum(by_tenant["esait"]["counts"].values()) == 0
    page = (html / "index.html").read_text()
    assert 'class="cell director_changed"' in page and 'href="core.html"' in page
    assert "Repo_secu" in (html / "core.html").read_text()
    # the same gate with its tenants on a Dask LocalCluster (drift.executor: dask)
    import directorsync.driftgate as gate

    fanned: list[int] = []

    def spied(run, jobs, **kw):  # the real fan-out, counted
        fanned.append(len(jobs))
        return on_dask(run, jobs, **kw)

    monkeypatch.setattr(gate, "on_dask", spied)
    monkeypatch.setenv("DSYNC_DRIFT__EXECUTOR", "dask")
    assert invoke(*base, "--tenants", "all", "--out", str(out), "--parallel", "2") == 2
    assert fanned == [3]
    dask_counts = {r["target"]: r["counts"] for r in json.loads(out.read_text())["results"]}
    assert dask_counts == {t: r["counts"] for t, r in by_tenant.items()}
    monkeypatch.delenv("DSYNC_DRIFT__EXECUTOR")
    # no drift: 0; a tenant that cannot be checked: 1
    assert invoke(*base, "--tenants", "esait", "--out", str(out)) == 0
    assert json.loads(out.read_text())["verification_passed"] is True
    assert invoke(*base[:4], str(tmp_path), *base[5:], "--tenants", "esait", "--out", str(out)) == 1
    failed = json.loads(out.read_text())
    assert failed["failed"] == 1 and "no such workbook" in failed["results"][0]["message"]
    assert invoke("drift", "--tenants", "nope", "--tenants-file", str(tenants_file)) == 1

    # adopt: Director's values into a copy of the workbook, which then plans no change
    adopted = tmp_path / "adopted" / "core_config.xlsx"
    args = ["--tenant", "core", "--tenants-file", str(tenants_file), "--resources", "repos"]
    assert invoke("drift", *args, "--xlsx", str(samples / "core_config.xlsx"), "--adopt", str(adopted)) == 0  # fmt: skip
    sheet = openpyxl.load_workbook(adopted)["Repo"]
    cells = {r[2].value: (r[3].value, r[4].value) for r in sheet.iter_rows(min_row=2) if r[2].value}
    assert cells["Repo_secu"] == ("/data_hot/", 45)
    assert cells["Repo_system"] == ("/cold_nfs/ | /data_hot/", "400 | 60")
    assert invoke("plan", *args, "--xlsx", str(adopted), "--detailed-exitcode") == 0

"""``directorsync run``: parameter checks, inputs, and real papermill runs (local and Dask)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from directorsync.config import load_settings
from directorsync.errors import ConfigError
from directorsync.notebook.batch import (
    NOTEBOOK,
    TenantOutcome,
    check_parameters,
    describe,
    ensure_kernel,
    fleet_entries,
    parse_parameter,
    run_command,
    workbook_for,
)

TOKEN = "run-token-5b2d4c6e8f0a1b2c3d4e5f60"
PARAMS = {
    "tenant": "core",
    "workbook": "x.xlsx",
    "tenants_file": "",
    "resources": [],
    "dry_run": True,
    "config_path": "",
    "simulator": False,
    "output_dir": "",
    "run_id": "",
    "trigger": "notebook",
}


def invoke(*args: str) -> int:
    """Run the command as the CLI does (exceptions propagate; the exit code is returned)."""
    return run_command.main(list(args), prog_name="directorsync run", standalone_mode=False)


def test_a_run_in_a_worker_thread_closes_the_event_loop_nbclient_opened():
    """Each nbclient thread opens an event loop; left open, its sockets leak (ResourceWarning)."""
    import threading

    from jupyter_core.utils import ensure_event_loop

    from directorsync.notebook.batch import _close_thread_loop

    loops = []

    def job() -> None:
        loops.append(ensure_event_loop())  # what papermill → nbclient does in a fresh thread
        _close_thread_loop()

    worker = threading.Thread(target=job)
    worker.start()
    worker.join()
    assert len(loops) == 1 and loops[0].is_closed()


# --- checks before anything runs ---------------------------------------------------------------


def test_known_parameters_pass():
    assert set(check_parameters(NOTEBOOK, PARAMS)) == set(PARAMS)


def test_unknown_parameter_is_an_error_naming_it():
    with pytest.raises(
        ConfigError, match=r"unknown notebook parameter 'tenantz'.*it takes: tenant"
    ):
        check_parameters(NOTEBOOK, {**PARAMS, "tenantz": "core"})


def test_secret_parameter_is_refused():
    with pytest.raises(ConfigError, match="secrets are never notebook parameters"):
        check_parameters(NOTEBOOK, {"tenant": "core", "api_token": "x"})


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(nb, tmp_path / "n.ipynb")
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        check_parameters(tmp_path / "n.ipynb", {"x": 2})
    with pytest.raises(ConfigError, match="does not exist"):
        check_parameters(tmp_path / "missing.ipynb", {})


def test_cli_parameter_is_checked_before_any_kernel_starts(tenants_file, tmp_path, monkeypatch):
    monkeypatch.setenv("DSYNC_APP__REPORTS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="unknown notebook parameter 'colour'"):
        invoke("--tenants", "core", "--tenants-file", str(tenants_file), "--xlsx-dir",
               str(tmp_path), "--simulator", "-p", "colour=blue")  # fmt: skip
    assert not list(tmp_path.iterdir())  # nothing ran


def test_extra_parameter_may_not_override_what_the_run_sets(tenants_file, tmp_path):
    import click

    with pytest.raises(click.UsageError, match="-p dry_run: set by the run itself"):
        invoke("--tenants", "core", "--tenants-file", str(tenants_file), "--xlsx-dir",
               str(tmp_path), "--simulator", "-p", "dry_run=false")  # fmt: skip


def test_missing_kernel_says_how_to_install_it():
    with pytest.raises(ConfigError, match="ipykernel install"):
        ensure_kernel("no-such-kernel-7f3a")


def test_parse_parameter():
    assert parse_parameter("n=3") == ("n", 3)
    assert parse_parameter("tags=[a, b]") == ("tags", ["a", "b"])
    assert parse_parameter("name=") == ("name", "")


def test_workbook_for_precedence(tmp_path):
    settings = load_settings(
        overrides={"inputs.workbooks": {"core": "/w/core.xlsx"}, "inputs.xlsx_dir": "/d"}
    )
    assert workbook_for(settings, "core", tmp_path) == tmp_path / "core_config.xlsx"
    assert workbook_for(settings, "core") == Path("/w/core.xlsx")
    assert workbook_for(settings, "esait") == Path("/d/esait_config.xlsx")
    with pytest.raises(ConfigError, match="--xlsx-dir"):
        workbook_for(load_settings(), "core")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--tenants a,b,c or --all"),
        (["--tenants", "core", "--all"], "--tenants a,b,c or --all"),
        (["--tenants", "core,nope"], "unknown tenant nope"),
        (["--tenants", "core", "--scheduler", "tcp://x:1"], "--scheduler needs --executor dask"),
    ],
)
def test_usage_errors(tenants_file, tmp_path, args, message):
    import click

    with pytest.raises((click.UsageError, ConfigError), match=re.escape(message)):
        invoke(
            *args, "--tenants-file", str(tenants_file), "--xlsx-dir", str(tmp_path), "--simulator"
        )


def test_director_settings_required_without_simulator(tenants_file, tmp_path):
    with pytest.raises(ConfigError, match="--simulator"):
        invoke(
            "--tenants", "core", "--tenants-file", str(tenants_file), "--xlsx-dir", str(tmp_path)
        )


def test_fleet_links_are_relative_and_lines_say_what_happened(tmp_path):
    ok = TenantOutcome(
        "core",
        True,
        str(tmp_path / "core" / "r1"),
        result={"summary": {"by_status": {"CREATED": 3, "ERROR": 1}}, "notes": []},
        seconds=1.5,
    )
    bad = TenantOutcome("esait", False, str(tmp_path / "esait" / "r1"), "WorkbookError: gone")
    entries = fleet_entries([ok, bad], tmp_path / "r1")
    assert entries[0]["report_href"] == "../core/r1/report.html"
    assert entries[1]["notebook_href"] == "../esait/r1/tenant_sync.ipynb"
    assert describe(ok).startswith("core: rows failed in 1.5 s · 3 CREATED, 1 ERROR")
    assert "esait: FAILED" in describe(bad) and "WorkbookError: gone" in describe(bad)
    assert ok.failed and bad.failed


# --- real runs (a kernel per tenant) -----------------------------------------------------------


def assert_no_token(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


def test_run_three_tenants_one_failing(samples, tmp_path, monkeypatch, capsys):
    """Tenants core and esait succeed; sccoe's workbook is missing: its failed notebook is kept."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSYNC_DIRECTOR__TOKEN", TOKEN)  # the embedded simulators use it
    config = tmp_path / "directorsync.yml"
    workbooks = {
        "core": str(samples / "core_config_light.xlsx"),
        "esait": str(samples / "esait_config.xlsx"),
        "sccoe": str(tmp_path / "missing" / "sccoe_config.xlsx"),
    }
    config.write_text(
        yaml.safe_dump(
            {"app": {"reports_dir": str(tmp_path / "reports")}, "inputs": {"workbooks": workbooks}}
        )
    )
    code = invoke(
        "--tenants", "core,esait,sccoe", "--tenants-file", str(samples / "tenants.yml"),
        "--config", str(config), "--resources", "repos,routing_policies", "--simulator",
        "--parallel", "3", "--cell-timeout", "120",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    run_id = re.search(r"^run (\S+):", out, re.M).group(1)
    reports = tmp_path / "reports"
    for tenant in ("core", "esait"):
        folder = reports / tenant / run_id
        assert {p.name for p in folder.iterdir()} >= {
            "tenant_sync.ipynb",
            "report.html",
            "result.json",
            "actions.log",  # like every run (README), the notebook path logs its actions
        }
        assert "applying" in (folder / "actions.log").read_text()
        result = json.loads((folder / "result.json").read_text())
        assert result["tenant"] == tenant and result["run_id"] == run_id
        assert not result["dry_run"]
        assert set(result["summary"]["by_status"]) <= {"CREATED", "SKIP"}
        assert re.search(rf"^{tenant}: ok in .* CREATED", out, re.M)
    failed = reports / "sccoe" / run_id / "tenant_sync.ipynb"
    assert failed.is_file() and not (failed.parent / "result.json").exists()
    assert "sccoe_config.xlsx" in failed.read_text()  # the error is in the kept notebook
    assert re.search(r"^sccoe: FAILED .*WorkbookError", out, re.M)
    page = (reports / run_id / "index.html").read_text()
    for text in ("core", "esait", "sccoe", "../core/" + run_id + "/report.html", "failed"):
        assert text in page
    assert "2 ok, 1 failed: sccoe" in out
    assert_no_token(tmp_path)


def test_dask_executor_dry_run(samples, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSYNC_APP__REPORTS_DIR", str(tmp_path / "reports"))
    code = invoke(
        "--tenants", "esait", "--tenants-file", str(samples / "tenants.yml"),
        "--xlsx-dir", str(samples), "--resources", "repos", "--simulator", "--dry-run",
        "--executor", "dask", "--parallel", "2", "--cell-timeout", "120",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    run_id = re.search(r"^run (\S+):", out, re.M).group(1)
    result = json.loads((tmp_path / "reports" / "esait" / run_id / "result.json").read_text())
    assert result["dry_run"] is True
    assert set(result["summary"]["by_status"]) == {"PLANNED_CREATE"}
    assert (tmp_path / "reports" / run_id / "index.html").is_file()
    assert "1 ok, 0 failed" in out

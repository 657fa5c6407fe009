"""A workbook named for another tenant is warned about and refused by apply.

Hidden sheets are said; ``apply --plan`` with another ``--tenant`` is an error. Issue 18, items
14 and 15.
"""

from __future__ import annotations

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import TOKEN, core_args
from test_apply import session_for, use_simulator, writes

from directorsync.cli import cli
from directorsync.errors import ConfigError
from directorsync.simulator import Simulator


@pytest.fixture
def sim(tenants_file):
    with Simulator(seed=tenants_file, token=TOKEN) as simulator:
        yield simulator


REPO_HEADER = ["cleaned_repo_name", "storage_paths", "retention_days"]


def repo_workbook(path, *, hidden: bool = False):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Repo"
    sheet.append(REPO_HEADER)
    sheet.append(["Repo_guard", "/data_hot", 30])
    if hidden:
        book.create_sheet("Notes").append(["visible sheet"])
        sheet.sheet_state = "hidden"
    book.save(path)
    return path


def invoke(*args):
    return CliRunner().invoke(cli, list(args), standalone_mode=False)


def test_plan_warns_when_the_file_names_another_tenant(sim, tenants_file, tmp_path):
    xlsx = repo_workbook(tmp_path / "esait_config.xlsx")
    with session_for(sim, tenants_file, tmp_path) as s:
        notes = s.plan("core", xlsx, ["repos"]).notes
    warned = [n for n in notes if n["level"] == "warning" and "'esait'" in n["message"]]
    assert warned and warned[0]["message"] == (
        "esait_config.xlsx names tenant 'esait', but the plan is for tenant 'core': check "
        "--tenant and --xlsx (apply refuses it without --force)"
    )


def test_plan_does_not_warn_for_its_own_tenant_or_an_unrelated_name(sim, tenants_file, tmp_path):
    for name in ("core_config.xlsx", "config.xlsx", "esaitx.xlsx", "core-esait.xlsx"):
        xlsx = repo_workbook(tmp_path / name)
        with session_for(sim, tenants_file, tmp_path) as s:
            notes = s.plan("core", xlsx, ["repos"]).notes
        assert not [n for n in notes if "names tenant" in n["message"]], name


def test_apply_refuses_a_workbook_named_for_another_tenant_without_force(
    sim, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, sim, tmp_path)
    xlsx = repo_workbook(tmp_path / "esait_config.xlsx")
    res = invoke("apply", *core_args(tenants_file, xlsx, "repos"), "--auto-approve")
    assert isinstance(res.exception, ConfigError), res.output
    assert "names tenant 'esait'" in res.exception.message and "--force" in res.exception.message
    assert writes(sim) == []
    res = invoke("apply", *core_args(tenants_file, xlsx, "repos"), "--force", "--auto-approve")
    assert res.exception is None and res.return_value == 0, res.output
    assert len(writes(sim)) == 2  # one repo, on each of core's two backends


def test_apply_plan_with_another_tenant_is_an_error(
    sim, samples, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, sim, tmp_path)
    out = tmp_path / "plan.json"
    xlsx = repo_workbook(tmp_path / "core_config.xlsx")
    res = invoke("plan", *core_args(tenants_file, xlsx, "repos"), "--out", str(out))
    assert res.return_value == 0, res.output
    res = invoke("apply", "--plan", str(out), "--tenant", "esait")
    assert isinstance(res.exception, ConfigError), res.output
    assert res.exception.message == (
        "--tenant esait does not match the plan's tenant 'core' (plan.json): drop --tenant or "
        "plan again for tenant 'esait'"
    )
    assert writes(sim) == []


def test_hidden_sheets_are_said(sim, tenants_file, tmp_path):
    xlsx = repo_workbook(tmp_path / "hidden.xlsx", hidden=True)
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", xlsx, ["repos"])
    infos = [n for n in plan.notes if n["level"] == "info"]
    assert {
        "resource": "repos",
        "level": "info",
        "message": (
            "hidden.xlsx: sheet 'Repo' is hidden in the workbook; it is read like any other sheet"
        ),
    } in infos
    assert len(plan.changed()) == 2  # read like any other sheet: one repo on two backends

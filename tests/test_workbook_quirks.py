"""Workbooks as users save them.

Issue 18, items 10 (formula cells in columns no profile reads) and 13 (list items with stray
spaces, brackets or quotes).
"""

from __future__ import annotations

import openpyxl
import pytest
from conftest import TOKEN
from test_apply import session_for

from directorsync.simulator import Simulator


@pytest.fixture
def sim(tenants_file):
    with Simulator(seed=tenants_file, token=TOKEN) as simulator:
        yield simulator


def scripted_workbook(path, retention="30"):
    """Saved by openpyxl: formulas keep no stored value."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Repo"
    sheet.append(["cleaned_repo_name", "storage_paths", "retention_days", "active"])
    sheet.append(["Repo_a", "/data_hot", retention, "=TRUE()"])
    sheet.append(["Repo_b", "/data_hot", "7", "=TRUE()"])
    lists = book.create_sheet("UserDefinedList")
    lists.append(["name", "list_type", "lists", "active"])
    lists.append(["CMDS", "static_list", '["net user ", "[whoami", "\'ipconfig\'", "ok"]', "=1=1"])
    lists.append(["CLEAN", "static_list", '["a", "b"]', "=1=1"])
    book.save(path)
    return path


def test_formulas_in_unread_columns_do_not_refuse_the_sheet(sim, tenants_file, tmp_path):
    xlsx = scripted_workbook(tmp_path / "scripted.xlsx")
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", xlsx, ["repos", "user_defined_lists"])
    assert [n for n in plan.notes if n["level"] == "error"] == []
    assert sorted(set(plan.changed()["key"])) == ["CLEAN", "CMDS", "Repo_a", "Repo_b"]


def test_formulas_in_read_columns_are_refused_naming_the_cells(sim, tenants_file, tmp_path):
    xlsx = scripted_workbook(tmp_path / "scripted.xlsx", retention="=10*3")
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", xlsx, ["repos"])
    errors = [n["message"] for n in plan.notes if n["level"] == "error"]
    assert len(errors) == 1
    assert "scripted.xlsx › Repo: 1 formula cell(s) have no stored value" in errors[0]
    assert "C2 (column 'retention_days', row 2)" in errors[0]
    assert "active" not in errors[0]


def test_odd_list_items_are_sent_as_written_and_warned_on_their_cell(sim, tenants_file, tmp_path):
    xlsx = scripted_workbook(tmp_path / "lists.xlsx")
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", xlsx, ["user_defined_lists"])
    rows = plan.changed().set_index("key")
    assert sorted(rows.loc["CMDS", "payload"]["lists"]) == sorted(
        ["net user ", "[whoami", "'ipconfig'", "ok"]
    )
    found = plan.findings.to_dict("records")
    warned = [f for f in found if f["severity"] == "warn"]
    assert len(warned) == 1
    assert (warned[0]["sheet"], warned[0]["row"], warned[0]["column"]) == (
        "UserDefinedList",
        2,
        "lists",
    )
    assert warned[0]["message"] == (
        "lists: 3 item(s) with spaces around them, brackets or quotes, sent as written: "
        "\"'ipconfig'\", '[whoami', 'net user '; check the cell"
    )

"""A title row above the header: the missing-column message says where the header is."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from directorsync.errors import WorkbookError
from directorsync.inventory import Inventory
from directorsync.mapping import resolve_columns
from directorsync.planner import build_plan
from directorsync.profile.model import load_profiles
from directorsync.tenants import load_tenants
from directorsync.workbook import Workbook


def plan_repos(path, fake_director, tenants_file):
    tenant = load_tenants(tenants_file)["core"]
    everything = load_profiles()
    inventory = Inventory(fake_director(), tenant, everything)
    return build_plan(tenant, Workbook(path), {"repos": everything["repos"]}, inventory)


def _with_title_row(samples, tmp_path, blank_rows: int = 0):
    frame = pd.read_excel(samples / "core_config.xlsx", sheet_name="Repo", engine="calamine")
    path = tmp_path / "titled.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Repo"
    sheet.append(["Repositories of tenant core"])
    for _ in range(blank_rows):
        sheet.append([])
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(list(row))
    book.save(path)
    return path


@pytest.mark.parametrize(("blank_rows", "header_row"), [(0, 2), (2, 4)])
def test_title_row_above_the_header_says_where_the_header_is(
    samples, tmp_path, fake_director, tenants_file, blank_rows, header_row
):
    plan = plan_repos(_with_title_row(samples, tmp_path, blank_rows), fake_director, tenants_file)
    [note] = plan.notes
    assert note["level"] == "error"
    assert (
        f"The header seems to be on row {header_row}, not row 1: remove the rows above it."
        in note["message"]
    )


def test_no_header_hint_when_the_columns_are_really_missing():
    frame = pd.DataFrame({"name": ["a", "b"], "_row": [2, 3]})
    with pytest.raises(WorkbookError) as info:
        resolve_columns(frame, load_profiles()["repos"], "c.xlsx")
    message = str(info.value)
    assert "header seems" not in message
    assert "required columns 'retention_days', 'storage_paths' are missing" in message

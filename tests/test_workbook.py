"""Reading workbooks: formulas without stored values, calamine, title rows above the header.

One calamine workbook per workbook; the missing-column message says where the header is.
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from directorsync import workbook as workbook_module
from directorsync.errors import WorkbookError
from directorsync.inventory import Inventory
from directorsync.mapping import resolve_columns
from directorsync.planner import build_plan
from directorsync.profile.model import load_profiles
from directorsync.tenants import load_tenants
from directorsync.workbook import Workbook, formulas_without_values

SHEET_XML = (
    b'<worksheet xmlns="main"><sheetData><row r="1">'
    b'<c r="A1" t="str"><f>""</f><v></v></c>'  # cached empty text: a value
    b'<c r="B1"><f t="shared" si="0"/></c>'  # shared formula, no value
    b'<c r="C1" t="b"><f aca="false">TRUE()</f><v>1</v></c>'  # cached TRUE
    b'<c r="D1"><f>A1&amp;"x"</f><v /></c>'  # empty <v/> written by openpyxl
    b"<c><f>1+1</f></c>"  # no r attribute
    b"</row></sheetData>"
    b"<conditionalFormatting><cfRule><formula>1</formula></cfRule></conditionalFormatting>"
    b"</worksheet>"
)


def test_scan_finds_formula_cells_without_a_stored_value():
    assert formulas_without_values(SHEET_XML) == ["B1", "D1", "?"]


def test_scan_understands_a_namespace_prefix():
    data = (
        b'<x:worksheet xmlns:x="main"><x:sheetData><x:row r="2">'
        b'<x:c r="A2"><x:f>TRUE()</x:f></x:c><x:c r="B2"><x:f>TRUE()</x:f><x:v>1</x:v></x:c>'
        b"</x:row></x:sheetData></x:worksheet>"
    )
    assert formulas_without_values(data) == ["A2"]


@pytest.fixture
def resaved(samples, tmp_path):
    """core_config.xlsx saved by openpyxl: its =TRUE() cells lose their stored value."""
    path = tmp_path / "resaved.xlsx"
    book = openpyxl.load_workbook(samples / "core_config.xlsx")
    book.save(path)
    return path


def test_samples_read_cleanly(samples):
    for name in ("core_config.xlsx", "core_config_light.xlsx", "esait_config.xlsx"):
        wb = Workbook(samples / name)
        assert all(len(wb.sheet(s).columns) for s in wb.sheet_names)


def test_formulas_without_values_are_refused_with_cells_and_fix(resaved):
    with pytest.raises(WorkbookError) as info:
        Workbook(resaved).sheet("Repo")
    message = str(info.value)
    assert message.startswith("resaved.xlsx › Repo: 6 formula cell(s) have no stored value")
    assert "F2 (column 'active', row 2), F3 (column 'active', row 3)" in message
    assert "and 1 more" in message
    assert "open and save it in Excel or LibreOffice" in message
    assert "replace the formulas with values" in message
    assert info.value.context == {
        "file": "resaved.xlsx",
        "sheet": "Repo",
        "row": 2,
        "column": "active",
    }


def test_only_sheets_read_are_checked(tmp_path):
    path = tmp_path / "mixed.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Plain"
    book["Plain"].append(["name", "flag"])
    book["Plain"].append(["a", True])
    formulas = book.create_sheet("Formulas")
    formulas.append(["name", "flag"])
    formulas.append(["b", "=TRUE()"])
    book.save(path)
    wb = Workbook(path)
    assert wb.sheet("Plain")["flag"].tolist() == [True]
    with pytest.raises(WorkbookError, match=r"B2 \(column 'flag', row 2\)"):
        wb.sheet("Formulas")


def test_used_range_not_starting_at_a1_names_the_right_column(tmp_path):
    path = tmp_path / "offset.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["C3"], sheet["D3"] = "name", "flag"
    sheet["C4"], sheet["D4"] = "x", "=FALSE()"
    book.save(path)
    with pytest.raises(WorkbookError, match=r"D4 \(column 'flag', row 4\)"):
        Workbook(path).sheet("Sheet")


def plan_repos(path, fake_director, tenants_file):
    tenant = load_tenants(tenants_file)["core"]
    everything = load_profiles()
    inventory = Inventory(fake_director(), tenant, everything)
    return build_plan(tenant, Workbook(path), {"repos": everything["repos"]}, inventory)


def test_plan_reports_the_formula_problem_per_resource(resaved, fake_director, tenants_file):
    plan = plan_repos(resaved, fake_director, tenants_file)
    [note] = plan.notes
    assert note["level"] == "error" and plan.has_errors
    assert "formula cell(s) have no stored value" in note["message"]


def test_one_calamine_workbook_per_workbook(samples, monkeypatch):
    from python_calamine import CalamineWorkbook

    opened = []
    real = CalamineWorkbook.from_path

    def counting(path):
        opened.append(path)
        return real(path)

    monkeypatch.setattr(CalamineWorkbook, "from_path", staticmethod(counting))
    wb = Workbook(samples / "core_config.xlsx")
    for name in ("Repo", "RoutingPolicy", "ProcessingPolicy", "Device"):
        wb.sheet(name)
    assert len(opened) == 1


def test_csv_and_non_zip_files_are_not_scanned(tmp_path):
    csv = tmp_path / "Repo.csv"
    csv.write_text("name,flag\n=TRUE(),x\n", encoding="utf-8")
    assert Workbook(csv).sheet("Repo")["name"].tolist() == ["=TRUE()"]
    assert workbook_module._sheet_formulas_without_values(csv, "Repo") == []


def test_sheet_part_is_found_through_absolute_relationship_targets(tmp_path):
    import zipfile

    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    path = tmp_path / "abs.xlsx"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(
            "_rels/.rels",
            f'<Relationships><Relationship Id="r1" Type="{rel}/officeDocument" '
            'Target="/xl/workbook.xml"/></Relationships>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships><Relationship Id="rIdA" Target="/xl/worksheets/data.xml"/>'
            '<Relationship Id="rIdB" Target="worksheets/other.xml"/></Relationships>',
        )
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns:r="{rel}"><sheets><sheet name="A &amp; B" r:id="rIdA"/>'
            '<sheet name="Other" r:id="rIdB"/></sheets></workbook>',
        )
        book.writestr("xl/worksheets/data.xml", '<worksheet><c r="C9"><f>1</f></c></worksheet>')
        book.writestr(
            "xl/worksheets/other.xml", '<worksheet><c r="A1"><f>1</f><v>1</v></c></worksheet>'
        )
    assert workbook_module._sheet_formulas_without_values(path, "A & B") == ["C9"]
    assert workbook_module._sheet_formulas_without_values(path, "Other") == []
    assert workbook_module._sheet_formulas_without_values(path, "Missing") == []


# --- a title row above the header -------------------------------------------------------------


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

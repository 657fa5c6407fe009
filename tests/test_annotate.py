"""`plan --annotate`: a copy of the workbook with each finding on its cell."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest
from openpyxl import load_workbook
from openpyxl.styles import Font

from directorsync.errors import WorkbookError
from directorsync.report.annotate import LIST_COLUMNS, LIST_SHEET, annotate_workbook
from directorsync.report.customer import render_html
from directorsync.simulator import DEMO_TENANTS_YAML, Simulator
from directorsync.synth.writers import write_demo_workbook

TOKEN = "annotate-token"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo workbook with some formatting of its own, its tenants file, a Director."""
    folder = tmp_path_factory.mktemp("annotate")
    xlsx = write_demo_workbook(folder / "demo_config.xlsx")
    book = load_workbook(xlsx)
    book["Repo"]["B2"].font = Font(bold=True, color="00B050")
    book["Repo"].column_dimensions["B"].width = 41
    book.save(xlsx)
    tenants = folder / "tenants.yml"
    tenants.write_text(DEMO_TENANTS_YAML, encoding="utf-8")
    with Simulator(token=TOKEN) as sim:
        yield {"xlsx": xlsx, "tenants": tenants, "url": sim.base_url, "folder": folder}


def plan(demo, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSYNC_")}
    env |= {"DSYNC_DIRECTOR__BASE_URL": demo["url"], "DSYNC_DIRECTOR__TOKEN": TOKEN}
    args = ["plan", "--tenant", "demo", "--tenants-file", str(demo["tenants"])]
    args += ["--xlsx", str(demo["xlsx"]), *extra]
    return subprocess.run(
        [sys.executable, "-m", "directorsync", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=demo["folder"],
    )


def test_plan_annotate_marks_each_finding_on_its_cell(demo, tmp_path):
    before = hashlib.sha256(demo["xlsx"].read_bytes()).hexdigest()
    out = tmp_path / "annotated.xlsx"
    proc = plan(demo, "--annotate", str(out), "--out", str(tmp_path / "plan.json"))
    assert proc.returncode == 1, proc.stderr  # the demo's deliberately bad rows
    assert f"annotated workbook: {out} (5 findings, 5 cells marked)" in proc.stdout

    assert hashlib.sha256(demo["xlsx"].read_bytes()).hexdigest() == before
    book = load_workbook(out)
    assert book.sheetnames[0] == LIST_SHEET
    listing = [[c.value for c in row] for row in book[LIST_SHEET].iter_rows()]
    assert tuple(listing[0]) == LIST_COLUMNS
    by_cell = {row[3]: row for row in listing[1:]}
    # the bad retention of the demo's Repo row 6 (column E: retention_days)
    repo = by_cell["Repo!E6"]
    assert repo[0] == "skip" and repo[6] == "'ninety' is not an integer in [1, 36500]"
    link = book[LIST_SHEET].cell(row=listing.index(repo) + 1, column=4).hyperlink
    assert link.location == "'Repo'!E6" or link.target == "#'Repo'!E6"
    cell = book["Repo"]["E6"]
    assert cell.comment.text == "skip: 'ninety' is not an integer in [1, 36500]"
    assert cell.fill.fgColor.rgb.endswith("FFD8A8")
    # the empty alert name is an error: red
    assert book["Alert"]["A5"].fill.fgColor.rgb.endswith("FFC7CE")
    assert book["Alert"]["A5"].comment.text == "error: name is empty"
    # cells without findings untouched, the workbook's own formatting kept
    assert book["Repo"]["E5"].comment is None and book["Repo"]["E5"].fill.fill_type is None
    assert book["Repo"]["B2"].font.bold and book["Repo"]["B2"].font.color.rgb.endswith("00B050")
    assert book["Repo"].column_dimensions["B"].width == 41


def test_formulas_are_kept_and_finding_text_that_looks_like_one_stays_text(demo, tmp_path):
    source = tmp_path / "with_formula.xlsx"
    book = load_workbook(demo["xlsx"])
    book["Repo"]["Z2"] = "=1+1"
    book.save(source)
    out = tmp_path / "a.xlsx"
    finding = {
        "resource": "repos",
        "sheet": "Repo",
        "row": 3,
        "column": "retention_days",
        "check": "valid",
        "severity": "warn",
        "message": '=HYPERLINK("http://x")',
        "value": "=2+2",
    }
    unplaced = {**finding, "sheet": "NoSuchSheet"}
    done = annotate_workbook(source, [finding, unplaced], out)
    assert done == {"findings": 2, "cells": 1, "unplaced": 1}
    listing = load_workbook(out)[LIST_SHEET]
    rows = {row[2]: row for row in listing.iter_rows(min_row=2, values_only=True)}
    assert rows["Repo"][6] == '=HYPERLINK("http://x")' and rows["Repo"][7] == "=2+2"
    assert {listing["G2"].data_type, listing["G3"].data_type} == {"s"}
    assert rows["Repo"][3] == "Repo!E3"
    assert not rows["NoSuchSheet"][3]  # listed, no link: its sheet is not in the workbook
    assert load_workbook(out)["Repo"]["Z2"].value == "=1+1"


def test_annotate_refuses_csv_and_the_source_itself(demo, tmp_path):
    csv = tmp_path / "Repo.csv"
    csv.write_text("name\nx\n", encoding="utf-8")
    with pytest.raises(WorkbookError, match="needs an .xlsx workbook"):
        annotate_workbook(csv, [], tmp_path / "out.xlsx")
    with pytest.raises(WorkbookError, match="writes a copy"):
        annotate_workbook(demo["xlsx"], [], demo["xlsx"])


# --- the link from the report and from the review widget --------------------------------------


def test_apply_annotate_writes_it_beside_the_report_and_links_it(demo, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSYNC_")}
    env |= {
        "DSYNC_DIRECTOR__BASE_URL": demo["url"],
        "DSYNC_DIRECTOR__TOKEN": TOKEN,
        "DSYNC_APP__REPORTS_DIR": str(tmp_path / "reports"),
    }
    args = ["apply", "--dry-run", "--annotate", "--tenant", "demo"]
    args += ["--tenants-file", str(demo["tenants"]), "--xlsx", str(demo["xlsx"])]
    proc = subprocess.run(
        [sys.executable, "-m", "directorsync", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    (report,) = (tmp_path / "reports" / "demo").glob("*/report.html")
    assert (report.parent / "annotated.xlsx").is_file(), proc.stderr
    assert json.loads((report.parent / "result.json").read_text())["annotated_workbook"] == (
        "annotated.xlsx"
    )
    assert '<a href="annotated.xlsx">annotated workbook</a>' in report.read_text()
    assert "annotated.xlsx" in proc.stdout  # the files line names it
    assert load_workbook(report.parent / "annotated.xlsx")["Repo"]["E6"].comment is not None


def test_report_links_the_annotated_workbook_only_as_a_relative_or_file_link():
    finding = {"resource": "repos", "sheet": "Repo", "row": 6, "column": "retention_days"}
    finding |= {"check": "valid", "severity": "skip", "message": "bad", "value": "x"}
    result = {"schema": "directorsync/result@1", "tenant": "t", "rows": [], "findings": [finding]}
    page = render_html({**result, "annotated_workbook": "../run1/annotated.xlsx"})
    assert '<a href="../run1/annotated.xlsx">annotated workbook</a>' in page
    assert "annotated workbook" not in render_html(result)
    assert "javascript" not in render_html({**result, "annotated_workbook": "javascript:x()"})


def test_widget_writes_the_annotated_workbook_and_its_applies_link_it(demo, tmp_path):
    from directorsync.config import load_settings
    from directorsync.notebook.review import DiffReview
    from directorsync.session import Session

    settings = load_settings(
        env={},
        overrides={
            "director.base_url": demo["url"],
            "director.token": TOKEN,
            "app.reports_dir": str(tmp_path / "reports"),
        },
    )
    with Session.open(settings=settings, tenants_file=demo["tenants"]) as session:
        plan = session.plan("demo", demo["xlsx"], ["repos"])
        review = DiffReview(plan, session, reports_dir=tmp_path / "runs", workbook=demo["xlsx"])
        written = review.write_annotated()
        assert written == tmp_path / "runs" / plan.run_id / "annotated.xlsx"
        assert written.is_file() and "annotated workbook: <a href=" in review.message.value
        review.select([int(plan.rows.index[plan.rows["action"] == "create"][0])])
        review.apply_selected(confirmed=True)
    (folder,) = review.written
    expected = f'<a href="../{plan.run_id}/annotated.xlsx">annotated workbook</a>'
    assert expected in (folder / "report.html").read_text()

"""The annotated workbook: a copy of the workbook with each finding on its cell.

``directorsync plan --annotate OUT.xlsx`` (and :func:`annotate_workbook` from a notebook) copies
the tenant's workbook and, for every finding of the plan, highlights the cell by severity and
adds a comment with the message. A first sheet lists every finding with a link to its cell. The
engineer fixes the cells and plans again.

The copy is made by loading the workbook with formulas kept (``openpyxl``, not ``data_only``) and
saving it under the new name: formulas, formatting, widths and hidden sheets are kept, the
original file is never written. Findings whose sheet or column is not in the workbook (a missing
sheet, a row-level problem) appear in the list without a link.

``apply --annotate`` and the review widget write it into a run's folder
(:func:`annotate_into`); the HTML report links it from its Findings (``annotated_workbook`` in
``result.json``, a path relative to the report: :func:`link_from`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.worksheet import Worksheet

from directorsync.errors import WorkbookError

#: fill colour per severity (most severe first); a cell with several findings gets the worst
SEVERITY_FILLS = {
    "error": "FFC7CE",
    "skip": "FFD8A8",
    "warn": "FFEB9C",
    "info": "DDEBF7",
}
LIST_SHEET = "DirectorSync findings"
LIST_COLUMNS = ("severity", "resource", "sheet", "cell", "column", "check", "message", "value")
AUTHOR = "DirectorSync"
HEADER_SEARCH_ROWS = 20  # the header row is looked for in the first rows of a sheet
#: the annotated workbook's name inside a run's folder
ANNOTATED_NAME = "annotated.xlsx"


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold() if value is not None else ""


def _rank(severity: str) -> int:
    order = list(SEVERITY_FILLS)
    return order.index(severity) if severity in order else len(order)


def header_columns(sheet: Worksheet, below: int) -> dict[str, int]:
    """Column index (1-based) per normalised header name, from the first header-like row."""
    last = max(1, min(below - 1, HEADER_SEARCH_ROWS))
    for row in sheet.iter_rows(min_row=1, max_row=last):
        names = {_norm(c.value): c.column for c in row if c.value is not None}
        if names:
            return names
    return {}


def _sheet(workbook: Any, name: Any) -> Worksheet | None:
    if not name:
        return None
    if name in workbook.sheetnames:
        return workbook[name]
    wanted = _norm(name)
    matches = [n for n in workbook.sheetnames if _norm(n) == wanted]
    return workbook[matches[0]] if len(matches) == 1 else None


def _cell_of(workbook: Any, finding: Mapping[str, Any]) -> tuple[Worksheet, str] | None:
    sheet = _sheet(workbook, finding.get("sheet"))
    row = finding.get("row")
    if sheet is None or not isinstance(row, int) or row < 1:
        return None
    column = header_columns(sheet, row).get(_norm(finding.get("column")))
    if column is None:
        return None
    return sheet, f"{get_column_letter(column)}{row}"


def annotate_workbook(
    source: str | Path, findings: Iterable[Mapping[str, Any]], out: str | Path
) -> dict[str, int]:
    """Write a copy of ``source`` to ``out`` with each finding on its cell.

    Args:
        source: the workbook the plan read (``.xlsx`` or ``.xlsm``).
        findings: the plan's findings (``Plan.findings_records()`` or a saved plan's
            ``findings``): ``sheet``, ``row`` (the Excel row), ``column`` (the header as written),
            ``severity``, ``message``, ``check``, ``resource``, ``value``.
        out: the copy to write; must differ from ``source``.

    Returns:
        ``{"findings": n, "cells": cells annotated, "unplaced": findings listed without a cell}``.

    Raises:
        WorkbookError: the source is not an Excel workbook, cannot be read, or ``out`` is the
            source itself.
    """
    source, out = Path(source), Path(out)
    if source.suffix.lower() not in (".xlsx", ".xlsm"):
        raise WorkbookError(f"{source}: --annotate needs an .xlsx workbook (this one is not)")
    if out.resolve() == source.resolve():
        raise WorkbookError(f"{out}: --annotate writes a copy; give another file name")
    try:
        workbook = load_workbook(source, keep_vba=source.suffix.lower() == ".xlsm")
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise WorkbookError(f"{source}: cannot read the workbook to annotate: {exc}") from exc
    ordered = sorted(findings, key=lambda f: (_rank(str(f.get("severity"))), str(f.get("sheet"))))
    notes: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    listed: list[tuple[Mapping[str, Any], tuple[Worksheet, str] | None]] = []
    for finding in ordered:
        place = _cell_of(workbook, finding)
        listed.append((finding, place))
        if place is not None:
            notes.setdefault((place[0].title, place[1]), []).append(finding)
    for (title, ref), here in notes.items():
        _mark(workbook[title][ref], here)
    _list_sheet(workbook, listed)
    out.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(out)
    unplaced = sum(1 for _, place in listed if place is None)
    return {"findings": len(listed), "cells": len(notes), "unplaced": unplaced}


def annotate_into(
    workbook: str | Path, findings: Sequence[Mapping[str, Any]], folder: str | Path
) -> Path | None:
    """Write ``folder/annotated.xlsx`` for a plan's findings; None when there is none.

    Raises:
        WorkbookError: as :func:`annotate_workbook` (not an ``.xlsx``, unreadable).
    """
    if not findings:
        return None
    out = Path(folder) / ANNOTATED_NAME
    annotate_workbook(workbook, findings, out)
    return out


def link_from(annotated: str | Path, folder: str | Path) -> str:
    """The link to an annotated workbook from a page in ``folder``: relative, with ``/``."""
    return Path(os.path.relpath(Path(annotated).resolve(), Path(folder).resolve())).as_posix()


def _mark(cell: Any, findings: list[Mapping[str, Any]]) -> None:
    worst = str(findings[0].get("severity"))  # findings arrive most severe first
    colour = SEVERITY_FILLS.get(worst, SEVERITY_FILLS["info"])
    cell.fill = PatternFill(start_color=colour, end_color=colour, fill_type="solid")
    text = "\n".join(f"{f.get('severity')}: {f.get('message')}" for f in findings)
    if cell.comment is not None and cell.comment.text:
        text = f"{cell.comment.text}\n{text}"
    cell.comment = Comment(text, AUTHOR, width=320, height=40 + 20 * len(findings))


def _list_sheet(
    workbook: Any, listed: list[tuple[Mapping[str, Any], tuple[Worksheet, str] | None]]
) -> None:
    title = LIST_SHEET
    while title in workbook.sheetnames:
        title = f"{title} (2)"
    sheet = workbook.create_sheet(title, 0)
    sheet.append(list(LIST_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for finding, place in listed:
        ref = f"{place[0].title}!{place[1]}" if place else ""
        sheet.append(
            [
                str(finding.get("severity") or ""),
                str(finding.get("resource") or ""),
                str(finding.get("sheet") or ""),
                ref,
                str(finding.get("column") or ""),
                str(finding.get("check") or ""),
                str(finding.get("message") or ""),
                "" if finding.get("value") is None else str(finding.get("value")),
            ]
        )
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # a cell's text, never a formula
        if place is not None:
            link = sheet.cell(row=sheet.max_row, column=LIST_COLUMNS.index("cell") + 1)
            link.hyperlink = f"#{quote_sheetname(place[0].title)}!{place[1]}"
            link.font = Font(color="0563C1", underline="single")
    for letter, width in zip("ABCDEFGH", (9, 22, 18, 22, 20, 12, 70, 30), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    workbook.active = 0

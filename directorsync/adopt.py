"""The adopted workbook: a copy of a tenant's workbook holding Director's values.

``directorsync drift --adopt OUT.xlsx`` (and notebooks) take the fields someone changed on
Director and write them back into a copy of the workbook, so that planning the copy gives no
change. Two functions, both stable for callers:

``adopt_workbook(source: Path, changes: Iterable[tuple[str, int, str, Any]], out: Path)
-> dict[str, int]``
    ``changes`` are ``(sheet, excel_row, column, director_value)``: the sheet name, the Excel
    row number (the header is row 1, as plans and findings count), the column header as written
    and the value to put in the cell — already a cell value (see ``cell_text``); a list is
    joined with `` | ``. The copy keeps formatting and formulas (``openpyxl``, not
    ``data_only``; the stored results of formula cells are written back into the copy, so that
    the importers read it like the original), each changed cell is highlighted with a comment
    giving the workbook's former value, and a last sheet ``DirectorSync adopted`` lists every
    change with a link to its cell. The original file is never written. Returns
    ``{"changes": n, "cells": cells written}``. Raises ``WorkbookError`` (one line) for an
    unreadable source, ``out`` equal to ``source``, or a sheet/column/row not in the workbook.

``cell_text(profile, resource: str, column: str, value, context=None) -> str | int | bool | None``
    Director's value of the field behind a sheet column → the cell the workbook would hold,
    by the same reverse mapping ``directorsync export`` uses (:func:`directorsync.reverse.cell_text`,
    re-exported here). ``profile`` is the resource's :class:`~directorsync.profile.model.Profile`
    or every profile by name; ``context`` maps each resolve target to ``{Director's value:
    name}`` on the node (:func:`directorsync.reverse.lookup_tables`), so ids become names.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname

from directorsync.errors import WorkbookError
from directorsync.report.annotate import header_columns
from directorsync.reverse import cell_text, lookup_tables, reverse_value

__all__ = ["ADOPTED_SHEET", "adopt_workbook", "cell_text", "lookup_tables"]

ADOPTED_SHEET = "DirectorSync adopted"
ADOPTED_FILL = "C6E0B4"  # a green: Director's value taken
_COLUMNS = ("sheet", "cell", "column", "workbook value", "Director value")
_AUTHOR = "DirectorSync"


def _norm(value: Any) -> str:
    return " ".join(str(value).split()).casefold() if value is not None else ""


def _cell_value(value: Any) -> Any:
    """A cell value: lists joined (`` | ``), dicts as JSON, numbers and booleans kept."""
    return reverse_value([], value)


def adopt_workbook(
    source: str | Path, changes: Iterable[tuple[str, int, str, Any]], out: str | Path
) -> dict[str, int]:
    """Write a copy of ``source`` to ``out`` with Director's values in the changed cells.

    See the module's docstring for the arguments, the result and the errors.
    """
    source, out = Path(source), Path(out)
    if source.suffix.lower() not in (".xlsx", ".xlsm"):
        raise WorkbookError(f"{source}: adopting needs an .xlsx workbook (this one is not)")
    if out.resolve() == source.resolve():
        raise WorkbookError(f"{out}: the adopted workbook is a copy; give another file name")
    keep_vba = source.suffix.lower() == ".xlsm"
    try:
        book = load_workbook(source, keep_vba=keep_vba)
        stored = load_workbook(source, data_only=True, keep_vba=keep_vba)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise WorkbookError(f"{source}: cannot read the workbook to adopt into: {exc}") from exc
    cached = _formula_results(book, stored)
    listed: list[tuple[str, str, str, Any, Any]] = []
    for sheet_name, row, column, value in changes:
        sheet = _sheet(book, sheet_name, source)
        if not isinstance(row, int) or row < 2:
            raise WorkbookError(f"{source.name} › {sheet.title}: row {row!r} is not a data row")
        index = header_columns(sheet, row).get(_norm(column))
        if index is None:
            raise WorkbookError(
                f"{source.name} › {sheet.title}: no column '{column}' in the header row"
            )
        cell = sheet.cell(row=row, column=index)
        before = cached.get((sheet.title, cell.coordinate), cell.value)
        after = _cell_value(value)
        cell.value = after
        if isinstance(after, str) and after.startswith("="):
            cell.data_type = "s"  # Director's text, never a formula
        cached.pop((sheet.title, cell.coordinate), None)
        cell.fill = PatternFill(start_color=ADOPTED_FILL, end_color=ADOPTED_FILL, fill_type="solid")
        note = f"adopted from Director; the workbook held: {'' if before is None else before}"
        cell.comment = Comment(note, _AUTHOR, width=320, height=60)
        listed.append((sheet.title, cell.coordinate, str(column), before, after))
    _list_sheet(book, listed)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    _store_formula_results(out, book.sheetnames, cached)
    return {"changes": len(listed), "cells": len({(s, c) for s, c, *_ in listed})}


def _sheet(book: Any, name: str, source: Path) -> Any:
    if name in book.sheetnames:
        return book[name]
    matches = [n for n in book.sheetnames if _norm(n) == _norm(name)]
    if len(matches) != 1:
        raise WorkbookError(f"{source.name}: no sheet '{name}' to adopt into")
    return book[matches[0]]


def _formula_results(book: Any, stored: Any) -> dict[tuple[str, str], Any]:
    """``(sheet, cell) → stored result`` of every formula cell of ``book``."""
    out: dict[tuple[str, str], Any] = {}
    for sheet in book.worksheets:
        values = stored[sheet.title]
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    out[(sheet.title, cell.coordinate)] = values[cell.coordinate].value
    return out


def _list_sheet(book: Any, listed: list[tuple[str, str, str, Any, Any]]) -> None:
    title = ADOPTED_SHEET
    while title in book.sheetnames:
        title = f"{title} (2)"
    sheet = book.create_sheet(title)
    sheet.append(list(_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for name, ref, column, before, after in listed:
        sheet.append([name, ref, column, _text(before), _text(after)])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
        link = sheet.cell(row=sheet.max_row, column=2)
        link.hyperlink = f"#{quote_sheetname(name)}!{ref}"
        link.font = Font(color="0563C1", underline="single")
    for i, width in enumerate((18, 10, 24, 40, 40), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------- formula results kept

_EMPTY_RESULT = re.compile(rb'<c r="([A-Z]+[0-9]+)"([^>]*)><f>(.*?)</f><v\s*/></c>', re.S)


def _result_xml(value: Any) -> tuple[bytes, bytes] | None:
    """``(type attribute, <v> text)`` of a stored result (None: leave the cell as it is)."""
    if isinstance(value, bool):
        return b' t="b"', b"1" if value else b"0"
    if isinstance(value, (int, float)):
        return b"", repr(value).encode()
    if isinstance(value, str):
        return b' t="str"', escape(value).encode()
    return None


def _store_formula_results(
    path: Path, sheets: list[str], cached: dict[tuple[str, str], Any]
) -> None:
    """Put the original's stored formula results back into the saved copy.

    openpyxl saves formulas without results; the importers refuse formula cells without a
    stored value (they would read as empty), so the copy gets the results the source held.
    """
    wanted: dict[int, dict[bytes, Any]] = {}
    for (name, ref), value in cached.items():
        wanted.setdefault(sheets.index(name) + 1, {})[ref.encode()] = value
    if not wanted:
        return
    with zipfile.ZipFile(path) as book:
        parts = {info.filename: book.read(info.filename) for info in book.infolist()}
    for number, values in wanted.items():
        part = f"xl/worksheets/sheet{number}.xml"
        if part not in parts:
            continue

        def fill(match: re.Match[bytes], values: dict[bytes, Any] = values) -> bytes:
            found = _result_xml(values.get(match.group(1)))
            if found is None or b" t=" in match.group(2):
                return match.group(0)
            kind, text = found
            return (
                b'<c r="' + match.group(1) + b'"' + match.group(2) + kind + b"><f>"
                + match.group(3) + b"</f><v>" + text + b"</v></c>"
            )  # fmt: skip

        parts[part] = _EMPTY_RESULT.sub(fill, parts[part])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, data in parts.items():
            book.writestr(name, data)

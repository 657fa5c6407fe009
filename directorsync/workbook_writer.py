"""A fast, plain XLSX writer for frames (export's output).

openpyxl builds a Python object per cell; a 100,000-row export would spend seconds there. This
writer emits the worksheet XML directly, a column at a time: texts as inline strings (so a text
starting with ``=`` stays text, never a formula), numbers, booleans (``TRUE``/``FALSE`` in
Excel), empty cells left out. The header row is bold and frozen. Nothing else (no styles per
cell, no shared strings): the file opens in Excel and LibreOffice, and the importers read it.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
<Default Extension="xml" ContentType="application/xml"/>\
<Override PartName="/xl/workbook.xml" \
ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
<Override PartName="/xl/styles.xml" \
ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>\
{sheets}</Types>"""
_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\
<Relationship Id="rId1" \
Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" \
Target="xl/workbook.xml"/></Relationships>"""
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STYLES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="{_MAIN}"><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>\
<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>\
<fills count="2"><fill><patternFill patternType="none"/></fill>\
<fill><patternFill patternType="gray125"/></fill></fills>\
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>\
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
</styleSheet>"""


def _text(value: str) -> str:
    if _ILLEGAL.search(value):
        value = _ILLEGAL.sub("", value)
    return value.translate(_ESCAPES)


def _cell(ref: str, value: Any, style: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"{style}><v>{value}</v></c>'
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f'<c r="{ref}"{style}><v>{value!r}</v></c>'
    text = _text(str(value))
    if text == "":
        return ""
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _column_cells(letter: str, values: list[Any]) -> list[str]:
    """The cells of one column (row 2 onwards); texts are escaped once per distinct text."""
    out: list[str] = []
    append = out.append
    bodies: dict[str, str | None] = {}
    for row, value in enumerate(values, start=2):
        if type(value) is str:
            body = bodies.get(value, "")
            if body == "":
                body = bodies[value] = _text_body(value)
            append(f'<c r="{letter}{row}" t="inlineStr"><is>{body}</is></c>' if body else "")
        else:
            append(_cell(f"{letter}{row}", value))
    return out


def _text_body(value: str) -> str | None:
    """``<t>…</t>`` of a text cell (None: an empty cell)."""
    if value and value.isprintable() and value[0] != " " != value[-1]:
        return f"<t>{value.translate(_ESCAPES)}</t>"
    full = _cell("A1", value)
    return full[full.index("<is>") + 4 : full.index("</is>")] if full else None


def sheet_xml(frame: pd.DataFrame) -> str:
    """The worksheet XML of ``frame``: the header row, then one row per frame row."""
    letters = [get_column_letter(i + 1) for i in range(len(frame.columns))]
    header = "".join(
        _cell(f"{letter}1", str(name), ' s="1"') for letter, name in zip(letters, frame.columns)
    )
    columns = [
        _column_cells(letter, frame.iloc[:, i].to_numpy(dtype=object).tolist())
        for i, letter in enumerate(letters)
    ]
    rows = [f'<row r="1">{header}</row>']
    rows += [
        f'<row r="{n}">{"".join(cells)}</row>'
        for n, cells in enumerate(zip(*columns), start=2)
    ]  # fmt: skip
    widths = "".join(
        f'<col min="{i}" max="{i}" width="{min(60, max(10, len(str(name)) + 2))}" customWidth="1"/>'
        for i, name in enumerate(frame.columns, start=1)
    )
    cols = f"<cols>{widths}</cols>" if widths else ""
    pane = (
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
        'activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN}">'
        f"{pane}{cols}<sheetData>{''.join(rows)}</sheetData></worksheet>"
    )


def write_workbook(path: str | Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """Write ``sheets`` (name → frame, in order) as an XLSX file at ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(sheets)
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        + "".join(
            f'<sheet name="{_text(name).replace(chr(34), "&quot;")}" sheetId="{i}" r:id="rId{i}"/>'
            for i, name in enumerate(names, start=1)
        )
        + "</sheets></workbook>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(names) + 1)
        )
        + f'<Relationship Id="rId{len(names) + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
        + "</Relationships>"
    )
    types = _CONTENT_TYPES.format(
        sheets="".join(_SHEET_TYPE.format(n=i) for i in range(1, len(names) + 1))
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        book.writestr("[Content_Types].xml", types)
        book.writestr("_rels/.rels", _ROOT_RELS)
        book.writestr("xl/workbook.xml", workbook)
        book.writestr("xl/_rels/workbook.xml.rels", rels)
        book.writestr("xl/styles.xml", _STYLES)
        for i, name in enumerate(names, start=1):
            book.writestr(f"xl/worksheets/sheet{i}.xml", sheet_xml(sheets[name]))
    return path

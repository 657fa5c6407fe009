"""Reading workbooks into DataFrames, keeping the Excel row number of every row.

XLSX (and XLSM/XLS/ODS) are read with python-calamine, the fast path; openpyxl is the fallback
when calamine cannot read a file. CSV is read too: a single ``.csv`` file is one sheet named after
the file, a folder of CSV files is a workbook whose sheets are the file stems.

Every frame gets a ``_row`` column: the row number a person sees in Excel (the header is row 1).
Sheets are read lazily, once, from one open calamine workbook.

A formula cell whose result is not stored in the file (a workbook saved by a script such as
openpyxl keeps the formula but drops its value) would read as empty: the XLSX sheet part is
scanned for such cells and the sheet is refused with a :class:`WorkbookError` naming them.
"""

from __future__ import annotations

import difflib
import functools
import posixpath
import re
import threading
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from directorsync.errors import WorkbookError
from directorsync.vocabulary import ROW

if TYPE_CHECKING:
    from python_calamine import CalamineWorkbook

SheetReader = Callable[[Path, str], pd.DataFrame]


class Workbook:
    """A workbook on disk whose sheets load on first use.

    Args:
        path: an XLSX/XLSM/XLS/ODS file, a CSV file, or a folder of CSV files.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise WorkbookError(f"workbook {self.path} does not exist", file=str(self.path))
        self._cache: dict[str, pd.DataFrame] = {}
        self._names: list[str] | None = None
        self._aliases: dict[str, str] = {}
        self.reader = _reader_for(self.path)
        #: header names (lower-cased) whose formula cells must hold a stored value; ``None``:
        #: every column (a plan sets the columns its profiles read)
        self.read_columns: set[str] | None = None
        #: sheets whose every column counts whatever ``read_columns`` says (read by hooks)
        self.whole_sheets: set[str] = set()

    @property
    def name(self) -> str:
        """The workbook's file (or folder) name, as messages show it."""
        return self.path.name

    @property
    def sheet_names(self) -> list[str]:
        """Sheet names, in workbook order."""
        if self._names is None:
            self._names = self.reader.sheet_names(self.path)
        return self._names

    def alias_sheets(self, aliases: dict[str, str]) -> None:
        """Read the sheet ``aliases[name]`` when sheet ``name`` is asked for (``Repo`` → ``REPO``)."""
        self._aliases.update(aliases)

    @property
    def hidden_sheets(self) -> list[str]:
        """Sheets hidden in the workbook (read like any other; a plan says so)."""
        hidden = getattr(self.reader, "hidden_sheets", None)
        return hidden(self.path) if hidden else []

    def has_sheet(self, name: str) -> bool:
        """Whether the workbook has a sheet of this exact name (or an alias of it)."""
        return name in self.sheet_names or name in self._aliases

    def sheet(self, name: str) -> pd.DataFrame:
        """One sheet as a DataFrame with a ``_row`` column (cached).

        Raises:
            WorkbookError: the sheet does not exist (the message suggests close names).
        """
        if name not in self._cache:
            if not self.has_sheet(name):
                raise WorkbookError(self._missing_sheet_message(name), file=self.name, sheet=name)
            columns = None if name in self.whole_sheets else self.read_columns
            self._cache[name] = self.reader.read(self.path, self._aliases.get(name, name), columns)
        return self._cache[name]

    def sheets(self, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """Several sheets by name (those present; all when ``names`` is None)."""
        wanted = self.sheet_names if names is None else [n for n in names if self.has_sheet(n)]
        return {n: self.sheet(n) for n in wanted}

    def _missing_sheet_message(self, name: str) -> str:
        return f"{self.name}: sheet '{name}' not found{self.sheet_hint(name)}"

    def sheet_hint(self, name: str) -> str:
        """`` (sheets: A, B). Did you mean 'Repos'?`` for a sheet name the workbook lacks."""
        close = difflib.get_close_matches(name, self.sheet_names, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return f" (sheets: {', '.join(self.sheet_names) or 'none'}).{hint}"


class _ExcelReader:
    """calamine first (one open workbook per reader), openpyxl when calamine fails."""

    def __init__(self) -> None:
        self._book: CalamineWorkbook | None = None
        self._lock = threading.Lock()

    def _calamine(self, path: Path) -> CalamineWorkbook:
        if self._book is None:
            from python_calamine import CalamineWorkbook

            self._book = CalamineWorkbook.from_path(str(path))
        return self._book

    def sheet_names(self, path: Path) -> list[str]:
        try:
            with self._lock:
                return list(self._calamine(path).sheet_names)
        except Exception:  # noqa: BLE001 - calamine errors are opaque; try openpyxl
            return self._openpyxl_names(path)

    def hidden_sheets(self, path: Path) -> list[str]:
        try:
            with self._lock:
                meta = self._calamine(path).sheets_metadata
            from python_calamine import SheetVisibleEnum
        except Exception:  # noqa: BLE001 - unreadable by calamine: nothing to say
            return []
        return [m.name for m in meta if m.visible != SheetVisibleEnum.Visible]

    def read(self, path: Path, sheet: str, columns: set[str] | None = None) -> pd.DataFrame:
        # calamine parses without the GIL: the formula scan runs meanwhile in a thread
        with ThreadPoolExecutor(max_workers=1) as pool:
            scan = pool.submit(_sheet_formulas_without_values, path, sheet)
            try:
                rows, origin = self._calamine_rows(path, sheet)
            except Exception:  # noqa: BLE001
                rows, origin = _openpyxl_rows(path, sheet), (1, 0)
            refs = scan.result()
        header = rows[0] if rows else []
        if columns is not None:  # only the cells of columns read (and of the header row)
            refs = [r for r in refs if _read_cell(r, header, origin, columns)]
        check_formula_values(refs, path, sheet, header, origin)
        return _frame(rows, origin[0], path, sheet)

    def _calamine_rows(self, path: Path, sheet: str) -> tuple[list[list], tuple[int, int]]:
        """Rows of ``sheet`` and the origin of its used range (Excel row, 0-based column)."""
        with self._lock:
            sh = self._calamine(path).get_sheet_by_name(sheet)
            rows = sh.to_python(skip_empty_area=True)
        start = sh.start or (0, 0)
        return rows, (start[0] + 1, start[1])

    def _openpyxl_names(self, path: Path) -> list[str]:
        try:
            import openpyxl

            wb = openpyxl.load_workbook(path, read_only=True)
            try:
                return list(wb.sheetnames)
            finally:
                wb.close()
        except Exception as exc:  # noqa: BLE001
            raise WorkbookError(
                f"cannot read {path.name}: {exc.__class__.__name__}: {exc}. Is it an Excel "
                "workbook (.xlsx) that is not password-protected?",
                file=path.name,
            ) from exc


def _openpyxl_rows(path: Path, sheet: str) -> list[list]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise WorkbookError(f"cannot read {path.name}: {exc}", file=path.name) from exc
    try:
        rows = [
            ["" if v is None else v for v in row] for row in wb[sheet].iter_rows(values_only=True)
        ]
    finally:
        wb.close()
    return rows


def _frame(rows: list[list], header_row: int, path: Path, sheet: str) -> pd.DataFrame:
    """Rows (header first) → DataFrame with clean header and Excel row numbers."""
    if not rows:
        return pd.DataFrame({ROW: pd.Series(dtype="int64")})
    header = [
        str(h).strip() if h not in (None, "") else f"column_{i + 1}" for i, h in enumerate(rows[0])
    ]
    _check_duplicate_headers(header, path, sheet)
    width = len(header)
    body = rows[1:]
    if any(len(row) != width for row in body):  # a reader's short row: padded with blanks
        body = [list(row[:width]) + [""] * (width - len(row)) for row in body]
    cells = np.empty((len(body), width), dtype=object)
    if body:
        cells[:] = body
    numbers = np.arange(header_row + 1, header_row + len(rows), dtype=np.int64)
    kept = ~((cells == "") | pd.isna(cells)).all(axis=1)  # blank rows are dropped
    # cells stay Python objects, as read (pandas would infer a text dtype column by column)
    frame = pd.DataFrame(cells[kept], columns=header, dtype=object)
    frame[ROW] = numbers[kept]
    frame.attrs["header_row"] = header_row
    return frame


def _check_duplicate_headers(header: list[str], path: Path, sheet: str) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise WorkbookError(
                f"{path.name} › {sheet}: column '{name}' appears twice in the header row; "
                "rename one of them",
                file=path.name,
                sheet=sheet,
                column=name,
            )
        seen.add(name)


# -- formula cells without a stored value ------------------------------------------------------

_SHOWN_CELLS = 5
_ROOT_TAG = re.compile(rb"<(\w+:)?worksheet[\s>]")
_ATTR = re.compile(rb"""\s(r|t)\s*=\s*["']([^"']*)["']""")
_CELL_REF = re.compile(r"([A-Z]+)([0-9]+)")
#: What reading the sheet XML may raise on a file that is not an OOXML zip (xls, ods, damaged).
_UNREADABLE: tuple[type[Exception], ...]
_UNREADABLE = (OSError, KeyError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error)
_UNREADABLE += (ElementTree.ParseError,)


@functools.cache
def _formula_pattern(prefix: bytes) -> re.Pattern[bytes]:
    """A formula element followed by no value: empty ``<v/>`` (group 1) or the cell's end."""
    p = re.escape(prefix)
    return re.compile(
        rb"<%sf(?:\s[^>]*)?(?:/>|>[^<]*</%sf>)\s*(?:(<%sv\s*/>|<%sv></%sv>)|</%sc>)"
        % (p, p, p, p, p, p)
    )


def formulas_without_values(data: bytes) -> list[str]:
    """A1 references of the formula cells of a worksheet part that have no stored value.

    A formula whose stored result is the empty text (``t="str"`` with an empty ``<v>``) has a
    value; a cell without ``r`` attribute is reported as ``?``.

    Args:
        data: the worksheet XML (``xl/worksheets/sheetN.xml``).
    """
    root = _ROOT_TAG.search(data, 0, 4096)
    prefix = (root.group(1) or b"") if root else b""
    refs = []
    for match in _formula_pattern(prefix).finditer(data):
        tag = data[data.rfind(b"<", 0, match.start()) : match.start()]
        attrs = dict(_ATTR.findall(tag))
        if match.group(1) and attrs.get(b"t") == b"str":
            continue
        refs.append(attrs.get(b"r", b"?").decode("ascii", "replace"))
    return refs


def _sheet_part(book: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding ``sheet`` (workbook part → relationships → worksheet part)."""
    main = _workbook_part(book)
    base = posixpath.dirname(main)
    rels = ElementTree.fromstring(book.read(f"{base}/_rels/{posixpath.basename(main)}.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    for element in ElementTree.fromstring(book.read(main)).iter():
        if element.tag.rsplit("}", 1)[-1] == "sheet" and element.get("name") == sheet:
            rid = next((v for k, v in element.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rid)
            if target:
                absolute = target.startswith("/")
                return target[1:] if absolute else posixpath.normpath(f"{base}/{target}")
    return None


def _workbook_part(book: zipfile.ZipFile) -> str:
    """The workbook part named by the package relationships (usually ``xl/workbook.xml``)."""
    for rel in ElementTree.fromstring(book.read("_rels/.rels")):
        if rel.get("Type", "").endswith("/officeDocument"):
            return rel.get("Target", "xl/workbook.xml").lstrip("/")
    return "xl/workbook.xml"


def _sheet_formulas_without_values(path: Path, sheet: str) -> list[str]:
    """Like :func:`formulas_without_values` for one sheet of an XLSX file (``[]`` if not XLSX)."""
    try:
        with zipfile.ZipFile(path) as book:
            part = _sheet_part(book, sheet)
            return formulas_without_values(book.read(part)) if part else []
    except _UNREADABLE:  # not an OOXML zip (xls, ods) or a part missing: nothing to check
        return []


def check_formula_values(
    refs: list[str], path: Path, sheet: str, header: list, origin: tuple[int, int] = (1, 0)
) -> None:
    """Refuse a sheet having formula cells whose value is not stored in the file.

    Args:
        refs: A1 references of those cells (:func:`formulas_without_values`).
        path: the workbook file.
        sheet: the sheet read.
        header: the header row's cells as read (for column names).
        origin: Excel row of the header and 0-based column of its first cell.

    Raises:
        WorkbookError: naming the file, the sheet, the first cells and how to fix it.
    """
    if not refs:
        return
    cells = [_describe_cell(ref, header, origin) for ref in refs[:_SHOWN_CELLS]]
    more = f" and {len(refs) - _SHOWN_CELLS} more" if len(refs) > _SHOWN_CELLS else ""
    first = _CELL_REF.fullmatch(refs[0])
    raise WorkbookError(
        f"{path.name} › {sheet}: {len(refs)} formula cell(s) have no stored value and would "
        f"read as empty: {', '.join(cells)}{more}. The workbook was saved without formula "
        "results (e.g. written by a script such as openpyxl): open and save it in Excel or "
        "LibreOffice so formula values are stored, or replace the formulas with values.",
        file=path.name,
        sheet=sheet,
        row=int(first.group(2)) if first else None,
        column=_column_name(first.group(1), header, origin) if first else None,
    )


def _describe_cell(ref: str, header: list, origin: tuple[int, int]) -> str:
    """``F7 (column 'active', row 7)``."""
    match = _CELL_REF.fullmatch(ref)
    if not match:
        return ref
    row = int(match.group(2))
    if row == origin[0]:
        return f"{ref} (header row)"
    name = _column_name(match.group(1), header, origin)
    column = f"column '{name}'" if name else f"column {match.group(1)}"
    return f"{ref} ({column}, row {row})"


def _read_cell(ref: str, header: list, origin: tuple[int, int], columns: set[str]) -> bool:
    """Whether a cell is in the header row or in a column whose name is in ``columns``."""
    match = _CELL_REF.fullmatch(ref)
    if not match or int(match.group(2)) == origin[0]:
        return True
    name = _column_name(match.group(1), header, origin)
    return name is not None and name.lower() in columns


def _column_name(letters: str, header: list, origin: tuple[int, int]) -> str | None:
    index = functools.reduce(lambda n, c: n * 26 + ord(c) - 64, letters, 0) - 1 - origin[1]
    if 0 <= index < len(header) and header[index] not in (None, ""):
        return str(header[index]).strip()
    return None


class _CsvReader:
    """A CSV file (one sheet) or a folder of CSV files (one sheet per file)."""

    def _files(self, path: Path) -> dict[str, Path]:
        if path.is_dir():
            return {p.stem: p for p in sorted(path.glob("*.csv"))}
        return {path.stem: path}

    def sheet_names(self, path: Path) -> list[str]:
        return list(self._files(path))

    def read(self, path: Path, sheet: str, columns: set[str] | None = None) -> pd.DataFrame:
        file = self._files(path)[sheet]
        try:
            frame = pd.read_csv(file, dtype=object, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise WorkbookError(f"cannot read {file.name}: {exc}", file=file.name) from exc
        frame.columns = [str(c).strip() for c in frame.columns]
        if len(frame.columns) == 1 and ";" in frame.columns[0]:
            raise WorkbookError(
                f"{file.name}: the header '{frame.columns[0]}' is separated by ';', not ',': "
                "save the file as CSV with commas (in Excel: CSV UTF-8), or as .xlsx",
                file=file.name,
                sheet=sheet,
            )
        frame[ROW] = range(2, 2 + len(frame))
        return frame


_READERS: dict[str, type[_ExcelReader] | type[_CsvReader]] = {
    ".xlsx": _ExcelReader,
    ".xlsm": _ExcelReader,
    ".xls": _ExcelReader,
    ".ods": _ExcelReader,
    ".csv": _CsvReader,
}


def _reader_for(path: Path) -> _ExcelReader | _CsvReader:
    if path.is_dir():
        return _CsvReader()
    try:
        return _READERS[path.suffix.lower()]()
    except KeyError:
        raise WorkbookError(
            f"{path.name}: unsupported file type '{path.suffix}' "
            f"(supported: {', '.join(sorted(_READERS))}, or a folder of .csv files)",
            file=path.name,
        ) from None


def source_label(
    workbook: str, sheet: str | None, row: int | None = None, column: str | None = None
) -> str:
    """``core_config.xlsx › Repo › row 7 › retention_days``."""
    parts = [workbook]
    if sheet:
        parts.append(sheet)
    if row is not None:
        parts.append(f"row {row}")
    if column:
        parts.append(column)
    return " › ".join(parts)

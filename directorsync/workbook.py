"""Reading workbooks into DataFrames, keeping the Excel row number of every row.

XLSX (and XLSM/XLS/ODS) are read with python-calamine, the fast path; openpyxl is the fallback
when calamine cannot read a file. CSV is read too: a single ``.csv`` file is one sheet named after
the file, a folder of CSV files is a workbook whose sheets are the file stems.

Every frame gets a ``_row`` column: the row number a person sees in Excel (the header is row 1).
Sheets are read lazily, once.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from directorsync.errors import WorkbookError

ROW = "_row"
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
        self.reader = _reader_for(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sheet_names(self) -> list[str]:
        """Sheet names, in workbook order."""
        if self._names is None:
            self._names = self.reader.sheet_names(self.path)
        return self._names

    def has_sheet(self, name: str) -> bool:
        return name in self.sheet_names

    def sheet(self, name: str) -> pd.DataFrame:
        """One sheet as a DataFrame with a ``_row`` column (cached).

        Raises:
            WorkbookError: the sheet does not exist (the message suggests close names).
        """
        if name not in self._cache:
            if name not in self.sheet_names:
                raise WorkbookError(self._missing_sheet_message(name), file=self.name, sheet=name)
            self._cache[name] = self.reader.read(self.path, name)
        return self._cache[name]

    def sheets(self, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
        """Several sheets by name (those present; all when ``names`` is None)."""
        wanted = self.sheet_names if names is None else [n for n in names if self.has_sheet(n)]
        return {n: self.sheet(n) for n in wanted}

    def _missing_sheet_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.sheet_names, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"{self.name}: sheet '{name}' not found (sheets: {', '.join(self.sheet_names)}).{hint}"
        )


class _ExcelReader:
    """calamine first, openpyxl when calamine fails."""

    def sheet_names(self, path: Path) -> list[str]:
        try:
            from python_calamine import CalamineWorkbook

            return list(CalamineWorkbook.from_path(str(path)).sheet_names)
        except Exception:  # noqa: BLE001 - calamine errors are opaque; try openpyxl
            return self._openpyxl_names(path)

    def read(self, path: Path, sheet: str) -> pd.DataFrame:
        try:
            rows, first_row = _calamine_rows(path, sheet)
        except Exception:  # noqa: BLE001
            rows, first_row = _openpyxl_rows(path, sheet)
        return _frame(rows, first_row, path, sheet)

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


def _calamine_rows(path: Path, sheet: str) -> tuple[list[list], int]:
    from python_calamine import CalamineWorkbook

    sh = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet)
    return sh.to_python(skip_empty_area=True), sh.start[0] + 1 if sh.start else 1


def _openpyxl_rows(path: Path, sheet: str) -> tuple[list[list], int]:
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
    return rows, 1


def _frame(rows: list[list], header_row: int, path: Path, sheet: str) -> pd.DataFrame:
    """Rows (header first) → DataFrame with clean header and Excel row numbers."""
    if not rows:
        return pd.DataFrame({ROW: pd.Series(dtype="int64")})
    header = [
        str(h).strip() if h not in (None, "") else f"column_{i + 1}" for i, h in enumerate(rows[0])
    ]
    _check_duplicate_headers(header, path, sheet)
    frame = pd.DataFrame(rows[1:], columns=header)
    frame[ROW] = range(header_row + 1, header_row + 1 + len(frame))
    blank = frame.drop(columns=ROW).isin(["", None]).all(axis=1)
    return frame[~blank].reset_index(drop=True)


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


class _CsvReader:
    """A CSV file (one sheet) or a folder of CSV files (one sheet per file)."""

    def _files(self, path: Path) -> dict[str, Path]:
        if path.is_dir():
            return {p.stem: p for p in sorted(path.glob("*.csv"))}
        return {path.stem: path}

    def sheet_names(self, path: Path) -> list[str]:
        return list(self._files(path))

    def read(self, path: Path, sheet: str) -> pd.DataFrame:
        file = self._files(path)[sheet]
        try:
            frame = pd.read_csv(file, dtype=object, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise WorkbookError(f"cannot read {file.name}: {exc}", file=file.name) from exc
        frame.columns = [str(c).strip() for c in frame.columns]
        frame[ROW] = range(2, 2 + len(frame))
        return frame


_READERS: dict[str, type] = {
    ".xlsx": _ExcelReader,
    ".xlsm": _ExcelReader,
    ".xls": _ExcelReader,
    ".ods": _ExcelReader,
    ".csv": _CsvReader,
}


def _reader_for(path: Path):
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

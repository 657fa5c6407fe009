"""Writers (the I/O edge): frames to XLSX or CSV, and the demo and synthetic workbooks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from directorsync.synth.demo import demo_frames
from directorsync.synth.synthetic import synthetic_frames

_STREAM_ABOVE_ROWS = 1_000  # rows in all sheets above which write_xlsx streams


def write_xlsx(
    frames: dict[str, pd.DataFrame], path: Path | str, *, write_only: bool | None = None
) -> Path:
    """Write frames as one XLSX sheet each (empty cells for NaN, header row in bold).

    Args:
        frames: sheet name -> frame, in workbook order.
        path: the ``.xlsx`` file; its folder is created if needed.
        write_only: stream rows with openpyxl's write-only mode (about twice as fast as
            pandas' writer, same cells); default: above 1,000 rows in all.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if write_only is None:
        write_only = sum(len(frame) for frame in frames.values()) > _STREAM_ABOVE_ROWS
    if write_only:
        _write_xlsx_streaming(frames, path)
        return path
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet, frame in frames.items():
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return path


def _write_xlsx_streaming(frames: dict[str, pd.DataFrame], path: Path) -> None:
    """The openpyxl write-only mode, header styled like pandas' (bold, thin border, centred)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, Side

    thin = Side(style="thin")
    style = {
        "font": Font(bold=True),
        "border": Border(left=thin, right=thin, top=thin, bottom=thin),
        "alignment": Alignment(horizontal="center", vertical="top"),
    }
    book = Workbook(write_only=True)
    for sheet, frame in frames.items():
        ws = book.create_sheet(sheet)
        header = [WriteOnlyCell(ws, value=name) for name in frame.columns]
        for cell in header:
            for attribute, value in style.items():
                setattr(cell, attribute, value)
        ws.append(header)
        for row in frame.astype(object).where(frame.notna(), None).to_numpy().tolist():
            ws.append(row)
    book.save(path)


def write_csv(frames: dict[str, pd.DataFrame], directory: Path | str) -> list[Path]:
    """Write frames as one ``<sheet>.csv`` (UTF-8, comma-separated) each.

    Args:
        frames: sheet name -> frame.
        directory: folder for the CSV files; created if needed.

    Returns:
        The paths written, in sheet order.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for sheet, frame in frames.items():
        paths.append(directory / f"{sheet}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


def write_demo_workbook(path: Path | str) -> Path:
    """Write the demo workbook (see :func:`demo_frames`) as XLSX.

    Args:
        path: the ``.xlsx`` file to write; its folder is created if needed.

    Returns:
        The path written.
    """
    return write_xlsx(demo_frames(), path)


def write_synthetic_workbook(
    path: Path | str, devices: int = 100_000, *, seed: int = 7, bad_ratio: float = 0.001
) -> Path:
    """Write :func:`synthetic_frames` as XLSX (about 18 s per 100k devices).

    Returns:
        The path written.
    """
    return write_xlsx(synthetic_frames(devices, seed=seed, bad_ratio=bad_ratio), path)


def write_synthetic_csv(
    directory: Path | str, devices: int = 100_000, *, seed: int = 7, bad_ratio: float = 0.001
) -> list[Path]:
    """Write :func:`synthetic_frames` as one CSV per sheet into ``directory``.

    Returns:
        The paths written, in sheet order.
    """
    return write_csv(synthetic_frames(devices, seed=seed, bad_ratio=bad_ratio), directory)

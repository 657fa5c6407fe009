"""``directorsync make-workbook``: the demo workbook or a synthetic one, as XLSX or CSV."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd

from directorsync.simulator.catalog import DEMO_TENANTS_YAML
from directorsync.synth.demo import DEMO_BAD_ROWS, demo_frames
from directorsync.synth.sheets import TENANT
from directorsync.synth.synthetic import synthetic_frames
from directorsync.synth.writers import write_csv, write_xlsx


def _describe(frames: dict[str, pd.DataFrame]) -> str:
    return ", ".join(f"{sheet} {len(frame)}" for sheet, frame in frames.items())


@click.command("make-workbook")
@click.argument("out", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--demo", "demo", is_flag=True, help="The demo workbook (default).")
@click.option(
    "--devices", type=click.IntRange(min=0), help="A synthetic workbook with N Device rows."
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed (synthetic only)."
)
@click.option(
    "--bad-ratio",
    type=click.FloatRange(0.0, 1.0),
    default=0.001,
    show_default=True,
    help="Fraction of bad Device rows (synthetic only).",
)
@click.option("--csv", "as_csv", is_flag=True, help="Write one CSV per sheet into OUT (a folder).")
@click.option(
    "--tenants-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the simulator's demo topology (format of tenants.yml) to this file.",
)
def make_workbook_command(
    out: Path,
    demo: bool,
    devices: int | None,
    seed: int,
    bad_ratio: float,
    as_csv: bool,
    tenants_file: Path | None,
) -> int:
    """Write the demo workbook or a synthetic one of any size to OUT.

    \b
    directorsync make-workbook demo_config.xlsx --tenants-file demo-tenants.yml
    directorsync make-workbook big.xlsx --devices 100000 --seed 7
    directorsync make-workbook big-csv/ --devices 100000 --csv
    """
    if demo and devices is not None:
        raise click.UsageError("choose one of --demo and --devices N")
    started = time.perf_counter()
    if devices is None:
        frames, what = demo_frames(), f"demo workbook (tenant {TENANT!r})"
    else:
        frames = synthetic_frames(devices, seed=seed, bad_ratio=bad_ratio)
        what = f"synthetic workbook ({devices} devices, seed {seed}, bad ratio {bad_ratio})"
    if as_csv:
        where = f"{out} ({len(write_csv(frames, out))} CSV files)"
    else:
        where = str(write_xlsx(frames, out))
    click.echo(f"wrote {what} to {where} in {time.perf_counter() - started:.1f} s")
    click.echo(f"  rows per sheet: {_describe(frames)}")
    if tenants_file is not None:
        tenants_file.write_text(DEMO_TENANTS_YAML, encoding="utf-8")
        click.echo(f"  tenants file of the simulator's demo topology: {tenants_file}")
    if devices is None:
        click.echo(f"  {len(DEMO_BAD_ROWS)} deliberately bad rows:")
        for bad in DEMO_BAD_ROWS:
            click.echo(
                f"    {bad['sheet']} row {bad['excel_row']} {bad['column']}: {bad['problem']}"
            )
    return 0

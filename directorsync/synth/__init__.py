"""Workbooks made by DirectorSync itself: the demo workbook and synthetic workbooks of any size.

The demo workbook (:func:`demo_frames`, :func:`write_demo_workbook`) is small, hand-written and
in exactly the format of the real tenant workbooks (same sheets, same columns, same quirks: ` | `
multi-values, text numbers, NaN for empty cells, 24-hex source ids in ``*_id`` columns, JSON in
alert columns). It holds a few deliberately bad rows, listed in :data:`DEMO_BAD_ROWS` with their
Excel row numbers (header = row 1).

Synthetic workbooks (:func:`synthetic_frames`, :func:`write_synthetic_workbook`,
:func:`write_synthetic_csv`) scale the ``Device`` sheet to any number of rows for benchmarks;
:func:`synthetic_inventory` returns the same devices as Director would list them, with a fraction
changed or missing. Everything is deterministic: the same arguments give the same data.

``directorsync make-workbook OUT.xlsx [--demo | --devices N] [--seed N] [--csv]`` is the CLI.

Modules, in the order data flows through them:

* :mod:`~directorsync.synth.sheets`: sheets and columns of the tenant workbooks, source ids;
* :mod:`~directorsync.synth.demo`: the demo workbook's hand-written rows and bad rows;
* :mod:`~directorsync.synth.device_rows`: synthetic devices as parallel NumPy arrays;
* :mod:`~directorsync.synth.synthetic`: synthetic sheets and the matching Director inventory;
* :mod:`~directorsync.synth.writers`: XLSX and CSV writers (the I/O edge);
* :mod:`~directorsync.cli.workbook_command`: the ``make-workbook`` command.

Everything public is re-exported here: import from ``directorsync.synth``.
"""

from __future__ import annotations

from directorsync.synth.demo import DEMO_BAD_ROWS, demo_frames
from directorsync.synth.device_rows import SYNTH_GROUPS
from directorsync.synth.sheets import COLUMNS, RISK_LEVELS, TENANT
from directorsync.synth.synthetic import (
    synthetic_frames,
    synthetic_group_inventory,
    synthetic_inventory,
)
from directorsync.synth.writers import (
    write_csv,
    write_demo_workbook,
    write_synthetic_csv,
    write_synthetic_workbook,
    write_xlsx,
)

__all__ = [
    "COLUMNS",
    "DEMO_BAD_ROWS",
    "RISK_LEVELS",
    "SYNTH_GROUPS",
    "TENANT",
    "demo_frames",
    "synthetic_frames",
    "synthetic_group_inventory",
    "synthetic_inventory",
    "write_csv",
    "write_demo_workbook",
    "write_synthetic_csv",
    "write_synthetic_workbook",
    "write_xlsx",
]

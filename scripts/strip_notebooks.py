#!/usr/bin/env python
"""Strip outputs, execution counts and run metadata from notebooks before they are committed.

Usage::

    python scripts/strip_notebooks.py                 # every notebooks/*.ipynb, in place
    python scripts/strip_notebooks.py a.ipynb b.ipynb
    python scripts/strip_notebooks.py --check         # exit 1 and name the unstripped ones

Kept: sources, cell ids, cell tags (``parameters``), the kernelspec and the language name.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
#: notebook metadata kept (everything else — widgets, papermill, versions — goes)
KEEP_NOTEBOOK_META = ("kernelspec",)
#: cell metadata kept
KEEP_CELL_META = ("tags",)


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Return ``nb`` without outputs, execution counts and run metadata (modified in place)."""
    language = nb.metadata.get("language_info", {}).get("name")
    nb.metadata = nbformat.from_dict(
        {k: nb.metadata[k] for k in KEEP_NOTEBOOK_META if k in nb.metadata}
    )
    if language:
        nb.metadata["language_info"] = {"name": language}
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in KEEP_CELL_META if cell.metadata.get(k)}
        )
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def is_stripped(nb: nbformat.NotebookNode) -> bool:
    """Whether :func:`strip` would leave ``nb`` unchanged."""
    before = nbformat.writes(nb)
    return nbformat.writes(strip(nbformat.reads(before, as_version=4))) == before


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)"
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if any is unstripped"
    )
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if is_stripped(nb):
            continue
        dirty.append(path)
        if not args.check:
            nbformat.write(strip(nb), path)
    for path in dirty:
        print(f"{'unstripped' if args.check else 'stripped'}: {path}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())

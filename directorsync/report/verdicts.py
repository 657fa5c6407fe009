"""The one-line verdicts that end ``plan`` and ``apply``, and the group key of messages.

The console and the customer report group rows by the key of their message (``'…' is not a
repo``).

Examples::

    Plan: 488 to create, 0 to update, 80 skipped, 0 errors.
    Wrote reports/core/<run>/: plan.json, actions.log, result.json, report.html
    Apply complete: 488 created, 0 updated, 80 skipped, 0 failed in 4.0 s. Report: reports/core/<run>/report.html

See ``docs/reports.md``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_QUOTED = re.compile(r"'[^']*'")
_NAMES = re.compile(r"[\w.-]*[-_.\d][\w.-]*(?:, [\w.-]*[-_.\d][\w.-]*)*")  # Repo-a, Repo_b


def template_of(message: Any) -> str:
    """A message with its values left out, the key of a group.

    Quoted values go first (``'…' is not a repo``), then names and numbers (``repos … are not
    repos``, ``first defined at row …``).
    """
    text = _QUOTED.sub("'…'", str(message or ""))
    return _NAMES.sub(lambda m: "…" if m.group(0).strip(".-_") else m.group(0), text)


def plan_verdict(by_action: Mapping[str, int], error_notes: int = 0) -> str:
    """The last line of a plan.

    Example: ``Plan: 488 to create, 0 to update, 80 skipped, 0 errors.`` (errors: rows the
    workbook makes impossible, and resources not planned; ``3 to delete`` comes first when the
    plan deletes).
    """
    errors = by_action.get("error", 0) + error_notes
    deleting = by_action.get("delete", 0)
    deletes = "Plan: " + (f"{deleting:,} to delete, " if deleting else "")
    return deletes + (
        f"{by_action.get('create', 0):,} to create, {by_action.get('update', 0):,} to "
        f"update, {by_action.get('skip', 0):,} skipped, {errors:,} error{'' if errors == 1 else 's'}."
    )


def apply_verdict(result: Mapping[str, Any], report: str | Path | None = None) -> str:
    """The last line of an apply.

    Example: ``Apply complete: 488 created, 0 updated, 80 skipped, 0 failed in 4.0 s. Report:
    reports/core/<run>/report.html``.
    """
    by = Counter(str(row.get("status")) for row in result.get("rows") or [])
    failed = sum(by.get(s, 0) for s in ("ERROR", "EXCEPTION"))
    phases = dict(result.get("phases") or {})
    if "load_and_plan" in phases:  # it includes load and plan
        phases = {k: v for k, v in phases.items() if k not in ("load", "plan")}
    took = sum(v for v in phases.values() if isinstance(v, int | float))
    if result.get("dry_run"):
        head = (f"Dry run complete: {by.get('PLANNED_CREATE', 0):,} to create, "
                f"{by.get('PLANNED_UPDATE', 0):,} to update")  # fmt: skip
    else:
        head = f"Apply complete: {by.get('CREATED', 0):,} created, {by.get('UPDATED', 0):,} updated"
        head += f", {by['DELETED']:,} deleted" if by.get("DELETED") else ""
    text = f"{head}, {by.get('SKIP', 0):,} skipped, {failed:,} failed in {took:.1f} s."
    if result.get("dry_run"):
        text += " Nothing was written."
    return text + (f" Report: {report}" if report else "")


def files_line(folder: str | Path, names: Iterable[str]) -> str:
    """The files a run wrote: ``Wrote reports/core/<run>/: plan.json, result.json, …``."""
    return f"Wrote {Path(folder)}{'/' if str(folder)[-1:] != '/' else ''}: {', '.join(names)}"


def shown_path(path: str | Path) -> str:
    """A path as the reader can paste it: relative to the working folder when inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

"""Confirm before apply: ``apply`` asks before it writes what it planned itself.

- With a terminal on standard input, once the plan is printed: the changes per resource and
  action (deletes by name) and ``Apply N changes to tenant T? [y/N]`` on stderr; anything but
  ``y``/``yes`` cancels (nothing written, the plan stays saved for ``apply --plan``).
- Without a terminal and without ``--auto-approve``: refused at once, before planning, with one
  line (:class:`~directorsync.errors.NotApprovedError`, exit code 5).
- ``--auto-approve`` (CI), ``--dry-run`` and a saved plan (``apply --plan``: reviewed already)
  never ask. The Python API (``Session.apply``, the notebooks, the review widget's button, the
  demo) is explicit by construction: calling it is the approval.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click
import pandas as pd

from directorsync.errors import NotApprovedError
from directorsync.plan import Plan

#: planned actions that write nothing
NO_WRITE = ("unchanged", "skip", "error")
DELETE = "delete"
#: deletes listed by name before the question, at most
NAMED_DELETES = 20


def is_terminal(stream: IO | None) -> bool:
    """Whether ``stream`` is an interactive terminal (a closed or missing stream is not)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, OSError):
        return False


def require_terminal(stdin: IO | None = None) -> None:
    """Refuse an apply that would need an answer nobody can give.

    Raises:
        NotApprovedError: standard input is not a terminal.
    """
    if not is_terminal(sys.stdin if stdin is None else stdin):
        raise NotApprovedError(
            "apply asks before writing and standard input is not a terminal: pass "
            "--auto-approve, or save a plan (directorsync plan --out plan.json) and apply it "
            "with directorsync apply --plan plan.json. Nothing was written."
        )


def writes(plan: Plan) -> pd.DataFrame:
    """The plan rows that would write (create, update, delete)."""
    rows = plan.rows
    return rows[~rows["action"].isin(NO_WRITE)] if len(rows) else rows


def summary_lines(plan: Plan) -> list[str]:
    """Counts per resource and action, then the deletes by name."""
    rows = writes(plan)
    lines = [f"Changes to apply to tenant {plan.tenant}:"]
    counts = rows.groupby(["resource", "action"], sort=False).size()
    width = max((len(str(r)) for r in rows["resource"]), default=0)
    for resource in pd.unique(rows["resource"]):
        actions = counts[resource]
        text = "  ".join(f"{action} {n}" for action, n in actions.items())
        lines.append(f"  {resource:<{width}}  {text}")
    deletes = rows[rows["action"] == DELETE]
    for row in deletes.head(NAMED_DELETES).itertuples(index=False):
        lines.append(f"  delete {row.resource} {row.key!r} on {row.node_name}")
    if len(deletes) > NAMED_DELETES:
        lines.append(f"  … and {len(deletes) - NAMED_DELETES} more deletes (see the plan)")
    return lines


def confirm_apply(
    plan: Plan, saved: Path, *, stdin: IO | None = None, stderr: IO | None = None
) -> None:
    """Print the summary and ask; return when the answer is yes (nothing to ask: no change).

    Raises:
        NotApprovedError: the answer is not yes (end of input included).
    """
    count = len(writes(plan))
    if not count:
        return
    stdin = sys.stdin if stdin is None else stdin
    sys.stdout.flush()  # the plan's tables first, when both streams are the terminal
    for line in summary_lines(plan):
        click.echo(line, err=True, file=stderr)
    noun = "change" if count == 1 else "changes"
    click.echo(
        f"Apply {count} {noun} to tenant {plan.tenant}? [y/N] ", nl=False, file=stderr, err=True
    )
    answer = stdin.readline()
    if answer.strip().lower() not in ("y", "yes"):
        if not answer:
            click.echo("", err=True, file=stderr)
        raise NotApprovedError(
            f"apply cancelled: nothing was written. The plan is saved: "
            f"directorsync apply --plan {saved} applies it as it is."
        )

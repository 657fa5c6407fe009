"""Approval files: the rows a reviewer approved, bound to the plan they reviewed.

An approval (``directorsync/approval@1``) names the approved rows by resource, node and key and
carries the plan's hash: ``apply --plan plan.json --approval approval.json`` applies exactly
those rows of exactly that plan, and refuses an approval given for another plan.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from directorsync.errors import PlanError
from directorsync.plan import Plan

APPROVAL_SCHEMA = "directorsync/approval@1"
#: actions whose rows are sent by apply (the only rows that can be selected or approved)
CHANGING = ("delete", "create", "update")
IDENTITY = ("resource", "node_id", "key")


def _identity(row: Mapping[str, Any] | pd.Series) -> dict[str, str]:
    return {k: str(row[k]) for k in IDENTITY}


def make_approval(
    plan: Plan,
    selection: Iterable[int],
    *,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The approval value for the selected rows of a plan (``directorsync/approval@1``).

    Args:
        plan: the reviewed plan.
        selection: positions in ``plan.rows``; each must be a ``create``/``update`` row.
        approved_by: who approves (default: the login name).
        approved_at: when (default: now, UTC).

    Raises:
        PlanError: a position is out of range or names a row that apply would not send.
    """
    rows = plan.rows.reset_index(drop=True)
    picked = sorted({int(i) for i in selection})
    for i in picked:
        if not 0 <= i < len(rows):
            raise PlanError(f"row {i} is not in the plan (it has {len(rows)} rows)")
        if rows.at[i, "action"] not in CHANGING:
            raise PlanError(
                f"row {i} ({rows.at[i, 'resource']!s} {rows.at[i, 'key']!r}) is "
                f"{rows.at[i, 'action']!s}: only create/update rows can be approved"
            )
    when = approved_at or dt.datetime.now(dt.UTC)
    return {
        "schema": APPROVAL_SCHEMA,
        "plan_hash": plan.hash,
        "tenant": plan.tenant,
        "run_id": plan.run_id,
        "rows": [_identity(rows.iloc[i]) for i in picked],
        "approved_by": approved_by or _login(),
        "approved_at": when.isoformat(timespec="seconds"),
    }


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def save_approval(approval: Mapping[str, Any], path: str | Path) -> Path:
    """Write an approval file (UTF-8 JSON; parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(approval, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def approved_indices(approval: Mapping[str, Any], plan: Plan) -> list[int]:
    """The positions in ``plan.rows`` an approval value names.

    Raises:
        PlanError: not an approval, bound to another plan (hash), or naming a row the plan does
            not send.
    """
    if approval.get("schema") != APPROVAL_SCHEMA:
        raise PlanError(
            f"not a DirectorSync approval (schema {approval.get('schema')!r}, "
            f"expected {APPROVAL_SCHEMA})"
        )
    if approval.get("plan_hash") != plan.hash:
        raise PlanError(
            "the approval was given for another plan (its plan_hash "
            f"{approval.get('plan_hash')} is not this plan's {plan.hash}); "
            "review the new plan and approve it again"
        )
    rows = plan.rows.reset_index(drop=True)
    changing = rows[rows["action"].isin(CHANGING)]
    index: dict[tuple[str, str, str], list[int]] = {}
    idents = zip(*(changing[k].astype(str) for k in IDENTITY))
    for i, ident in zip(changing.index, idents):
        index.setdefault(tuple(ident), []).append(int(i))
    picked: set[int] = set()
    for entry in approval.get("rows") or []:
        ident = tuple(str(entry.get(k)) for k in IDENTITY)
        found = index.get(ident)
        if not found:
            raise PlanError(
                "the approval names a row the plan does not send: "
                + ", ".join(f"{k}={v}" for k, v in zip(IDENTITY, ident))
            )
        picked.update(found)
    return sorted(picked)


def load_approval(path: str | Path, plan: Plan) -> list[int]:
    """Read an approval file and return the positions in ``plan.rows`` it approves.

    Raises:
        PlanError: unreadable file, or see :func:`approved_indices`.
    """
    path = Path(path)
    try:
        approval = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"cannot read approval {path}: {exc}", file=str(path)) from exc
    if not isinstance(approval, dict):
        raise PlanError(f"approval {path} must hold a JSON object", file=str(path))
    try:
        return approved_indices(approval, plan)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc.message}", file=str(path)) from exc

"""The plan: a value that can be printed, saved, filtered, reviewed and applied unchanged.

:mod:`directorsync.planner` builds it. The plan is a value: :meth:`Plan.to_dict` is the documented ``directorsync/plan@1`` JSON (with a
content hash), :func:`load_plan` reads it back, :meth:`Plan.summary` counts rows per resource,
node and action.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd

from directorsync import jsonio
from directorsync.config import new_run_id
from directorsync.diff import dump_value
from directorsync.errors import PlanError
from directorsync.jsonio import collector_paused
from directorsync.vocabulary import (
    ACTIONS,
    FINDING_COLUMNS,
    PLAN_COLUMNS,
    PLAN_SCHEMA,
)

LOG = logging.getLogger("directorsync.plan")
Progress = Callable[[str], None]


@dataclass
class Plan:
    """A plan: what would change on Director, row by row."""

    tenant: str
    pool_uuid: str
    workbook: str
    resources: list[str]
    rows: pd.DataFrame
    findings: pd.DataFrame
    notes: list[dict[str, str]] = field(default_factory=list)
    run_id: str = field(default_factory=new_run_id)
    created_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    timings: dict[str, float] = field(default_factory=dict)
    tenants_file: str | None = None
    #: Seconds per resource and stage (``devices.map``, ``devices.listing``…), for tuning.
    stage_timings: dict[str, float] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        """Content hash of the rows (what would be sent and why).

        SHA-256 of the tenant and pool, then each row's hashed fields as compact JSON with
        sorted keys, rows sorted (their order does not matter).
        """
        with collector_paused():
            rows = sorted(map(_CANONICAL.encode, plain_rows(self.rows[HASHED])))
        head = _CANONICAL.encode({"tenant": self.tenant, "pool_uuid": self.pool_uuid})
        return "sha256:" + hashlib.sha256(b"\n".join([head, *rows])).hexdigest()

    def legacy_hash(self) -> str:
        """The hash of plan files saved before 0.1.0's faster plans.

        It hashes the standard library's JSON text: slow on large plans, used only to accept
        such files.
        """
        records = _records(self.rows[HASHED]) if len(self.rows) else []
        text = dump_value(
            {
                "tenant": self.tenant,
                "pool_uuid": self.pool_uuid,
                "rows": sorted(records, key=dump_value),
            }
        )
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> pd.DataFrame:
        """Rows per resource, node and action."""
        if self.rows.empty:
            return pd.DataFrame(columns=["resource", "node", "action", "count"])
        counts = self.rows.groupby(["resource", "node_name", "action"], sort=False).size()
        return counts.rename("count").reset_index().rename(columns={"node_name": "node"})

    def counts(self) -> dict[str, int]:
        """Rows per action over the whole plan."""
        got = self.rows["action"].value_counts().to_dict() if len(self.rows) else {}
        return {a: int(got.get(a, 0)) for a in ACTIONS}

    @property
    def has_errors(self) -> bool:
        """A row is in error, or a note is an error."""
        return bool((self.rows["action"] == "error").any()) or any(
            n["level"] == "error" for n in self.notes
        )

    @property
    def has_changes(self) -> bool:
        """A row would create, update or delete an object."""
        return bool(self.rows["action"].isin(["create", "update", "delete"]).any())

    def changed(self) -> pd.DataFrame:
        """Rows that would be sent."""
        return self.rows[self.rows["action"].isin(["create", "update", "delete"])]

    def to_dict(self) -> dict[str, Any]:
        """The ``directorsync/plan@1`` JSON value."""
        return {
            "schema": PLAN_SCHEMA,
            "run_id": self.run_id,
            "created_at": self.created_at,
            "tenant": self.tenant,
            "pool_uuid": self.pool_uuid,
            "workbook": self.workbook,
            "tenants_file": self.tenants_file,
            "resources": self.resources,
            "hash": self.hash,
            "counts": self.counts(),
            "summary": self.summary().to_dict("records"),
            "notes": self.notes,
            "timings": self.timings,
            "stage_timings": self.stage_timings,
            "findings": _records(self.findings),
            "rows": _records(self.rows),
        }

    def console_view(self) -> dict[str, Any]:
        """What :func:`~directorsync.report.console.print_plan` shows, cheaply for a large plan.

        The counts (``summary``), notes, findings and the rows that are not ``unchanged``.
        """
        rows = self.rows[self.rows["action"] != "unchanged"] if len(self.rows) else self.rows
        return {
            "tenant": self.tenant,
            "workbook": self.workbook,
            "summary": self.summary().to_dict("records"),
            "notes": self.notes,
            "findings": _records(self.findings),
            "rows": _records(rows),
        }

    def findings_records(self) -> list[dict[str, Any]]:
        """The findings as plain JSON values (as in :meth:`to_dict`)."""
        return _records(self.findings)

    def save(self, path: str | Path, data: dict[str, Any] | None = None) -> Path:
        """Write the plan JSON (``data``: its :meth:`to_dict`, when the caller has it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(plan_json(data if data is not None else self.to_dict()))
        return path


#: The fields of a row the plan hash covers.
HASHED = [
    "resource",
    "node_id",
    "key",
    "action",
    "payload",
    "remote_hash",
    "path",
    "method",
    "remote_id",
    "depends_on",
]


def plan_json(data: Mapping[str, Any]) -> bytes:
    """A plan's JSON text (indented by one space), written in one go for large plans."""
    return msgspec.json.format(_JSON.encode(data), indent=1)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values.

    Missing values (NaN at any depth) as null, numpy scalars as Python numbers, tuples as
    lists, anything else as its text.
    """
    if frame is None or frame.empty:
        return []
    with collector_paused():  # a large plan is millions of fresh containers, without cycles
        return msgspec.json.decode(_JSON.encode(plain_rows(frame)))


def plain_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row, missing cells as None (encoding does the rest, see :func:`_records`)."""
    columns = list(frame.columns)
    arrays = []
    for column in columns:
        values = frame[column].to_numpy(dtype=object)
        missing = pd.isna(values)
        if missing.any():
            values = values.copy()
            values[missing] = None
        arrays.append(values)
    return [dict(zip(columns, values)) for values in zip(*arrays)]


_JSON = msgspec.json.Encoder(enc_hook=jsonio.json_default)  # NaN and infinities become null
_CANONICAL = msgspec.json.Encoder(enc_hook=jsonio.json_default, order="sorted")


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """Rebuild a plan from its JSON value.

    Raises:
        PlanError: not a plan, an incomplete or malformed one, or rows that do not match the
            recorded hash (the file was modified).
    """
    if not isinstance(data, Mapping) or data.get("schema") != PLAN_SCHEMA:
        found = data.get("schema") if isinstance(data, Mapping) else type(data).__name__
        raise PlanError(f"not a DirectorSync plan (schema {found!r}, expected {PLAN_SCHEMA})")
    missing = [k for k in ("tenant", "pool_uuid", "rows", "hash") if k not in data]
    if missing or not isinstance(data["rows"], list):
        what = ", ".join(missing) or "rows as a list"
        raise PlanError(
            f"the plan file is incomplete (missing: {what}); make it again with "
            "`directorsync plan --out`"
        )
    try:
        plan = _plan_value(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(
            f"the plan file is malformed ({exc.__class__.__name__}: {exc}); "
            "make it again with `directorsync plan --out`"
        ) from exc
    if plan.hash != data["hash"] and plan.legacy_hash() != data["hash"]:
        raise PlanError("the plan file was modified after it was made (its hash does not match)")
    return plan


def _plan_value(data: Mapping[str, Any]) -> Plan:
    return Plan(
        tenant=str(data["tenant"]),
        pool_uuid=str(data["pool_uuid"]),
        workbook=data.get("workbook", ""),
        resources=list(data.get("resources") or []),
        rows=pd.DataFrame(data["rows"], columns=PLAN_COLUMNS),
        findings=pd.DataFrame(data.get("findings") or [], columns=[*FINDING_COLUMNS, "node"]),
        notes=list(data.get("notes") or []),
        run_id=data.get("run_id") or new_run_id(),
        created_at=data.get("created_at", ""),
        timings=dict(data.get("timings") or {}),
        stage_timings=dict(data.get("stage_timings") or {}),
        tenants_file=data.get("tenants_file"),
    )


def load_plan(path: str | Path) -> Plan:
    """Read a plan JSON file."""
    return read_plan(path)[0]


def read_plan(path: str | Path) -> tuple[Plan, bytes]:
    """Read a plan JSON file: the plan, and the very bytes it was read (and verified) from."""
    path = Path(path)
    if not path.exists():
        raise PlanError(f"plan file {path} does not exist", file=str(path))
    with collector_paused():  # a large plan is millions of fresh containers, without cycles
        try:
            raw = path.read_bytes()
            data = jsonio.loads(raw)
        except (OSError, ValueError) as exc:
            raise PlanError(f"cannot read plan {path}: {exc}", file=str(path)) from exc
        return plan_from_dict(data), raw

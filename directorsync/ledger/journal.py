"""The write journal: what a run sent, so that a resumed run never sends an object twice.

For each plan row a run sends: ``intent`` is written before the request leaves, ``accepted``
(with the order's monitor path) when Director answers, ``done`` (with the row's status) when
the order ends. A resumed run reads the interrupted run's journal:

- ``done`` → the row's outcome is known: carried over, never sent again;
- ``accepted`` → the order is followed to its end, never sent again;
- ``intent`` → the outcome is unknown: the object is looked up by natural key first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from directorsync.ledger import tables as t
from directorsync.ledger.database import Ledger


def row_key(resource: str, node_id: str, key: str) -> str:
    """The journal's key of a plan row."""
    return f"{resource}|{node_id}|{key}"


def record_intent(ledger: Ledger, run_id: str, row: dict[str, Any], path: str) -> None:
    """Before a request leaves: the row may be on its way to Director."""
    c = t.journal.c
    with ledger.begin() as conn:
        _update_or_insert(
            conn,
            run_id,
            row,
            {"phase": "intent", "intent_at": ledger.now(), "path": path},
            increment={"attempts": c.attempts + 1},
            method=row["method"],
            attempts=1,
        )


def record_accepted(ledger: Ledger, run_id: str, row: dict[str, Any], monitor: str) -> None:
    """Director accepted the write: its order (monitor path; empty when it answered at once)."""
    rk = row_key(row["resource"], row["node_id"], row["key"])
    order_id = monitor.rstrip("/").split("/orders/")[-1].split("/")[0] if monitor else None
    c = t.journal.c
    with ledger.begin() as conn:
        conn.execute(
            update(t.journal)
            .where(c.run_id == run_id, c.row_key == rk)
            .values(
                phase="accepted", monitor_path=monitor, order_id=order_id, accepted_at=ledger.now()
            )
        )


def record_outcome(
    ledger: Ledger,
    run_id: str,
    rows: list[tuple[dict[str, Any], str, str | None, str | None]],
) -> None:
    """Rows whose outcome is known: ``(row, status, reason, carried_from)`` each."""
    if not rows:
        return
    now = ledger.now()
    with ledger.begin() as conn:
        for row, status, reason, carried in rows:
            values: dict[str, Any] = dict(phase="done", status=status, reason=reason, done_at=now)
            if carried:
                values["carried_from"] = carried
            _update_or_insert(
                conn,
                run_id,
                row,
                values,
                method=row.get("method") or "",
                path=row.get("path"),
                attempts=0,
            )


def _update_or_insert(
    conn: Any,
    run_id: str,
    row: dict[str, Any],
    values: dict[str, Any],
    increment: dict[str, Any] | None = None,
    **first: Any,
) -> None:
    """Set ``values`` (and ``increment``) on the row's journal entry, or create it with ``first``."""
    rk = row_key(row["resource"], row["node_id"], row["key"])
    c = t.journal.c
    found = conn.execute(
        update(t.journal)
        .where(c.run_id == run_id, c.row_key == rk)
        .values(**values, **(increment or {}))
    ).rowcount
    if not found:
        conn.execute(
            insert(t.journal).values(
                run_id=run_id,
                row_key=rk,
                resource=row["resource"],
                node_id=row["node_id"],
                key=str(row["key"]),
                **values,
                **first,
            )
        )


def entries(ledger: Ledger, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's journal: row key → entry."""
    with ledger.begin() as conn:
        rows = conn.execute(select(t.journal).where(t.journal.c.run_id == run_id)).mappings()
        return {r["row_key"]: dict(r) for r in rows}

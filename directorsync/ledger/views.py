"""What people read from the ledger: a run's view, a page of history, and both as DataFrames.

The JSON shapes follow the sync-status reference interface (tenant instead of fabric): a run
has ``state``, ``progress`` (``current_stage``, ``stages_completed``, ``stages_pending``,
``rows_processed``, ``total_rows``, ``percent_complete``), times, ``counts``, ``errors`` and
``warnings``; a history page has ``count``, ``next``, ``previous`` and ``results``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pandas as pd

from directorsync.ledger.database import Ledger
from directorsync.ledger.journal import entries

#: the columns of :func:`history_frame`, in order
HISTORY_COLUMNS = [
    "id",
    "tenant",
    "kind",
    "trigger",
    "state",
    "dry_run",
    "created_at",
    "started_at",
    "completed_at",
    "stage",
    "done",
    "total",
    "percent",
    "user",
    "host",
    "plan_id",
    "resumed_from",
    "exit_code",
    "message",
]


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    """A run record as shown by ``status --format json`` (and, later, the service)."""
    view = {
        k: run.get(k)
        for k in (
            "id",
            "tenant",
            "kind",
            "trigger",
            "state",
            "dry_run",
            "plan_id",
            "resumed_from",
            "created_at",
            "started_at",
            "updated_at",
            "completed_at",
            "heartbeat_at",
            "user",
            "host",
            "pid",
            "exit_code",
            "message",
            "workbook",
            "cancel_requested_at",
            "cancel_requested_by",
        )
    }
    view["progress"] = {
        "current_stage": run.get("stage"),
        "stages_completed": run.get("stages_completed") or [],
        "stages_pending": run.get("stages_pending") or [],
        "rows_processed": run.get("done") or 0,
        "total_rows": run.get("total") or 0,
        "percent_complete": run.get("percent") or 0.0,
    }
    view["counts"] = run.get("counts") or {}
    view["errors"] = run.get("errors") or []
    view["warnings"] = run.get("warnings") or []
    view["artifacts"] = run.get("artifacts") or {}
    if run.get("state") in ("interrupted", "cancelled", "failed") and run.get("kind") == "apply":
        view["resume_command"] = f"directorsync apply --resume {run['id']}"
    return view


def history_page(
    ledger: Ledger, *, limit: int = 20, offset: int = 0, **filters: Any
) -> dict[str, Any]:
    """One page of runs, newest first: ``count``, ``next``, ``previous``, ``results``.

    ``next`` and ``previous`` are query strings (``?limit=20&offset=20&tenant=core``) a caller
    puts after its own path; None at either end.
    """
    count, rows = ledger.history(limit=limit, offset=offset, **filters)
    page = page_links(count, limit=limit, offset=offset, query=filters)
    return {**page, "results": [run_view(r) for r in rows]}


def page_links(
    count: int, *, limit: int, offset: int, query: dict[str, Any], path: str = ""
) -> dict[str, Any]:
    """``count``, and the ``next`` and ``previous`` pages' links (None at either end).

    A link is ``path`` and a query string of ``limit``, ``offset`` and the non-empty ``query``
    values; ``next_offset`` is the next page's offset.
    """
    kept = {k: v for k, v in query.items() if v}

    def link(at: int | None) -> str | None:
        if at is None:
            return None
        return f"{path}?" + urlencode({"limit": limit, "offset": at, **kept})

    following = offset + limit if offset + limit < count else None
    before = max(0, offset - limit) if offset > 0 else None
    return {
        "count": count,
        "next": link(following),
        "previous": link(before),
        "next_offset": following,
    }


def history_frame(
    ledger: Ledger, *, limit: int = 1000, offset: int = 0, **filters: Any
) -> pd.DataFrame:
    """The history as a DataFrame (one row per run, newest first; counts as columns)."""
    _, rows = ledger.history(limit=limit, offset=offset, **filters)
    frame = pd.DataFrame(
        [{c: r.get(c) for c in HISTORY_COLUMNS} for r in rows], columns=HISTORY_COLUMNS
    )
    counts = pd.DataFrame([r.get("counts") or {} for r in rows], index=frame.index)
    return pd.concat([frame, counts.fillna(0).astype(int)], axis=1)


def run_rows_frame(ledger: Ledger, run_id: str) -> pd.DataFrame:
    """A run's rows: its ``result.json`` rows when written, else its journal."""
    import json
    from pathlib import Path

    run = ledger.get_run(run_id)
    result = (run.get("artifacts") or {}).get("result")
    if result and Path(result).is_file():
        rows = json.loads(Path(result).read_text(encoding="utf-8"))["rows"]
        return pd.DataFrame(rows)
    return pd.DataFrame(list(entries(ledger, run_id).values()))


def run_history(settings: Any = None, **filters: Any) -> pd.DataFrame:
    """The ledger's runs as a DataFrame, newest first (notebooks: ``ds.run_history(tenant="core")``).

    Args:
        settings: the settings naming the ledger (default: :func:`load_settings`).
        **filters: ``tenant``, ``state``, ``kind``, ``since``, ``until``, ``limit``, ``offset``.
    """
    return history_frame(_configured(settings), **filters)


def run_rows(run_id: str, settings: Any = None) -> pd.DataFrame:
    """A run's rows as a DataFrame (its ``result.json`` rows, else its journal)."""
    return run_rows_frame(_configured(settings), run_id)


def _configured(settings: Any) -> Ledger:
    from directorsync.config import load_settings
    from directorsync.ledger.database import open_configured

    return open_configured(settings or load_settings())

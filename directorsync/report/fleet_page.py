"""The fleet page of a multi-tenant run: ``reports/<run_id>/index.html``, one self-contained file.

The fleet's totals, a tenant × resource grid coloured by changes and failures (tenants with
problems first), then each tenant's state (ok, rows failed, failed), totals per status and links
to its report and notebook. Rendered by the same templates as the customer report
(:mod:`directorsync.report.customer`): inline stylesheet, a Content-Security-Policy that forbids
every external resource and every script, every value escaped; links only when relative or
http(s)/file. Written by ``directorsync run`` (:mod:`directorsync.notebook.batch`). See
``docs/reports.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from directorsync.redact import redact_text
from directorsync.report.blocks import LABELS, render, resource_title, status_class, write_page
from directorsync.report.console import ordered, status_columns, summarize
from directorsync.vocabulary import FAILED

__all__ = ["render_fleet_index", "write_fleet_index"]

CHANGES = ("CREATED", "UPDATED", "PLANNED_CREATE", "PLANNED_UPDATE")


def _href(href: Any) -> str | None:
    """A relative or http(s)/file link, quoted; any other scheme is no link."""
    if not href or urlsplit(str(href)).scheme not in ("", "http", "https", "file"):
        return None
    return quote(str(href), safe="/:#?&=%~.-_")


def _tenant_summary(tenant: Mapping[str, Any]) -> dict:
    result = tenant.get("result") or {}
    if result.get("rows") is not None:
        return summarize(result["rows"])
    summary = result.get("summary") or {}
    return {
        "by_status": summary.get("by_status") or {},
        "by_resource": summary.get("by_resource") or {},
    }


def _tenant_state(tenant: Mapping[str, Any], by_status: Mapping[str, int]) -> tuple[str, str]:
    """(``ok`` | ``rows failed`` | ``failed``, the text that explains it)."""
    if not tenant.get("ok"):
        return "failed", redact_text(str(tenant.get("error") or "the notebook failed"))
    if tenant.get("result") is None:
        return "failed", "no result was written"
    failed = sum(by_status.get(s, 0) for s in FAILED)
    return ("rows failed", f"{failed:,} rows failed") if failed else ("ok", "")


def grid_cell(counts: Mapping[str, int] | None) -> dict[str, Any]:
    """One tenant × resource cell: its text, its class and its title.

    The text reads ``12 changes · 2 failed``; the class is ``failed``, ``changed``,
    ``skipped``, ``unchanged`` or ``none``; the title gives the counts per status.
    """
    if not counts:
        return {"cls": "none", "text": "", "title": "not in this tenant's run"}
    changes = sum(counts.get(s, 0) for s in CHANGES)
    failed = sum(counts.get(s, 0) for s in FAILED)
    skipped = counts.get("SKIP", 0)
    parts = [f"{changes:,} changed"] if changes else []
    parts += [f"{failed:,} failed"] if failed else []
    parts += [f"{skipped:,} skipped"] if skipped else []
    cls = "failed" if failed else "changed" if changes else "skipped" if skipped else "unchanged"
    title = ", ".join(f"{LABELS.get(s, s)} {counts[s]:,}" for s in ordered(counts, LABELS))
    return {"cls": cls, "text": " · ".join(parts) or "no change", "title": title}


def _rank(entry: Mapping[str, Any]) -> tuple[int, int]:
    """Tenants with problems first: failed, rows failed, skips, then the others."""
    state = {"failed": 0, "rows failed": 1}.get(entry["state"], 2 if entry["skipped"] else 3)
    return state, -entry["changes"]


def render_fleet_index(run_id: str, tenants: list[dict]) -> str:
    """Renders the fleet page of a multi-tenant run (``reports/<run_id>/index.html``).

    Args:
        run_id: the run's id.
        tenants: one dict per tenant: ``tenant``, ``ok`` (its notebook ran), ``error`` (the
            notebook's error text or None), ``result`` (its result dict or None),
            ``report_href`` and ``notebook_href`` (links relative to the page).

    Returns:
        The HTML document: the fleet's totals, a tenant × resource grid coloured by changes
        and failures (tenants with problems first), then each tenant's state, counts and links.
    """
    entries: list[Any] = []
    overall: Counter[str] = Counter()
    resources: dict[str, Any] = {}
    for tenant in tenants:
        summary = _tenant_summary(tenant)
        counts, result = summary["by_status"], tenant.get("result")
        overall.update(counts)
        resources.update(dict.fromkeys(summary["by_resource"]))
        state, why = _tenant_state(tenant, counts)
        links = [(label, h) for label, key in (("report", "report_href"), ("notebook", "notebook_href"))
                 if (h := _href(tenant.get(key))) and not (result is None and label == "report")]  # fmt: skip
        entries.append({
            "tenant": str(tenant.get("tenant")), "state": state, "why": why,
            "state_cls": status_class("ok" if state == "ok" else "failed"),
            "mode": "—" if result is None else "dry run" if result.get("dry_run") else "apply",
            "counts": counts, "result": result is not None, "links": links,
            "by_resource": summary["by_resource"],
            "changes": sum(counts.get(s, 0) for s in CHANGES),
            "skipped": counts.get("SKIP", 0),
        })  # fmt: skip
    entries.sort(key=_rank)
    dry = bool(tenants) and all((t.get("result") or {}).get("dry_run") for t in tenants)
    cols = status_columns(overall, dry)
    ok = sum(e["state"] == "ok" for e in entries)
    for entry in entries:
        entry["numbers"] = [entry["counts"].get(c, 0) for c in cols] + [
            sum(entry["counts"].values())
        ]
        entry["grid"] = [grid_cell(entry["by_resource"].get(r)) for r in resources]
    return render(
        "fleet.html.j2",
        title=f"DirectorSync fleet run {run_id}",
        sub=f"{len(tenants)} tenants · {ok} ok · {len(tenants) - ok} with failures",
        cols=[(status_class(c), LABELS.get(c, c), overall.get(c, 0)) for c in cols],
        total=overall.total(),
        resources=[resource_title(r) for r in resources],
        tenants=entries,
    )


def write_fleet_index(run_id: str, tenants: list[dict], path: str | Path) -> Path:
    """Writes :func:`render_fleet_index` to ``path`` (UTF-8, parents created)."""
    return write_page(render_fleet_index(run_id, tenants), path)

"""Drift pages: the fleet's tenant × resource grid, and one tenant's differences.

``render_drift_fleet`` draws the gate's summary (:mod:`directorsync.driftgate`): the fleet's
totals per drift class, then a tenant × resource grid whose cells are coloured by the most
serious class found there (conflict, director_changed, removed, workbook_changed, unmanaged),
each cell linking to the tenant's page. ``render_drift_tenant`` lists one tenant's differences
(resource, node, object, field, workbook, Director, last applied, class). Same shell as the other
pages (:mod:`directorsync.report.blocks`): inline stylesheet, no script, every value escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from directorsync.diff import dump_value
from directorsync.redact import redact_text
from directorsync.report.blocks import render, resource_title, write_page
from directorsync.vocabulary import (
    CONFLICT,
    DIRECTOR_CHANGED,
    DRIFT_CLASSES,
    REMOVED,
    UNMANAGED,
    WORKBOOK_CHANGED,
)

__all__ = ["drift_cell", "render_drift_fleet", "render_drift_tenant", "write_drift_pages"]

#: the most serious class first: a cell takes the colour of the first class it holds
SEVERITY = (CONFLICT, DIRECTOR_CHANGED, REMOVED, WORKBOOK_CHANGED, UNMANAGED)


def drift_cell(counts: Mapping[str, int] | None, href: str | None) -> dict[str, Any]:
    """One tenant × resource cell: ``cls`` (a class, ``clean`` or ``none``), text, title, link."""
    if counts is None:
        return {"cls": "none", "text": "", "title": "no difference", "href": href}
    found = [c for c in SEVERITY if counts.get(c)]
    if not found:
        return {"cls": "unchanged", "text": "no drift", "title": "no drift", "href": href}
    text = " · ".join(f"{counts[c]:,} {c}" for c in found)
    return {"cls": found[0], "text": text, "title": text, "href": href}


def render_drift_fleet(summary: Mapping[str, Any]) -> str:
    """The fleet drift page of a gate summary (tenants with drift or errors first)."""
    results = list(summary.get("results") or [])
    resources: dict[str, None] = {}
    for entry in results:
        resources.update(dict.fromkeys(entry.get("by_resource") or {}))
    rows = []
    for entry in sorted(results, key=lambda e: (e["success"], e["verification_passed"])):
        href = quote(str(entry["target"])) + ".html" if entry.get("detail") else None
        by_resource = entry.get("by_resource") or {}
        rows.append({
            "tenant": str(entry["target"]),
            "success": bool(entry["success"]),
            "passed": bool(entry["verification_passed"]),
            "message": redact_text(str(entry.get("message") or "")),
            "href": href,
            "mode": entry.get("mode") or "",
            "cells": [drift_cell(by_resource.get(r), href) for r in resources]
            if entry["success"]
            else [],
            "counts": [entry["counts"].get(c, 0) for c in DRIFT_CLASSES],
            "duration": entry.get("duration") or 0,
        })  # fmt: skip
    passed = bool(summary.get("verification_passed"))
    return render(
        "drift_fleet.html.j2",
        title="DirectorSync fleet drift",
        sub=(
            f"{summary.get('total_targets', 0)} tenants · {summary.get('successful', 0)} checked · "
            f"{summary.get('failed', 0)} failed · {summary.get('timestamp', '')} · "
            + ("no drift" if passed else "drift found")
        ),
        classes=[(c, summary.get("counts", {}).get(c, 0)) for c in DRIFT_CLASSES],
        resources=[resource_title(r) for r in resources],
        tenants=rows,
    )


def render_drift_tenant(report: Mapping[str, Any]) -> str:
    """One tenant's drift page: its mode, counts per class and every difference."""
    items = [
        {
            **item,
            "resource": resource_title(item.get("resource")),
            "workbook": _shown(item.get("workbook")),
            "director": _shown(item.get("director")),
            "last_applied": _shown(item.get("last_applied")),
        }
        for item in report.get("items") or []
    ]
    items.sort(key=lambda i: (SEVERITY.index(i["class"]), i["resource"], i["key"]))
    return render(
        "drift_tenant.html.j2",
        title=f"DirectorSync drift · {report.get('tenant')}",
        sub=f"{report.get('workbook')} · {report.get('message')}",
        classes=[(c, report.get("counts", {}).get(c, 0)) for c in DRIFT_CLASSES],
        items=items,
        notes=[redact_text(str(n.get("message"))) for n in report.get("notes") or []],
    )


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    return redact_text(value if isinstance(value, str) else dump_value(value))[:300]


def write_drift_pages(
    summary: Mapping[str, Any], reports: Mapping[str, Mapping[str, Any]], folder: str | Path
) -> Path:
    """``folder/index.html`` (the fleet page) and ``folder/<tenant>.html`` for each report."""
    folder = Path(folder)
    for tenant, report in reports.items():
        write_page(render_drift_tenant(report), folder / f"{tenant}.html")
    return write_page(render_drift_fleet(summary), folder / "index.html")

"""The fleet page of a multi-tenant run: ``reports/<run_id>/index.html``, one self-contained file.

Each tenant's state (ok, rows failed, failed), its totals per status and links to its report
and notebook, then tenant × resource × status counts. Built from the same blocks as the customer
report (:mod:`directorsync.report.customer`): inline stylesheet, a Content-Security-Policy that
forbids every external resource and every script, every value escaped; links only when relative
or http(s)/file. Written by ``directorsync run`` (:mod:`directorsync.notebook.batch`). See
``docs/reports.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from directorsync.redact import redact_text
from directorsync.report.blocks import (
    badge,
    cards,
    count_heads,
    count_rows,
    esc,
    num_cell,
    page,
    section,
    table,
    td,
    tr,
    write_page,
)
from directorsync.report.console import status_columns, summarize
from directorsync.vocabulary import FAILED

__all__ = ["render_fleet_index", "write_fleet_index"]


def _href(href: Any) -> str | None:
    """A relative or http(s)/file link, quoted and escaped; any other scheme is no link."""
    if not href or urlsplit(str(href)).scheme not in ("", "http", "https", "file"):
        return None
    return esc(quote(str(href), safe="/:#?&=%~.-_"))


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


def _tenant_row(tenant: Mapping[str, Any], summary: dict, cols: list[str]) -> str:
    counts, result = summary["by_status"], tenant.get("result")
    state, why = _tenant_state(tenant, counts)
    state_badge = badge("ok" if state == "ok" else "failed", state)
    why = f'<p class="{"muted" if state == "ok" else "err"}">{esc(why)}</p>' if why else ""
    links = [f'<a href="{h}">{label}</a>' for label, key in (("report", "report_href"),
             ("notebook", "notebook_href")) if (h := _href(tenant.get(key)))]  # fmt: skip
    if result is None:
        links = [link for link in links if ">report<" not in link]
        numbers = [td("no result", "muted", f' colspan="{len(cols) + 1}"')]
    else:
        numbers = [*(num_cell(counts.get(c, 0)) for c in cols), num_cell(sum(counts.values()))]
    mode = "—" if result is None else "dry run" if result.get("dry_run") else "apply"
    name = td(esc(tenant.get("tenant")), "key")
    return tr(name, td(state_badge + why), td(mode), *numbers, td(" · ".join(links)))


def _per_resource(tenant: Mapping[str, Any], summary: dict, cols: list[str]) -> list[str]:
    lines = count_rows(summary["by_resource"], cols, link=False)
    if lines:  # the tenant's name once, spanning its resources
        cell = td(esc(tenant.get("tenant")), "key", f' rowspan="{len(lines)}"')
        lines[0] = lines[0].replace("<tr>", f"<tr>{cell}", 1)
    return lines


def render_fleet_index(run_id: str, tenants: list[dict]) -> str:
    """Renders the fleet page of a multi-tenant run (``reports/<run_id>/index.html``).

    Args:
        run_id: the run's id.
        tenants: one dict per tenant: ``tenant``, ``ok`` (its notebook ran), ``error`` (the
            notebook's error text or None), ``result`` (its result dict or None),
            ``report_href`` and ``notebook_href`` (links relative to the page).

    Returns:
        The HTML document: each tenant's state, totals and links, then tenant × resource ×
        status counts.
    """
    summaries = [_tenant_summary(t) for t in tenants]
    overall: Counter[str] = Counter()
    for summary in summaries:
        overall.update(summary["by_status"])
    dry = bool(tenants) and all((t.get("result") or {}).get("dry_run") for t in tenants)
    cols = status_columns(overall, dry)
    pairs = list(zip(tenants, summaries, strict=True))
    ok = sum(_tenant_state(t, s["by_status"])[0] == "ok" for t, s in pairs)
    rows = [_tenant_row(t, s, cols) for t, s in pairs]
    per_resource = [line for t, s in pairs for line in _per_resource(t, s, cols)]
    title = f"DirectorSync fleet run {run_id}"
    sub = f"{len(tenants)} tenants · {ok} ok · {len(tenants) - ok} with failures"
    tenants_html = cards(overall, cols, overall.total()) + table(
        ["Tenant", "State", "Mode", *count_heads(cols), "Links"], rows
    )
    body = (
        f'<header class="top"><h1>{esc(title)}</h1><p class="sub">{sub}</p></header>'
        + section("tenants", "Tenants", tenants_html)
        + section(
            "resources",
            "Per resource",
            table(["Tenant", "Resource", *count_heads(cols)], per_resource),
        )
    )
    return page(title, body)


def write_fleet_index(run_id: str, tenants: list[dict], path: str | Path) -> Path:
    """Writes :func:`render_fleet_index` to ``path`` (UTF-8, parents created)."""
    return write_page(render_fleet_index(run_id, tenants), path)

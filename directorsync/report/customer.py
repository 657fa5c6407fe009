"""The customer HTML report: one self-contained file per run.

The page carries its stylesheet inline and a Content-Security-Policy that forbids every
external resource and every script: it renders offline, from a mail attachment, with
JavaScript off. Every value that comes from a workbook, a profile or Director goes through
:func:`html.escape` (a cell holding ``<script>`` shows as text).

Large results stay readable: summaries count every row; detail tables show at most
``max_detail_rows`` rows per resource (problems and changes first, UNCHANGED last) and say how
many they leave out. See ``docs/reports.md``.

The page blocks live in :mod:`directorsync.report.blocks`; the fleet page of a multi-tenant run
is :mod:`directorsync.report.fleet_page`.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from directorsync.redact import redact_obj, redact_text
from directorsync.report.blocks import (
    LABELS,
    badge,
    cards,
    count_heads,
    count_rows,
    esc,
    millis,
    num_cell,
    page,
    seconds,
    section,
    shown_note,
    table,
    td,
    tr,
    utc,
    write_page,
)
from directorsync.report.console import (
    DETAIL_PRIORITY,
    check_result,
    compact,
    dry_run_verdict,
    node_label,
    ordered,
    plural,
    redact_row,
    status_columns,
    summarize,
)
from directorsync.vocabulary import FAILED, STATUSES

VALUE_CHARS = 300  # a before/after value longer than this is cut (the full value is in result.json)
ROW_HEAD = ["Key", "Node", "Status", "Details", "Order", "#Duration"]


# --- building blocks: every text goes through esc; td/tr take HTML already escaped ---------


# --- the run report -------------------------------------------------------------------------


def phase_times(phases: Mapping[str, Any] | None) -> dict[str, Any]:
    """The phases to show: one ``plan`` figure, then the others (``apply`` …).

    A session's plan records ``plan`` (building the plan) and ``load_and_plan`` (reading the
    workbook and the inventory too): the latter is the time a reader waited, so it is shown,
    labelled ``plan``, in place of both (and of ``load``, which it includes).
    """
    phases = dict(phases or {})
    if "load_and_plan" not in phases:
        return phases
    total = phases.pop("load_and_plan")
    rest = {k: v for k, v in phases.items() if k not in ("load", "plan")}
    return {"plan": total, **rest}


def _header(result: Mapping[str, Any], title: str, by_status: Mapping[str, int]) -> str:
    dry = bool(result.get("dry_run"))
    phases = phase_times(result.get("phases"))
    meta = {
        "Tenant": esc(result.get("tenant")),
        "Pool": esc(result.get("pool_uuid")),
        "Run id": esc(result.get("run_id")),
        "Workbook": esc(result.get("workbook")),
        "Mode": "Dry run (nothing written)" if dry else "Apply",
        "Started": esc(utc(result.get("started_at"))),
        "Finished": esc(utc(result.get("finished_at"))),
        "Phase timings": " · ".join(f"{esc(k)} {seconds(v)}" for k, v in phases.items()),
        "Plan hash": esc(result.get("plan_hash")),
    }
    items = "".join(f"<div><dt>{k}</dt><dd>{v or '—'}</dd></div>" for k, v in meta.items())
    verdict = dry_run_verdict(by_status).removesuffix(".") + " to Director."
    banner = (
        f'<p class="banner">{esc(verdict)} Rows marked “Would create” '
        "and “Would update” show what an apply would change.</p>"
    )
    sub = f"Run {meta['Run id']} · {meta['Finished'] or meta['Started']}"
    return (
        f'<header class="top"><h1>{esc(title)}</h1><p class="sub">{sub}</p></header>'
        f'{banner if dry else ""}<section><dl class="meta">{items}</dl></section>'
    )


def _summary(summary: dict, cols: list[str], total: int) -> str:
    by_resource = summary["by_resource"]
    foot = tr(
        td("Total"), *(num_cell(summary["by_status"].get(c, 0)) for c in cols), num_cell(total)
    )
    grid = table(["Resource", *count_heads(cols)], count_rows(by_resource, cols, link=True), foot)
    links = " ".join(f'<a href="#r{i}">{esc(r)}</a>' for i, r in enumerate(by_resource))
    toc = f'<nav class="toc">Go to: {links} <a href="#timings">timings</a></nav>'
    return section("summary", "Summary", cards(summary["by_status"], cols, total) + grid + toc)


def _value(value: Any) -> str:
    return '<span class="null">null</span>' if value is None else esc(compact(value, VALUE_CHARS))


def _changes(row: Mapping[str, Any]) -> str:
    """Every changed field: ``field before → after``; ``field value`` for a new object.

    A new object's values come from its changes, or from its payload when the plan lists no
    changes for a create.
    """
    creating = row.get("status") in ("CREATED", "PLANNED_CREATE") or row.get("action") == "create"
    changes = row.get("changes") or []
    if creating and not changes and isinstance(row.get("payload"), Mapping):
        changes = [{"field": k, "after": v} for k, v in row["payload"].items()]
    items = []
    for change in changes:
        field = f'<code class="f">{esc(change.get("field"))}</code>'
        after = f"<ins>{_value(change.get('after'))}</ins>"
        before = f'<del>{_value(change.get("before"))}</del><span class="arrow">→</span>'
        if creating:
            items.append(f"<li>{field} {after}</li>")
        elif len(before) + len(after) < 140:
            items.append(f"<li>{field} {before}{after}</li>")
        else:  # long values: before and after on lines of their own
            items.append(f'<li class="long">{field}<div>{before}</div><div>{after}</div></li>')
    return f'<ul class="changes">{"".join(items)}</ul>' if items else ""


def _details(row: Mapping[str, Any]) -> str:
    status, reason, error = row.get("status"), row.get("reason"), row.get("error")
    parts = []
    if status in FAILED:
        parts.append(f'<p class="err">{esc(error or reason or "failed")}</p>')
        if error and reason and reason != error:
            parts.append(f'<p class="muted">{esc(reason)}</p>')
    elif status == "SKIP":
        parts.append(f'<p class="reason">{esc(reason or "skipped")}</p>')
    if status not in ("UNCHANGED", "SKIP"):
        parts.append(_changes(row))
    attempts = row.get("attempts")
    if isinstance(attempts, int) and attempts > 1:
        parts.append(f'<p class="muted">{attempts} attempts</p>')
    return "".join(parts) or '<span class="muted">—</span>'


def _key(row: Mapping[str, Any]) -> str:
    """The row's key and, under it, where it comes from (``file › sheet › row``)."""
    src = f'<span class="src">{esc(row["source"])}</span>' if row.get("source") else ""
    return td(esc(row.get("key")) + src, "key")


def _row(row: Mapping[str, Any]) -> str:
    return tr(
        _key(row),
        td(esc(node_label(row)), "node"),
        td(badge(str(row.get("status") or "UNKNOWN"))),
        td(_details(row), "details"),
        td(esc(row.get("order_id")), "mono"),
        td(millis(row.get("duration_ms")), "num"),
    )


def _rank(row: Mapping[str, Any]) -> int:
    """Problems first, then changes, then anything else, UNCHANGED last."""
    status = row.get("status", "")
    return DETAIL_PRIORITY.get(status, len(DETAIL_PRIORITY) + (status == "UNCHANGED"))


def _resource(index: int, name: str, rows: list, counts: Counter, limit: int) -> str:
    shown = [redact_row(r) for r in sorted(rows, key=_rank)[:limit]]
    active = [r for r in shown if r.get("status") != "UNCHANGED"]
    quiet = shown[len(active) :]
    badges = " ".join(
        badge(s, f"{LABELS.get(s, s)} {counts[s]:,}") for s in ordered(counts, STATUSES)
    )
    html = f'<p class="counts">{badges}</p>{shown_note(len(shown), len(rows), "rows")}'
    if active:
        html += table(ROW_HEAD, map(_row, active))
    if quiet:  # collapsed: an idempotent re-run should not read as a wall of grey
        html += f"<details><summary>{plural(len(quiet), 'unchanged row')}</summary>"
        html += table(ROW_HEAD, map(_row, quiet)) + "</details>"
    return section(f"r{index}", esc(name), html, plural(len(rows), "row"))


def _error_text(row: Mapping[str, Any]) -> str:
    """The error, and where it comes from when the row was never sent (a workbook problem)."""
    html = f'<p class="err">{esc(row.get("error") or row.get("reason"))}</p>'
    if row.get("action") == "error":  # found while planning: nothing was sent to Director
        html += '<p class="muted">workbook problem: not sent to Director</p>'
    return html


def _errors(rows: list[Mapping[str, Any]], limit: int) -> str:
    failed = [r for r in rows if r.get("status") in FAILED]
    if not failed:
        return ""
    failed[:limit] = map(redact_row, failed[:limit])
    body = [
        tr(
            td(esc(r.get("resource"))),
            _key(r),
            td(esc(node_label(r)), "node"),
            td(badge(r["status"])),
            td(_error_text(r), "details"),
        )
        for r in failed[:limit]
    ]
    grid = table(["Resource", "Key", "Node", "Status", "Error"], body)
    html = shown_note(min(limit, len(failed)), len(failed), "failed rows") + grid
    return section("errors", "Errors", html, plural(len(failed), "row"))


def _findings(findings: list[Mapping[str, Any]], limit: int) -> str:
    if not findings:
        return ""
    keys = ("sheet", "row", "column", "check", "severity", "message", "value")
    body = [
        tr(*(td("" if f.get(k) is None else esc(compact(f.get(k)))) for k in keys))
        for f in findings[:limit]
    ]
    grid = table(["Sheet", "Excel row", "Column", "Check", "Severity", "Message", "Value"], body)
    html = shown_note(min(limit, len(findings)), len(findings), "findings") + grid
    return section("findings", "Workbook findings", html, f"{len(findings):,}")


def _notes(notes: list[Mapping[str, Any]], limit: int) -> str:
    if not notes:
        return ""
    body = [
        tr(
            td(badge("ERROR" if n.get("level") == "error" else "SKIP", str(n.get("level")))),
            td(esc(n.get("resource"))),
            td(esc(n.get("message")), "details"),
        )
        for n in notes[:limit]
    ]
    html = shown_note(min(limit, len(notes)), len(notes), "notes") + table(
        ["Level", "Resource", "Message"], body
    )
    return section("notes", "Plan notes", html, f"{len(notes):,}")


def _timings(result: Mapping[str, Any], grouped: Mapping[str, list]) -> str:
    phases = phase_times(result.get("phases")).items()
    html = table(["Phase", "#Time"], [tr(td(esc(k)), td(seconds(v), "num")) for k, v in phases])
    body = []
    for name, rows in grouped.items():
        timed = [r for r in rows if isinstance(r.get("duration_ms"), int | float)]
        if timed:
            slowest = max(timed, key=lambda r: r["duration_ms"])
            ms = [r["duration_ms"] for r in timed]
            figures = (millis(sum(ms)), millis(statistics.median(ms)), millis(max(ms)))
            cells = (td(f, "num") for f in figures)
            key = td(esc(redact_text(str(slowest.get("key")))))
            body.append(tr(td(esc(name)), num_cell(len(timed)), *cells, key))
    head = ["Resource", "#Timed rows", "#Total", "#Median", "#Slowest", "Slowest row"]
    return section("timings", "Timings", html + table(head, body))


def render_html(
    result: Mapping[str, Any], *, title: str | None = None, max_detail_rows: int = 500
) -> str:
    """Renders a result as one self-contained HTML page (no script, no external resource).

    Args:
        result: a ``directorsync/result@1`` dict (apply or dry run).
        title: page title; by default "DirectorSync report · <tenant>".
        max_detail_rows: at most this many rows per resource table (also bounds the error and
            findings tables). Summaries always count every row.

    Returns:
        The HTML document.

    Raises:
        DirectorSyncError: ``result`` is not a ``directorsync/result@1`` dict.
    """
    check_result(result)
    rows = list(result.get("rows") or [])
    result = redact_obj({k: v for k, v in result.items() if k != "rows"})  # rows: as shown
    summary = summarize(rows)
    grouped: dict[str, list] = defaultdict(list)
    for row in rows:
        grouped[str(row.get("resource") or "?")].append(row)
    cols = status_columns(summary["by_status"], bool(result.get("dry_run")))
    title = title or f"DirectorSync report · {result.get('tenant', '?')}"
    limit = max(0, max_detail_rows)
    sections = [
        _header(result, title, summary["by_status"]),
        _summary(summary, cols, len(rows)),
        _notes(list(result.get("notes") or []), limit),
        _errors(rows, limit),
        _findings(list(result.get("findings") or []), limit),
        *(
            _resource(i, name, group, Counter(summary["by_resource"][name]), limit)
            for i, (name, group) in enumerate(grouped.items())
        ),
        _timings(result, grouped),
    ]
    return page(title, "\n".join(sections))


def write_html(result: Mapping[str, Any], path: str | Path, **options: Any) -> Path:
    """Writes :func:`render_html` (``options`` are its keywords) to ``path``; parents created."""
    return write_page(render_html(result, **options), path)

"""The customer HTML report, one self-contained file, and the blocks every page is built from.

The page carries its stylesheet inline and a Content-Security-Policy that forbids every
external resource and every script: it renders offline, from a mail attachment, with
JavaScript off. Every value that comes from a workbook, a profile or Director goes through
:func:`html.escape` (a cell holding ``<script>`` shows as text).

Large results stay readable: summaries count every row; detail tables show at most
``max_detail_rows`` rows per resource (problems and changes first, UNCHANGED last) and say how
many they leave out. See ``docs/reports.md``.

The fleet page of a multi-tenant run is built from the same blocks in :mod:`directorsync.fleet`
(re-exported here: ``render_fleet_index``, ``write_fleet_index``).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from directorsync import __version__
from directorsync.redact import redact_obj, redact_text
from directorsync.report import (
    DETAIL_PRIORITY,
    RESULT_SCHEMA,
    STATUSES,
    check_result,
    compact,
    dry_run_verdict,
    node_label,
    ordered,
    redact_row,
    status_columns,
    summarize,
)

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"
VALUE_CHARS = 300  # a before/after value longer than this is cut (the full value is in result.json)
LABELS = {
    "CREATED": "Created",
    "UPDATED": "Updated",
    "PLANNED_CREATE": "Would create",
    "PLANNED_UPDATE": "Would update",
    "UNCHANGED": "Unchanged",
    "SKIP": "Skipped",
    "ERROR": "Error",
    "EXCEPTION": "Exception",
}
FAILED = ("ERROR", "EXCEPTION")
ROW_HEAD = ["Key", "Node", "Status", "Details", "Order", "#Duration"]

_FLEET_NAMES = ("render_fleet_index", "write_fleet_index")


def __getattr__(name: str) -> Any:
    # re-export the fleet page lazily (directorsync.fleet imports this module's blocks)
    if name in _FLEET_NAMES:
        from directorsync import fleet

        return getattr(fleet, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- building blocks: every text goes through _e; _td/_tr take HTML already escaped ---------


@cache
def _css() -> str:
    return files("directorsync").joinpath("data/report.css").read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _td(html: Any, cls: str = "", extra: str = "") -> str:
    return f'<td class="{cls}"{extra}>{html}</td>' if cls or extra else f"<td>{html}</td>"


def _tr(*cells: str) -> str:
    return f"<tr>{''.join(cells)}</tr>"


def _num(n: int) -> str:
    return _td(f"{n:,}", "num zero" if not n else "num")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _cls(status: str) -> str:
    return "s-" + re.sub(r"[^a-z0-9]+", "-", status.lower())


def _badge(status: str, label: str | None = None) -> str:
    return f'<span class="badge {_cls(status)}">{_e(label or LABELS.get(status, status))}</span>'


def _table(head: Sequence[str], rows: Iterable[str], foot: str = "") -> str:
    """A table; a heading starting with ``#`` is a right-aligned number column."""
    ths = "".join(
        f'<th class="num">{h[1:]}</th>' if h[:1] == "#" else f"<th>{h}</th>" for h in head
    )
    tfoot = f"<tfoot>{foot}</tfoot>" if foot else ""
    return f"<table><thead><tr>{ths}</tr></thead><tbody>\n{chr(10).join(rows)}\n</tbody>{tfoot}</table>"


def _section(id_: str, title: str, html: str, small: str = "") -> str:
    small = f" <small>{small}</small>" if small else ""
    return f'<section id="{id_}"><h2>{title}{small}</h2>{html}</section>'


def _note(shown: int, total: int, what: str) -> str:
    if shown >= total:
        return ""
    return (
        f'<p class="note">Showing {shown:,} of {total:,} {what}; '
        "the complete list is in result.json.</p>"
    )


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>\n{_css()}</style></head>\n"
        f"<body><main>\n{body}\n<footer>DirectorSync {_e(__version__)} · {RESULT_SCHEMA}"
        "</footer></main></body></html>\n"
    )


def _utc(value: Any) -> str:
    if not value:
        return ""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float):
        return _e(value)
    return f"{value:.2f} s" if value < 60 else f"{int(value // 60)} min {value % 60:.0f} s"


def _ms(value: Any) -> str:
    if not isinstance(value, int | float):
        return _e(value)
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _counts(by_key: Mapping[str, Mapping[str, int]], cols: list[str], link: bool) -> list[str]:
    """One table row per key (resource): a count per status column and the total."""
    out = []
    for i, (name, counts) in enumerate(by_key.items()):
        label = f'<a href="#r{i}">{_e(name)}</a>' if link else _e(name)
        cells = [_num(counts.get(c, 0)) for c in cols]
        out.append(_tr(_td(label), *cells, _num(sum(counts.values()))))
    return out


def _cards(by_status: Mapping[str, int], cols: list[str], total: int) -> str:
    cards = [
        f'<div class="card {_cls(s)}"><b>{by_status.get(s, 0):,}</b>'
        f"<span>{_e(LABELS.get(s, s))}</span></div>"
        for s in cols
    ]
    cards.append(f'<div class="card total"><b>{total:,}</b><span>Rows in total</span></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def _heads(cols: list[str]) -> list[str]:
    return [*(f"#{_e(LABELS.get(c, c))}" for c in cols), "#Total"]


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
        "Tenant": _e(result.get("tenant")),
        "Pool": _e(result.get("pool_uuid")),
        "Run id": _e(result.get("run_id")),
        "Workbook": _e(result.get("workbook")),
        "Mode": "Dry run (nothing written)" if dry else "Apply",
        "Started": _e(_utc(result.get("started_at"))),
        "Finished": _e(_utc(result.get("finished_at"))),
        "Phase timings": " · ".join(f"{_e(k)} {_seconds(v)}" for k, v in phases.items()),
        "Plan hash": _e(result.get("plan_hash")),
    }
    items = "".join(f"<div><dt>{k}</dt><dd>{v or '—'}</dd></div>" for k, v in meta.items())
    verdict = dry_run_verdict(by_status).removesuffix(".") + " to Director."
    banner = (
        f'<p class="banner">{_e(verdict)} Rows marked “Would create” '
        "and “Would update” show what an apply would change.</p>"
    )
    sub = f"Run {meta['Run id']} · {meta['Finished'] or meta['Started']}"
    return (
        f'<header class="top"><h1>{_e(title)}</h1><p class="sub">{sub}</p></header>'
        f'{banner if dry else ""}<section><dl class="meta">{items}</dl></section>'
    )


def _summary(summary: dict, cols: list[str], total: int) -> str:
    by_resource = summary["by_resource"]
    foot = _tr(_td("Total"), *(_num(summary["by_status"].get(c, 0)) for c in cols), _num(total))
    table = _table(["Resource", *_heads(cols)], _counts(by_resource, cols, link=True), foot)
    links = " ".join(f'<a href="#r{i}">{_e(r)}</a>' for i, r in enumerate(by_resource))
    toc = f'<nav class="toc">Go to: {links} <a href="#timings">timings</a></nav>'
    return _section("summary", "Summary", _cards(summary["by_status"], cols, total) + table + toc)


def _value(value: Any) -> str:
    return '<span class="null">null</span>' if value is None else _e(compact(value, VALUE_CHARS))


def _changes(row: Mapping[str, Any]) -> str:
    """Every changed field: ``field before → after``; ``field value`` for a new object (from its
    changes, or from its payload when the plan lists no changes for a create)."""
    creating = row.get("status") in ("CREATED", "PLANNED_CREATE") or row.get("action") == "create"
    changes = row.get("changes") or []
    if creating and not changes and isinstance(row.get("payload"), Mapping):
        changes = [{"field": k, "after": v} for k, v in row["payload"].items()]
    items = []
    for change in changes:
        field = f'<code class="f">{_e(change.get("field"))}</code>'
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
        parts.append(f'<p class="err">{_e(error or reason or "failed")}</p>')
        if error and reason and reason != error:
            parts.append(f'<p class="muted">{_e(reason)}</p>')
    elif status == "SKIP":
        parts.append(f'<p class="reason">{_e(reason or "skipped")}</p>')
    if status not in ("UNCHANGED", "SKIP"):
        parts.append(_changes(row))
    attempts = row.get("attempts")
    if isinstance(attempts, int) and attempts > 1:
        parts.append(f'<p class="muted">{attempts} attempts</p>')
    return "".join(parts) or '<span class="muted">—</span>'


def _key(row: Mapping[str, Any]) -> str:
    """The row's key and, under it, where it comes from (``file › sheet › row``)."""
    src = f'<span class="src">{_e(row["source"])}</span>' if row.get("source") else ""
    return _td(_e(row.get("key")) + src, "key")


def _row(row: Mapping[str, Any]) -> str:
    return _tr(
        _key(row),
        _td(_e(node_label(row)), "node"),
        _td(_badge(str(row.get("status") or "UNKNOWN"))),
        _td(_details(row), "details"),
        _td(_e(row.get("order_id")), "mono"),
        _td(_ms(row.get("duration_ms")), "num"),
    )


def _rank(row: Mapping[str, Any]) -> int:
    """Problems first, then changes, then anything else, UNCHANGED last."""
    status = row.get("status")
    return DETAIL_PRIORITY.get(status, len(DETAIL_PRIORITY) + (status == "UNCHANGED"))


def _resource(index: int, name: str, rows: list, counts: Counter, limit: int) -> str:
    shown = [redact_row(r) for r in sorted(rows, key=_rank)[:limit]]
    active = [r for r in shown if r.get("status") != "UNCHANGED"]
    quiet = shown[len(active) :]
    badges = " ".join(
        _badge(s, f"{LABELS.get(s, s)} {counts[s]:,}") for s in ordered(counts, STATUSES)
    )
    html = f'<p class="counts">{badges}</p>{_note(len(shown), len(rows), "rows")}'
    if active:
        html += _table(ROW_HEAD, map(_row, active))
    if quiet:  # collapsed: an idempotent re-run should not read as a wall of grey
        html += f"<details><summary>{_plural(len(quiet), 'unchanged row')}</summary>"
        html += _table(ROW_HEAD, map(_row, quiet)) + "</details>"
    return _section(f"r{index}", _e(name), html, _plural(len(rows), "row"))


def _error_text(row: Mapping[str, Any]) -> str:
    """The error, and where it comes from when the row was never sent (a workbook problem)."""
    html = f'<p class="err">{_e(row.get("error") or row.get("reason"))}</p>'
    if row.get("action") == "error":  # found while planning: nothing was sent to Director
        html += '<p class="muted">workbook problem: not sent to Director</p>'
    return html


def _errors(rows: list[Mapping[str, Any]], limit: int) -> str:
    failed = [r for r in rows if r.get("status") in FAILED]
    if not failed:
        return ""
    failed[:limit] = map(redact_row, failed[:limit])
    body = [
        _tr(
            _td(_e(r.get("resource"))),
            _key(r),
            _td(_e(node_label(r)), "node"),
            _td(_badge(r["status"])),
            _td(_error_text(r), "details"),
        )
        for r in failed[:limit]
    ]
    table = _table(["Resource", "Key", "Node", "Status", "Error"], body)
    html = _note(min(limit, len(failed)), len(failed), "failed rows") + table
    return _section("errors", "Errors", html, _plural(len(failed), "row"))


def _findings(findings: list[Mapping[str, Any]], limit: int) -> str:
    if not findings:
        return ""
    keys = ("sheet", "row", "column", "check", "severity", "message", "value")
    body = [
        _tr(*(_td("" if f.get(k) is None else _e(compact(f.get(k)))) for k in keys))
        for f in findings[:limit]
    ]
    table = _table(["Sheet", "Excel row", "Column", "Check", "Severity", "Message", "Value"], body)
    html = _note(min(limit, len(findings)), len(findings), "findings") + table
    return _section("findings", "Workbook findings", html, f"{len(findings):,}")


def _notes(notes: list[Mapping[str, Any]], limit: int) -> str:
    if not notes:
        return ""
    body = [
        _tr(
            _td(_badge("ERROR" if n.get("level") == "error" else "SKIP", str(n.get("level")))),
            _td(_e(n.get("resource"))),
            _td(_e(n.get("message")), "details"),
        )
        for n in notes[:limit]
    ]
    html = _note(min(limit, len(notes)), len(notes), "notes") + _table(
        ["Level", "Resource", "Message"], body
    )
    return _section("notes", "Plan notes", html, f"{len(notes):,}")


def _timings(result: Mapping[str, Any], grouped: Mapping[str, list]) -> str:
    phases = phase_times(result.get("phases")).items()
    html = _table(["Phase", "#Time"], [_tr(_td(_e(k)), _td(_seconds(v), "num")) for k, v in phases])
    body = []
    for name, rows in grouped.items():
        timed = [r for r in rows if isinstance(r.get("duration_ms"), int | float)]
        if timed:
            slowest = max(timed, key=lambda r: r["duration_ms"])
            ms = [r["duration_ms"] for r in timed]
            figures = (_ms(sum(ms)), _ms(statistics.median(ms)), _ms(max(ms)))
            cells = (_td(f, "num") for f in figures)
            key = _td(_e(redact_text(str(slowest.get("key")))))
            body.append(_tr(_td(_e(name)), _num(len(timed)), *cells, key))
    head = ["Resource", "#Timed rows", "#Total", "#Median", "#Slowest", "Slowest row"]
    return _section("timings", "Timings", html + _table(head, body))


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
    return _page(title, "\n".join(sections))


def write_html(result: Mapping[str, Any], path: str | Path, **options: Any) -> Path:
    """Writes :func:`render_html` (``options`` are its keywords) to ``path``; parents created."""
    return _write(render_html(result, **options), path)


def _write(html: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

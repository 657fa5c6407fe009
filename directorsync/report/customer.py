"""The customer HTML report: one self-contained file per run, summary first.

Top to bottom: a one-line verdict, the run's facts, a chart of rows per resource and status
(matplotlib, inline SVG), the counts, then the details a reader opens when they want them:
errors, workbook findings grouped by resource, check and message (each group a ``<details>``
with its rows), other skips grouped by reason, one collapsed section per resource, and timings
that add up. Rows of one object on several nodes read as one line naming the nodes; ids the
plan knows read as names; resources read by their titles.

The page is rendered by Jinja2 templates (``data/templates``) with autoescaping: a cell
holding ``<script>`` shows as text. It carries its stylesheet inline and a
Content-Security-Policy that forbids every external resource and every script. See
``docs/reports.md``.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from directorsync.jsonio import collector_paused
from directorsync.redact import Redactor, redact_obj
from directorsync.report.blocks import (
    LABELS,
    millis,
    render,
    resource_title,
    seconds,
    status_class,
    utc,
    write_page,
)
from directorsync.report.chart import status_chart
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
from directorsync.report.verdicts import template_of
from directorsync.verify import verification_view
from directorsync.vocabulary import FAILED, STATUSES

VALUE_CHARS = 300  # a before/after value longer than this is cut (the full value is in result.json)
FIELDS_SHOWN = 4  # changed fields shown on a row; the others behind "+N more fields"
GROUP_ROWS = 200  # rows listed inside one findings or skips group
_ID = re.compile(r"\b[0-9a-fA-F]{24,32}\b|\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
SEVERITY_ORDER = {"error": 0, "skip": 1, "warn": 2, "warning": 2, "info": 3}
NOT_SELECTED = "not selected"


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


# --- words a customer reads -----------------------------------------------------------------


class Names:
    """Ids the run knows, as names: node ids as node names, object ids as ``Title 'key'``."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]):
        self.names: dict[str, str] = {}
        for row in rows:
            if row.get("node_id") and row.get("node_name"):
                self.names[str(row["node_id"])] = str(row["node_name"])
            if row.get("remote_id") and row.get("key") not in (None, ""):
                title = resource_title(row.get("resource")).lower().rstrip("s")
                self.names[str(row["remote_id"])] = f"{title} '{row['key']}'"

    def text(self, value: Any, limit: int | None = VALUE_CHARS) -> str:
        """``value`` as :func:`compact` shows it, known ids replaced by their names."""
        text = compact(value)
        if self.names:
            text = _ID.sub(lambda m: self.names.get(m.group(0), m.group(0)), text)
        return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


# --- the verdict ----------------------------------------------------------------------------


def verdict(by_status: Mapping[str, int], dry_run: bool, explained: int) -> tuple[str, str]:
    """The one-line verdict at the top of the report, and its tone (``ok``, ``warn``, ``bad``).

    ``explained``: the skipped rows whose reason is a workbook finding.

    Example: ``All 488 changes applied; 80 rows skipped for workbook problems — see Findings.``
    """
    failed = sum(by_status.get(s, 0) for s in FAILED)
    skipped = by_status.get("SKIP", 0)
    if dry_run:
        head = dry_run_verdict(by_status).removesuffix(".") + " to Director"
    else:
        done = by_status.get("CREATED", 0) + by_status.get("UPDATED", 0)
        if failed:
            head = f"{done:,} of {plural(done + failed, 'change')} applied, {failed:,} failed — see Errors"
        elif done:
            head = f"All {plural(done, 'change')} applied"
        else:
            head = "Nothing to change: Director already matches the workbook"
    if skipped:  # explained: skips whose reason is a workbook finding
        why = (" for workbook problems — see Findings" if explained >= skipped
               else f" ({explained:,} for workbook problems) — see Findings and Skipped rows"
               if explained else " — see Skipped rows")  # fmt: skip
        head += f"; {plural(skipped, 'row')} skipped{why}"
    return head + ".", "bad" if failed else "warn" if skipped or dry_run else "ok"


# --- rows -----------------------------------------------------------------------------------


def _changes(row: Mapping[str, Any], names: Names) -> list[dict[str, Any]]:
    """Every changed field: ``field``, ``before``, ``after`` (text), ``new`` (a created object)."""
    creating = row.get("status") in ("CREATED", "PLANNED_CREATE") or row.get("action") == "create"
    changes = row.get("changes") or []
    if creating and not changes and isinstance(row.get("payload"), Mapping):
        changes = [{"field": k, "after": v} for k, v in row["payload"].items()]
    out = []
    for change in changes:
        before, after = change.get("before"), change.get("after")
        out.append({
            "field": str(change.get("field")),
            "new": creating,
            "before": None if before is None else names.text(before),
            "after": None if after is None else names.text(after),
            "drift": change.get("drift") if isinstance(change.get("drift"), str) else None,
        })  # fmt: skip
    return out


def _rank(row: Mapping[str, Any]) -> int:
    """Problems first, then changes, then anything else, UNCHANGED last."""
    status = row.get("status")
    return DETAIL_PRIORITY.get(str(status), len(DETAIL_PRIORITY) + (status == "UNCHANGED"))


def _line(row: Mapping[str, Any], names: Names, redactor: Redactor) -> dict[str, Any]:
    shown = redact_row(row, redactor)
    status = str(shown.get("status") or "UNKNOWN")
    quiet = status in ("UNCHANGED", "SKIP")
    return {
        "key": "" if shown.get("key") is None else str(shown["key"]),
        "source": shown.get("source"),
        "resource": resource_title(shown.get("resource")),
        "nodes": [],
        "status": status,
        "label": LABELS.get(status, status),
        "cls": status_class(status),
        "error": names.text(shown.get("error"), None) if shown.get("error") else "",
        "reason": names.text(shown.get("reason"), None) if shown.get("reason") else "",
        "workbook_problem": shown.get("action") == "error",
        "drift": shown.get("drift") if isinstance(shown.get("drift"), str) else None,
        "changes": [] if quiet else _changes(shown, names),
        "attempts": shown.get("attempts") if isinstance(shown.get("attempts"), int) else 0,
        "duration": 0.0,
        "row": row,
    }


def _merged(rows: list[Mapping[str, Any]], names: Names, limit: int) -> list[dict[str, Any]]:
    """Rows as lines, at most ``limit``: one line per object and outcome.

    A line names every node it was on (the same key, status, message and changes). Problems
    first, UNCHANGED last.
    """
    if limit <= 0:  # no line to show (a resource's UNCHANGED rows once its changes fill it)
        return []
    lines: dict[tuple, list[dict[str, Any]]] = {}
    count = 0
    redactor = Redactor()
    for row in sorted(rows, key=_rank):
        key = (row.get("key"), row.get("status"), row.get("error") or row.get("reason"))
        same = lines.get(key)
        line = next((x for x in same or () if x["row"].get("changes") == row.get("changes")), None)
        if line is None:
            if count >= limit:
                continue
            line = _line(row, names, redactor)
            lines.setdefault(key, []).append(line)
            count += 1
        line["nodes"].append(node_label(row))
        if isinstance(row.get("duration_ms"), int | float):
            line["duration"] += row["duration_ms"]
    out = sorted((x for xs in lines.values() for x in xs), key=lambda x: _rank(x["row"]))
    for line in out:
        line["duration"] = millis(line["duration"]) if line["duration"] else ""
        del line["row"]
    return out


def _explained(rows: list[Mapping[str, Any]], findings: list[Mapping[str, Any]]) -> set[int]:
    """Indexes of SKIP/ERROR rows whose reason is a workbook finding (shown once, there)."""
    messages = {(f.get("resource"), str(f.get("message"))) for f in findings}
    return {
        i
        for i, r in enumerate(rows)
        if r.get("status") in ("SKIP", "ERROR")
        and r.get("action") in ("skip", "error")
        and (r.get("resource"), str(r.get("error") or r.get("reason"))) in messages
    }


# --- groups ---------------------------------------------------------------------------------


def finding_groups(
    findings: list[Mapping[str, Any]], rows: list[Mapping[str, Any]], workbook: str = ""
) -> list[dict[str, Any]]:
    """Findings grouped by resource, check, severity and message (quoted values left out).

    Each group: ``resource``, ``check``, ``severity``, ``message`` (the template), ``count``
    (cells), ``skipped`` (rows skipped or refused for it), ``items`` (sheet, row, column,
    value, message, nodes; at most ``GROUP_ROWS``). Errors first, then skips, then the rest;
    larger groups first.
    """
    groups: dict[tuple, dict[str, Any]] = {}
    for f in redact_obj(list(findings)):
        template = template_of(f.get("message"))
        key = (f.get("resource"), f.get("check"), f.get("severity"), template)
        group = groups.setdefault(key, {
            "resource": resource_title(f.get("resource")), "check": f.get("check") or "",
            "severity": str(f.get("severity") or ""), "message": template, "count": 0,
            "skipped": 0, "items": {}, "messages": set(), "name": f.get("resource"),
        })  # fmt: skip
        cell = (f.get("sheet"), f.get("row"), f.get("column"), str(f.get("message")))
        item = group["items"].get(cell)
        if item is None:
            group["count"] += 1
            group["messages"].add(str(f.get("message")))
            if len(group["items"]) < GROUP_ROWS:
                item = group["items"][cell] = {
                    "sheet": f.get("sheet") or "", "row": f.get("row"),
                    "column": f.get("column") or "", "value": compact(f.get("value"), 120),
                    "message": str(f.get("message") or ""), "nodes": [],
                }  # fmt: skip
        if item is not None and f.get("node") and str(f["node"]) not in item["nodes"]:
            item["nodes"].append(str(f["node"]))
    for row in rows:
        if row.get("status") in ("SKIP", "ERROR") and row.get("action") in ("skip", "error"):
            text = str(row.get("error") or row.get("reason"))
            for group in groups.values():
                if group["name"] == row.get("resource") and text in group["messages"]:
                    group["skipped"] += 1
                    break
    out = sorted(
        groups.values(),
        key=lambda g: (SEVERITY_ORDER.get(g["severity"], 9), -g["count"], g["resource"]),
    )
    for group in out:
        group["items"] = list(group["items"].values())
        if len(group["messages"]) == 1:  # one message: shown as it is
            group["message"] = next(iter(group["messages"]))
        group["sev_cls"] = "s-error" if group["severity"] == "error" else (
            "s-skip" if group["severity"] == "skip" else "s-unchanged")  # fmt: skip
        del group["messages"], group["name"]
    return out


def skip_groups(rows: list[Mapping[str, Any]], names: Names) -> list[dict[str, Any]]:
    """SKIP rows not explained by a finding, grouped by resource and reason.

    Quoted values are left out of the reason; rows "not selected" for this apply come last,
    flagged ``quiet``.
    """
    grouped: dict[tuple, list] = defaultdict(list)
    for row in rows:
        grouped[(row.get("resource"), template_of(row.get("reason")))].append(row)
    out = []
    for (resource, reason), members in grouped.items():
        lines = _merged(members, names, GROUP_ROWS)
        out.append({
            "resource": resource_title(resource), "reason": reason or "skipped",
            "count": len(members), "lines": lines, "quiet": NOT_SELECTED in reason,
            "shown": sum(len(x["nodes"]) for x in lines),
        })  # fmt: skip
    return sorted(out, key=lambda g: (g["quiet"], -g["count"]))


# --- timings --------------------------------------------------------------------------------


def timings(result: Mapping[str, Any], grouped: Mapping[str, list]) -> dict[str, Any]:
    """Wall time per phase and their total; per resource the summed order time.

    Orders run in parallel, so the sums may exceed the apply's wall time; per resource also
    the median and slowest row.
    """
    phases = [(name, seconds(v)) for name, v in phase_times(result.get("phases")).items()]
    total = sum(v for v in phase_times(result.get("phases")).values() if isinstance(v, int | float))
    per_resource = []
    for name, rows in grouped.items():
        timed = [r for r in rows if isinstance(r.get("duration_ms"), (int, float))]
        ms = [r["duration_ms"] for r in timed]
        if ms:
            slowest = max(timed, key=lambda r: r["duration_ms"])
            per_resource.append({
                "resource": resource_title(name), "count": len(ms), "sum": millis(sum(ms)),
                "median": millis(statistics.median(ms)), "max": millis(max(ms)),
                "slowest": redact_row(slowest).get("key"),
            })  # fmt: skip
    return {"phases": phases, "total": seconds(total) if phases else "", "resources": per_resource}


# --- the page -------------------------------------------------------------------------------


def _meta(result: Mapping[str, Any]) -> list[tuple[str, Any]]:
    phases = phase_times(result.get("phases"))
    return [
        ("Tenant", result.get("tenant")),
        ("Workbook", result.get("workbook")),
        ("Mode", "Dry run (nothing written)" if result.get("dry_run") else "Apply"),
        ("Started", utc(result.get("started_at"))),
        ("Finished", utc(result.get("finished_at"))),
        ("Phase timings", " · ".join(f"{k} {seconds(v)}" for k, v in phases.items())),
        ("Run id", result.get("run_id")),
        ("Pool", result.get("pool_uuid")),
        ("Plan hash", result.get("plan_hash")),
    ]


def _resource_view(
    index: int, name: str, rows: list, explained: int, names: Names, limit: int
) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    active, quiet = [], []
    for r in rows:  # one pass: a resource may hold 100,000 rows
        status = r.get("status")
        counts[str(status or "UNKNOWN")] += 1
        if status == "UNCHANGED":
            quiet.append(r)
        elif status != "SKIP":
            active.append(r)
    lines = _merged(active, names, limit)
    unchanged = _merged(quiet, names, max(0, limit - len(lines)))
    return {
        "id": f"r{index}",
        "title": resource_title(name),
        "total": len(rows),
        "badges": [
            (status_class(s), f"{LABELS.get(s, s)} {counts[s]:,}")
            for s in ordered(counts, STATUSES)
        ],  # fmt: skip
        "lines": lines,
        "shown": sum(len(x["nodes"]) for x in lines + unchanged),
        "rows_total": len(active) + len(quiet),
        "unchanged": unchanged,
        "unchanged_count": len(quiet),
        "skipped": counts.get("SKIP", 0),
        "skipped_by_findings": explained,
        "open": any(s in FAILED for s in counts),
    }


def render_html(
    result: Mapping[str, Any], *, title: str | None = None, max_detail_rows: int = 500
) -> str:
    """Renders a result as one self-contained HTML page (no script, no external resource).

    Args:
        result: a ``directorsync/result@1`` dict (apply or dry run).
        title: page title; by default "DirectorSync report · <tenant>".
        max_detail_rows: at most this many lines per resource table (also bounds the error
            table). Summaries, the chart and the group counts always count every row.

    Returns:
        The HTML document.

    Raises:
        DirectorSyncError: ``result`` is not a ``directorsync/result@1`` dict.
    """
    check_result(result)
    # thousands of lines, cells and template frames over a result of 100,000 row dicts: the
    # collector's full walks of them cost 0.1–0.3 s and free nothing (no cycles among them)
    with collector_paused():
        return _render(result, title, max_detail_rows)


def _render(result: Mapping[str, Any], title: str | None, max_detail_rows: int) -> str:
    rows = list(result.get("rows") or [])
    result = redact_obj({k: v for k, v in result.items() if k != "rows"})  # rows: as shown
    limit = max(0, max_detail_rows)
    names = Names(rows)
    findings = list(result.get("findings") or [])
    summary = summarize(rows)
    dry = bool(result.get("dry_run"))
    cols = status_columns(summary["by_status"], dry)
    explained = _explained(rows, findings)
    grouped: dict[str, list] = defaultdict(list)
    for row in rows:
        grouped[str(row.get("resource") or "?")].append(row)
    by_explained = Counter(str(rows[i].get("resource") or "?") for i in explained)
    skips_explained = sum(rows[i].get("status") == "SKIP" for i in explained)
    text, tone = verdict(summary["by_status"], dry, skips_explained)
    titled = {resource_title(k): v for k, v in summary["by_resource"].items()}
    failed = [r for r in rows if r.get("status") in FAILED]
    other_skips = [
        r for i, r in enumerate(rows) if r.get("status") == "SKIP" and i not in explained
    ]
    title = title or f"DirectorSync report · {result.get('tenant', '?')}"
    return render(
        "report.html.j2",
        title=title,
        verdict=text,
        tone=tone,
        dry_run=dry,
        meta=_meta(result),
        chart=status_chart(titled, cols, "Rows per resource and status"),
        cols=[(status_class(c), LABELS.get(c, c), summary["by_status"].get(c, 0)) for c in cols],
        total=len(rows),
        table=[
            (f"r{i}", resource_title(name), [counts.get(c, 0) for c in cols], sum(counts.values()))
            for i, (name, counts) in enumerate(summary["by_resource"].items())
        ],
        notes=[
            {**n, "resource": resource_title(n.get("resource"))}
            for n in list(result.get("notes") or [])[:limit]
        ],
        errors=_merged(failed, names, limit),
        error_count=len(failed),
        findings=finding_groups(findings, rows, str(result.get("workbook") or "")),
        finding_count=len(findings),
        annotated=_annotated_href(result.get("annotated_workbook")),
        skips=skip_groups(other_skips, names),
        skip_count=len(other_skips),
        resources=[
            _resource_view(i, name, group, by_explained[name], names, limit)
            for i, (name, group) in enumerate(grouped.items())
        ],
        timings=timings(result, grouped),
        verification=verification_view(result, limit),
    )


def _annotated_href(href: Any) -> str | None:
    """The annotated workbook's link (relative to the report); another scheme is no link."""
    if not href or urlsplit(str(href)).scheme not in ("", "file"):
        return None
    return str(href)


def write_html(result: Mapping[str, Any], path: str | Path, **options: Any) -> Path:
    """Writes :func:`render_html` (``options`` are its keywords) to ``path``; parents created."""
    return write_page(render_html(result, **options), path)

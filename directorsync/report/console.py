"""Reports on plans and results: summaries, the console view and the JSON artifact.

Three readers, three outputs:

* the operator at the terminal: :func:`print_plan` and :func:`print_result` (rich tables, bounded);
* a program or a support engineer: :func:`write_result_json` writes ``result.json``
  (``directorsync/result@1``, documented by :func:`result_json_schema`);
* the customer: the self-contained HTML report, in :mod:`directorsync.report.customer`, and the
  fleet page, in :mod:`directorsync.report.fleet_page`.

See ``docs/reports.md``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from directorsync import jsonio
from directorsync.errors import DirectorSyncError
from directorsync.jsonio import collector_paused
from directorsync.redact import MASK, Redactor, is_secret_key, redact_obj
from directorsync.report.verdicts import plan_verdict, template_of
from directorsync.vocabulary import (
    ACTIONS,
    DATA_FIELDS,
    NOT_OK,
    ON_NODE,
    REF_PREFIX,
    RESULT_SCHEMA,
    STATUSES,
)
from directorsync.workbook import source_label

_RED = {"delete": "bold red"}  # deletes stand out: listed first, by name, in red
#: detail rows are listed in this order (UNCHANGED and unknown statuses last)
_FIRST = ("DELETED", "PLANNED_DELETE", "ERROR", "EXCEPTION", "SKIP", *STATUSES)  # deletes first
DETAIL_PRIORITY = {s: i for i, s in enumerate(dict.fromkeys(_FIRST)) if s != "UNCHANGED"}

CONSOLE_DETAIL_ROWS = 50
CONSOLE_FIELDS_PER_ROW = 4
CONSOLE_VALUE_CHARS = 40
GROUP_FROM = 3  # findings of one column and message on this many cells print as one line


# --- summaries ------------------------------------------------------------------------------


def _count(rows: Iterable[Mapping[str, Any]], field: str, top: str, missing: str) -> dict:
    total: Counter[str] = Counter()
    by_resource: dict[str, Counter[str]] = defaultdict(Counter)
    by_node: dict[str, Counter[str]] = defaultdict(Counter)
    combos = Counter(
        (str(row.get(field) or missing), str(row.get("resource") or "?"), node_label(row))
        for row in rows
    )  # counted once per distinct combination (a large plan has few of them)
    for (value, resource, node), n in combos.items():
        total[value] += n
        by_resource[resource][value] += n
        by_node[node][value] += n
    return {
        top: dict(total),
        "by_resource": {k: dict(v) for k, v in by_resource.items()},
        "by_node": {k: dict(v) for k, v in by_node.items()},
    }


def summarize(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict]:
    """Counts result rows by ``status``: overall, per resource and per node.

    Args:
        rows: result rows (``directorsync/result@1``); a row without status counts as UNKNOWN.

    Returns:
        ``{"by_status": {STATUS: n}, "by_resource": {resource: {STATUS: n}},
        "by_node": {node: {STATUS: n}}}``, resources and nodes in order of first appearance.
    """
    return _count(rows, "status", "by_status", "UNKNOWN")


def summarize_plan(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict]:
    """Counts plan rows by ``action``, like :func:`summarize` (top key ``by_action``)."""
    return _count(rows, "action", "by_action", "unknown")


def node_label(row: Mapping[str, Any]) -> str:
    """The node a row targets, by name when known."""
    return str(row.get("node_name") or row.get("node_id") or "?")


def ordered(present: Iterable[str], canonical: Iterable[str]) -> list[str]:
    """The canonical names first (in order), then any other name present, sorted."""
    present = set(present)
    canonical = list(canonical)
    return [s for s in canonical if s in present] + sorted(present - set(canonical))


def status_columns(by_status: Mapping[str, int], dry_run: bool = False) -> list[str]:
    """Statuses to show as columns: the usual ones for the run's mode plus any other present."""
    usual = ["UNCHANGED", "SKIP", "ERROR", "EXCEPTION"]
    usual[:0] = ["PLANNED_CREATE", "PLANNED_UPDATE"] if dry_run else ["CREATED", "UPDATED"]
    return ordered(set(usual) | {s for s, n in by_status.items() if n}, STATUSES)


def ref_label(ref: str) -> str:
    """``resource:key`` (a ``$ref:`` placeholder without its prefix) as a person reads it.

    Example: ``"devices:fw01"`` → ``"(new devices 'fw01')"``.
    """
    resource, _, key = ref.partition(":")
    return f"(new {resource} '{key}')"


def human_refs(value: Any) -> Any:
    """A copy of ``value`` with every ``$ref:resource:key`` placeholder shown for people.

    Placeholders stand for the ids of objects the same plan creates (``directorsync.inventory``).
    A whole-string placeholder becomes :func:`ref_label`; one embedded in a longer string ends at
    the next ``/`` (as the apply engine reads it). Dicts and lists are walked; the input is left
    alone (``result.json`` and plans keep the raw values).
    """
    if isinstance(value, Mapping):
        return {k: human_refs(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [human_refs(v) for v in value]
    if not isinstance(value, str) or REF_PREFIX not in value:
        return value
    if value.startswith(REF_PREFIX):
        return ref_label(value[len(REF_PREFIX) :])
    head, *parts = value.split(REF_PREFIX)
    for part in parts:
        ref, sep, rest = part.partition("/")
        head += ref_label(ref) + sep + rest
    return head


def compact(value: Any, limit: int | None = None) -> str:
    """A value as a reader should see it: strings bare, the rest compact JSON, cut at ``limit``.

    ``$ref:`` placeholders are shown as :func:`ref_label` (``(new devices 'fw01')``).
    """
    value = human_refs(value)
    if value is None:
        text = "null"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def redact_row(row: Mapping[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """A copy of a row with secrets masked (:mod:`directorsync.redact`).

    On top of :func:`~directorsync.redact.redact_obj`, the before/after values of a changed
    field whose *name* is secret-like (``password``, ``api_key`` …) are masked. ``DATA_FIELDS``
    are masked by key and secret value only, never altered otherwise. Pass one ``redactor``
    for many rows of one output (faster).
    """
    changes = row.get("changes") or []
    if any(is_secret_key(c.get("field")) for c in changes):
        mask = lambda v: v if v in (None, "") else MASK  # noqa: E731
        changes = [
            {**c, "before": mask(c.get("before")), "after": mask(c.get("after"))}
            if is_secret_key(c.get("field"))
            else c
            for c in changes
        ]
        row = {**row, "changes": changes}
    r = redactor or Redactor()  # data as sent: secret fields and values only, never altered
    return {k: r.copy_data(v) if k in DATA_FIELDS else r.copy(v) for k, v in row.items()}


def redact_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a result with secrets masked in its metadata and every row."""
    redactor = Redactor()
    head = redactor.copy({k: v for k, v in result.items() if k != "rows"})
    return {**head, "rows": [redact_row(r, redactor) for r in result.get("rows") or []]}


# --- console --------------------------------------------------------------------------------


def _counts_table(title: str, by_resource: Mapping[str, Mapping[str, int]], cols: list[str]) -> Any:
    table = Table(title=title, title_justify="left", show_footer=True)
    table.add_column("resource", footer="total")
    for col in cols:
        n = sum(counts.get(col, 0) for counts in by_resource.values())
        table.add_column(col, justify="right", footer=str(n))
    for resource, counts in by_resource.items():
        table.add_row(Text(resource), *(str(counts.get(c, 0) or "") for c in cols))
    return table


def _changes_text(row: Mapping[str, Any]) -> Text:
    """``field: before → after`` per changed field (``field: value`` for a create), bounded."""
    creating = row.get("action") == "create"
    changes = row.get("changes") or []
    if not changes and creating and isinstance(row.get("payload"), Mapping):
        changes = [{"field": k, "after": v} for k, v in row["payload"].items()]
    lines = []
    for c in changes[:CONSOLE_FIELDS_PER_ROW]:
        before = "" if creating else f"{compact(c.get('before'), CONSOLE_VALUE_CHARS)} → "
        lines.append(f"{c.get('field')}: {before}{compact(c.get('after'), CONSOLE_VALUE_CHARS)}")
    extra = len(changes) - CONSOLE_FIELDS_PER_ROW
    if extra > 0:
        lines.append(f"… +{extra} more fields")
    return Text("\n".join(lines))


def _print_notes(console: Console, notes: list[Mapping[str, Any]], limit: int) -> None:
    for note in redact_obj(notes[:limit]):
        level = str(note.get("level") or "note")
        style = "red" if level == "error" else "yellow"
        console.print(Text(f"{level}: {note.get('resource') or '-'}: {note.get('message')}", style))
    _print_more(console, min(limit, len(notes)), len(notes), "result.json")


def _print_more(console: Console, shown: int, total: int, where: str) -> None:
    """``… and N more, see <where>`` (``where`` starting with ``;``: ``… and N more; …``)."""
    if total > shown:
        tail = where if where.startswith(";") else f", see {where}"
        _print_line(console, f"… and {total - shown} more{tail}", "dim")


def _print_line(console: Console, text: str, style: str = "") -> None:
    """One line, never wrapped (a file or a pipe reads one row per line)."""
    console.print(Text(text, style=style, no_wrap=True, overflow="ignore"), soft_wrap=True)


def _where_more(plan_path: str | Path | None) -> str:
    """Where the rows left out are: ``--verbose``, and the plan file when there is one."""
    return f"; --verbose lists them all, {plan_path} holds them" if plan_path else (
        "; --verbose lists them all"
    )  # fmt: skip


def print_plan(
    plan: Mapping[str, Any],
    console: Console | None = None,
    *,
    limit: int | None = CONSOLE_DETAIL_ROWS,
    plan_path: str | Path | None = None,
    details: bool = True,
) -> None:
    """Prints a plan: counts, workbook problems, rows to look at, then one verdict line.

    Counts per resource × action, where the workbook has problems (file › sheet › row ›
    column), the rows that change something or need a look, then ``Plan: 488 to create, …``.

    Args:
        plan: a ``directorsync/plan@1`` dict (or a plan's ``console_view()``).
        console: where to print (a new :class:`rich.console.Console` by default). On a
            terminal the rows are a table; otherwise (a file, a pipe) one plain line per row.
        limit: at most this many detail rows per table (errors and skips first); None: all.
        plan_path: the plan file, named where rows are left out.
        details: False prints the counts and the verdict only.
    """
    console = console or Console()
    limit = _limit(limit)
    rows = plan.get("rows") or []
    errors = [n for n in plan.get("notes") or [] if n.get("level") == "error"]
    where = _where_more(plan_path)
    if not rows and not plan.get("summary"):
        tenant = plan.get("tenant", "?")
        if errors:
            console.print(Text(f"Plan for {tenant}: no row planned (see the errors).", "red"))
        else:
            console.print(Text(f"Plan for {tenant}: the workbook plans no row.", "yellow"))
        if details:
            _print_findings(
                console, plan.get("findings") or [], str(plan.get("workbook") or ""), limit, where
            )
        return
    by_resource, total = _plan_counts(plan)
    cols = ordered({a for counts in by_resource.values() for a in counts}, ACTIONS)
    title = f"Plan for {plan.get('tenant', '?')} ({total} rows)"
    console.print(_counts_table(title, by_resource, cols))
    verbose = limit >= 1 << 62  # every row, skips one by one
    quiet = ("unchanged",) if verbose else ("unchanged", "skip")
    todo = [r for r in rows if r.get("action") not in quiet]
    if details:
        workbook = str(plan.get("workbook") or "")
        _print_findings(console, plan.get("findings") or [], workbook, limit, where)
        if not verbose:
            _print_skip_groups(
                console, [r for r in rows if r.get("action") == "skip"], limit, where
            )
        _print_todo(console, todo, limit, where, bool(errors))
    by_action: Counter[str] = Counter()
    for counts in by_resource.values():
        by_action.update(counts)
    style = "red" if errors or by_action.get("error") else "bold"
    _print_line(console, plan_verdict(by_action, len(errors)), style)


def _limit(limit: int | None) -> int:
    return 1 << 62 if limit is None else max(0, limit)


def _print_todo(console: Console, todo: list, limit: int, where: str, errors: bool) -> None:
    rank = {a: i for i, a in enumerate(("delete", "error", "skip", "create", "update"))}
    todo.sort(key=lambda r: rank.get(str(r.get("action")), len(rank)))
    if not todo:
        message = "Nothing to change." if not errors else "Nothing to change in what was planned."
        console.print(Text(message, style="green" if not errors else "yellow"))
        return
    shown = [redact_row(r) for r in todo[:limit]]
    if console.is_terminal:
        table = Table(title="Rows to change or to look at", title_justify="left", show_lines=True)
        for col in ("resource", "node", "key", "action", "reason", "changes"):
            table.add_column(col, overflow="fold")
        for row in shown:
            table.add_row(
                Text(compact(row.get("resource"))),
                Text(compact(node_label(row))),
                _key_text(row),
                Text(compact(row.get("action")), style=_RED.get(str(row.get("action")), "")),
                Text(compact(row.get("reason") or "")),
                _changes_text(row),
            )
        console.print(table)
    else:
        console.print(Text("Rows to change or to look at"))
        for row in shown:
            cells = [str(row.get("action")), compact(row.get("resource")), node_label(row),
                     _key_text(row).plain, compact(row.get("reason") or ""),
                     _changes_text(row).plain.replace("\n", "; ")]  # fmt: skip
            _print_line(console, "  " + "  ".join(c for c in cells if c), _RED.get(cells[0], ""))
    _print_more(console, len(shown), len(todo), where)


def _plan_counts(plan: Mapping[str, Any]) -> tuple[dict[str, dict[str, int]], int]:
    """Rows per resource and action: the plan's ``summary`` if any, else counted on its rows."""
    if plan.get("summary"):
        by_resource: dict[str, dict[str, int]] = defaultdict(dict)
        for item in plan["summary"]:
            counts = by_resource[str(item.get("resource"))]
            action = str(item.get("action"))
            counts[action] = counts.get(action, 0) + int(item.get("count") or 0)
        return dict(by_resource), sum(sum(c.values()) for c in by_resource.values())
    rows = plan.get("rows") or []
    return summarize_plan(rows)["by_resource"], len(rows)


def _print_findings(
    console: Console, findings: list[Mapping[str, Any]], workbook: str, limit: int, more: str
) -> None:
    """Where the workbook has problems: one line per cell and message, its nodes merged."""
    seen: dict[tuple, tuple[Mapping[str, Any], list[str]]] = {}
    for f in redact_obj(list(findings)):
        message, node = str(f.get("message") or ""), f.get("node")
        if node and ON_NODE.format(node) in message:
            message = message.replace(ON_NODE.format(node), "on {nodes}", 1)
        key = (f.get("sheet"), f.get("row"), f.get("column"), f.get("severity"), message)
        nodes = seen.setdefault(key, (f, []))[1]
        if node and "{nodes}" in message and str(node) not in nodes:
            nodes.append(str(node))
    if not seen:
        return
    lines = []
    for cells in _finding_groups(seen, grouped=limit < 1 << 62)[:limit]:
        (sheet, row, column, severity, message), (_, nodes) = cells[0]
        where = source_label(workbook, sheet, _excel_row(row), column)
        if len(cells) >= GROUP_FROM:  # one line for many cells with the same problem
            where = source_label(workbook, sheet, None, column)
            rows = ", ".join(str(k[1]) for k, _ in cells[:8]) + (", …" if len(cells) > 8 else "")
            message = f"{template_of(message)} ({len(cells)} cells: rows {rows})"
        elif nodes:
            label = ("node " if len(nodes) == 1 else "nodes ") + ", ".join(nodes)
            message = message.replace("on {nodes}", f"on {label}", 1)
        lines.append((where, str(severity or ""), message))
    if console.is_terminal:
        table = Table(title="Workbook findings", title_justify="left")
        for col in ("where", "severity", "message"):
            table.add_column(col, overflow="fold")
        for where, severity, message in lines:
            style = "red" if severity == "error" else "yellow"
            table.add_row(Text(where), Text(severity, style), Text(message))
        console.print(table)
    else:
        console.print(Text(f"Workbook findings ({len(seen)})"))
        for where, severity, message in lines:
            _print_line(console, f"  {severity}  {where}: {message}")
    shown = sum(len(c) for c in _finding_groups(seen, limit < 1 << 62)[:limit])
    _print_more(console, shown, len(seen), more)


def _finding_groups(seen: Mapping[tuple, Any], grouped: bool) -> list[list[tuple]]:
    """The findings as lines: per cell, or (``grouped``) per column and message template."""
    if not grouped:
        return [[item] for item in seen.items()]
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for key, value in seen.items():
        sheet, _, column, severity, message = key
        groups[(sheet, column, severity, template_of(message))].append((key, value))
    out: list[list[tuple]] = []
    for cells in groups.values():
        out.extend([cells] if len(cells) >= GROUP_FROM else [[c] for c in cells])
    return out


def _excel_row(row: Any) -> int | None:
    try:
        return int(row)
    except (TypeError, ValueError):
        return None


def print_result(
    result: Mapping[str, Any],
    console: Console | None = None,
    *,
    limit: int | None = CONSOLE_DETAIL_ROWS,
) -> None:
    """Prints a result: counts per resource × status, failed rows, then skipped ones by reason.

    Args:
        result: a ``directorsync/result@1`` dict.
        console: where to print (a new :class:`rich.console.Console` by default). On a
            terminal the rows are a table; otherwise one plain line per row.
        limit: at most this many detail rows (errors first), then "… and N more"; None: all,
            the skipped rows one by one.
    """
    console = console or Console()
    verbose, limit = limit is None, _limit(limit)
    rows = result.get("rows") or []
    summary = summarize(rows)
    cols = status_columns(summary["by_status"], bool(result.get("dry_run")))
    mode = "dry run" if result.get("dry_run") else "apply"
    title = f"{result.get('tenant', '?')} · run {result.get('run_id', '?')} · {mode}"
    console.print(_counts_table(title, summary["by_resource"], cols))
    bad = [r for r in rows if r.get("status") in NOT_OK and (verbose or r["status"] != "SKIP")]
    bad.sort(key=lambda r: DETAIL_PRIORITY[r["status"]])
    if bad:
        _print_problems(console, bad[:limit])
        _print_more(console, min(limit, len(bad)), len(bad), "report.html")
    if not verbose:
        _print_skip_groups(console, [r for r in rows if r.get("status") == "SKIP"], limit)
    if not bad and not summary["by_status"].get("SKIP") and not result.get("dry_run"):
        console.print(Text(f"All {len(rows)} rows OK.", style="green"))
    _print_notes(console, result.get("notes") or [], limit)
    failed = sum(summary["by_status"].get(s, 0) for s in ("ERROR", "EXCEPTION"))
    if failed:
        console.print(Text(f"{plural(failed, 'row')} failed.", style="bold red"))
    if result.get("dry_run"):
        console.print(Text(dry_run_verdict(summary["by_status"]), style="yellow"))


def _print_skip_groups(
    console: Console, skipped: list[Mapping[str, Any]], limit: int, more: str = "report.html"
) -> None:
    """Skipped rows as one line per resource and reason: ``skipped 72 alert_rules: '…' is …``."""
    groups: dict[tuple, list] = defaultdict(list)
    for row in skipped:
        groups[(str(row.get("resource")), template_of(row.get("reason")))].append(row)
    if not groups:
        return
    console.print(Text(f"Skipped rows ({len(skipped):,}), by reason"))
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    for (resource, reason), members in ranked[:limit]:
        text = reason if len({r.get("reason") for r in members}) > 1 else members[0].get("reason")
        text = redact_obj(str(text or "skipped"))
        _print_line(console, f"  {len(members):>5} {resource}: {text}", "yellow")
    _print_more(console, min(limit, len(groups)), len(groups), more)


def _print_problems(console: Console, rows: list[Mapping[str, Any]]) -> None:
    if console.is_terminal:
        console.print(_problems_table(rows))
        return
    console.print(Text("Rows needing attention"))
    for row in map(redact_row, rows):
        message = row.get("error") or row.get("reason") or ""
        cells = [row["status"], compact(row.get("resource")), node_label(row),
                 _key_text(row).plain, str(message)]  # fmt: skip
        _print_line(console, "  " + "  ".join(c for c in cells if c))


def plural(n: int, word: str) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def dry_run_verdict(by_status: Mapping[str, int]) -> str:
    """What a dry run found, nothing written: ``Dry run: 12 rows would change; nothing …``."""
    n = sum(by_status.get(s, 0) for s in ("PLANNED_CREATE", "PLANNED_UPDATE", "PLANNED_DELETE"))
    change = f"{plural(n, 'row')} would change" if n else "no row would change"
    return f"Dry run: {change}; nothing was written."


def _problems_table(rows: list[Mapping[str, Any]]) -> Table:
    table = Table(title="Rows needing attention", title_justify="left")
    for col in ("resource", "node", "key", "status", "reason / error"):
        table.add_column(col, overflow="fold")
    for row in map(redact_row, rows):
        status = row["status"]
        message = row.get("error") or row.get("reason") or ""
        style = "yellow" if status == "SKIP" else "red"
        cells = (Text(compact(row.get("resource"))), Text(compact(node_label(row))))
        table.add_row(*cells, _key_text(row), Text(status, style), Text(message))
    return table


def _key_text(row: Mapping[str, Any]) -> Text:
    """The row's key; for a row without one (an empty name), where it comes from instead."""
    key = row.get("key")
    if key in (None, "") and row.get("source"):
        return Text(str(row["source"]), style="dim")
    return Text(compact(key))


# --- JSON artifact --------------------------------------------------------------------------


def check_result(result: Mapping[str, Any]) -> None:
    """Raises :class:`DirectorSyncError` unless ``result`` is a ``directorsync/result@1`` dict."""
    schema = result.get("schema") if isinstance(result, Mapping) else None
    if schema != RESULT_SCHEMA:
        raise DirectorSyncError(
            f"not a result: schema is {schema!r}, expected {RESULT_SCHEMA!r}. "
            "Pass the dict the apply engine returns (a plan is not a result).",
            schema=schema,
        )


def write_result_json(result: Mapping[str, Any], path: str | Path) -> Path:
    """Writes the versioned JSON artifact (compact UTF-8; datetimes in ISO 8601, NaN as null).

    The ``summary`` is computed from the rows when the result has none. Secrets are masked
    (:func:`redact_result`): tokens, passwords, secret-like fields, registered secrets.

    Args:
        result: a ``directorsync/result@1`` dict.
        path: the file to write (``reports/<tenant>/<run_id>/result.json``); parents are created.

    Returns:
        The path written.

    Raises:
        DirectorSyncError: ``result`` is not a ``directorsync/result@1`` dict.
    """
    check_result(result)
    if not result.get("summary"):
        result = {**result, "summary": summarize(result.get("rows") or [])}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh, collector_paused():  # as many row texts as rows, no cycles
        fh.writelines(_masked_json(result))
    return path


def _masked_json(result: Mapping[str, Any], chunk: int = 2048) -> Iterator[bytes]:
    """The JSON text of :func:`redact_result` of ``result``, piece by piece.

    Rows go by chunks; a chunk whose JSON text shows nothing to mask is written as it is.
    """
    redactor = Redactor()
    head = jsonio.dumps_lenient(redactor.copy({k: v for k, v in result.items() if k != "rows"}))
    yield head[:-1] + (b',"rows":[' if len(head) > 2 else b'"rows":[')
    rows = result.get("rows") or []
    for start in range(0, len(rows), chunk):
        some = rows[start : start + chunk]
        text = jsonio.dumps_lenient(some)
        if not redactor.surely_clean(text):
            text = b"[" + b",".join(_masked_row(row, redactor) for row in some) + b"]"
        yield (b"," if start else b"") + text[1:-1]
    yield b"]}\n"


def _masked_row(row: Mapping[str, Any], redactor: Redactor) -> bytes:
    text = jsonio.dumps_lenient(row)
    return text if redactor.surely_clean(text) else jsonio.dumps_lenient(redact_row(row, redactor))


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``result.json``, as printed in ``docs/reports.md``.

    Shipped as ``directorsync/data/result.schema.json`` (a validator can point at the file).
    Objects allow extra properties: a reader of ``@1`` ignores fields it does not know.
    """
    return json.loads(_schema_text())  # a fresh copy: callers may mutate it


@cache
def _schema_text() -> str:
    return files("directorsync").joinpath("data/result.schema.json").read_text(encoding="utf-8")

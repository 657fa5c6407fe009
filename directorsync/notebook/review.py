"""Interactive diff review: filter, inspect, select, apply, and approval files.

The logic is in pure functions over the plan's rows, testable without a browser:

* :func:`filter_rows` — rows matching resource / node / action filters and a name search;
* :func:`row_changes` — a row's field-level before → after;
* :func:`make_approval`, :func:`save_approval`, :func:`load_approval` — an approval file
  (``directorsync/approval@1``) bound to the plan's hash, turned back into row indices.

:class:`DiffReview` is the thin ipywidgets glue around them (JupyterLab)::

    review = DiffReview(plan, session)
    review            # filters, a paginated row list with checkboxes, details, apply, approval

Row indices are always positions in ``plan.rows`` (what ``Session.apply(selection=…)`` takes).
"""

from __future__ import annotations

import datetime as dt
import getpass
import html
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from directorsync.errors import PlanError
from directorsync.plan import Plan
from directorsync.report.console import compact

APPROVAL_SCHEMA = "directorsync/approval@1"
#: actions whose rows are sent by apply (the only rows that can be selected or approved)
CHANGING = ("create", "update")
IDENTITY = ("resource", "node_id", "key")
ApplyFn = Callable[..., dict[str, Any]]


# --- pure functions ---------------------------------------------------------------------------


def filter_rows(
    rows: pd.DataFrame,
    resources: Iterable[str] | None = None,
    nodes: Iterable[str] | None = None,
    actions: Iterable[str] | None = None,
    search: str = "",
) -> pd.DataFrame:
    """The plan rows matching every given filter (an empty filter matches everything).

    Args:
        rows: ``plan.rows`` (RangeIndex: the index is the row's position).
        resources: resource names to keep.
        nodes: node names or ids to keep.
        actions: actions to keep (``create``, ``update``, ``unchanged``, ``skip``, ``error``).
        search: case-insensitive substring of the row's key (the object's name).

    Returns:
        A view of the matching rows with their original index (positions in ``plan.rows``).
    """
    mask = pd.Series(True, index=rows.index)
    if resources:
        mask &= rows["resource"].isin(list(resources))
    if nodes:
        wanted = list(nodes)
        mask &= rows["node_name"].isin(wanted) | rows["node_id"].isin(wanted)
    if actions:
        mask &= rows["action"].isin(list(actions))
    if search and search.strip():
        keys = rows["key"].astype(str)
        mask &= keys.str.contains(search.strip(), case=False, regex=False, na=False)
    return rows[mask]


def changeable(rows: pd.DataFrame) -> list[int]:
    """Indices of the rows apply would send (``create``/``update``)."""
    return [int(i) for i in rows.index[rows["action"].isin(CHANGING)]]


def page_of(rows: pd.DataFrame, page: int, size: int) -> tuple[pd.DataFrame, int, int]:
    """One page of rows.

    Returns:
        ``(rows of the page, the page number clamped to the valid range, the page count)``.
    """
    pages = max(1, -(-len(rows) // size))
    page = min(max(0, page), pages - 1)
    return rows.iloc[page * size : (page + 1) * size], page, pages


def row_changes(row: Mapping[str, Any] | pd.Series) -> pd.DataFrame:
    """A row's field-level ``before → after`` (``field``, ``before``, ``after``, values as text).

    For an update these are the differing fields; for a create every payload field (nothing
    before); other rows have none.
    """
    changes = row.get("changes")
    if isinstance(changes, list) and changes:
        items = [(c.get("field"), c.get("before"), c.get("after")) for c in changes]
    elif row.get("action") == "create" and isinstance(row.get("payload"), Mapping):
        items = [(k, None, v) for k, v in row["payload"].items()]
    else:
        items = []
    return pd.DataFrame(
        [(str(f), "" if b is None else compact(b), compact(a)) for f, b, a in items],
        columns=["field", "before", "after"],
    )


def _identity(row: Mapping[str, Any] | pd.Series) -> dict[str, str]:
    return {k: str(row[k]) for k in IDENTITY}


def make_approval(
    plan: Plan,
    selection: Iterable[int],
    *,
    approved_by: str | None = None,
    approved_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """The approval value for the selected rows of a plan (``directorsync/approval@1``).

    Args:
        plan: the reviewed plan.
        selection: positions in ``plan.rows``; each must be a ``create``/``update`` row.
        approved_by: who approves (default: the login name).
        approved_at: when (default: now, UTC).

    Raises:
        PlanError: a position is out of range or names a row that apply would not send.
    """
    rows = plan.rows.reset_index(drop=True)
    picked = sorted({int(i) for i in selection})
    for i in picked:
        if not 0 <= i < len(rows):
            raise PlanError(f"row {i} is not in the plan (it has {len(rows)} rows)")
        if rows.at[i, "action"] not in CHANGING:
            raise PlanError(
                f"row {i} ({rows.at[i, 'resource']!s} {rows.at[i, 'key']!r}) is "
                f"{rows.at[i, 'action']!s}: only create/update rows can be approved"
            )
    when = approved_at or dt.datetime.now(dt.UTC)
    return {
        "schema": APPROVAL_SCHEMA,
        "plan_hash": plan.hash,
        "tenant": plan.tenant,
        "run_id": plan.run_id,
        "rows": [_identity(rows.iloc[i]) for i in picked],
        "approved_by": approved_by or _login(),
        "approved_at": when.isoformat(timespec="seconds"),
    }


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


def save_approval(approval: Mapping[str, Any], path: str | Path) -> Path:
    """Write an approval file (UTF-8 JSON; parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(approval, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def approved_indices(approval: Mapping[str, Any], plan: Plan) -> list[int]:
    """The positions in ``plan.rows`` an approval value names.

    Raises:
        PlanError: not an approval, bound to another plan (hash), or naming a row the plan does
            not send.
    """
    if approval.get("schema") != APPROVAL_SCHEMA:
        raise PlanError(
            f"not a DirectorSync approval (schema {approval.get('schema')!r}, "
            f"expected {APPROVAL_SCHEMA})"
        )
    if approval.get("plan_hash") != plan.hash:
        raise PlanError(
            "the approval was given for another plan (its plan_hash "
            f"{approval.get('plan_hash')} is not this plan's {plan.hash}); "
            "review the new plan and approve it again"
        )
    rows = plan.rows.reset_index(drop=True)
    changing = rows[rows["action"].isin(CHANGING)]
    index: dict[tuple[str, str, str], list[int]] = {}
    idents = zip(*(changing[k].astype(str) for k in IDENTITY))
    for i, ident in zip(changing.index, idents):
        index.setdefault(tuple(ident), []).append(int(i))
    picked: set[int] = set()
    for entry in approval.get("rows") or []:
        ident = tuple(str(entry.get(k)) for k in IDENTITY)
        found = index.get(ident)
        if not found:
            raise PlanError(
                "the approval names a row the plan does not send: "
                + ", ".join(f"{k}={v}" for k, v in zip(IDENTITY, ident))
            )
        picked.update(found)
    return sorted(picked)


def load_approval(path: str | Path, plan: Plan) -> list[int]:
    """Read an approval file and return the positions in ``plan.rows`` it approves.

    Raises:
        PlanError: unreadable file, or see :func:`approved_indices`.
    """
    path = Path(path)
    try:
        approval = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PlanError(f"cannot read approval {path}: {exc}", file=str(path)) from exc
    if not isinstance(approval, dict):
        raise PlanError(f"approval {path} must hold a JSON object", file=str(path))
    try:
        return approved_indices(approval, plan)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc.message}", file=str(path)) from exc


def row_label(row: Mapping[str, Any] | pd.Series) -> str:
    """One line for the row list: action, resource, node, key and reason (plain text)."""
    reason = f" — {row['reason']}" if isinstance(row.get("reason"), str) and row["reason"] else ""
    return f"{row['action']} · {row['resource']} · {row['node_name']} · {row['key']}{reason}"


def _html_table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A compact left-aligned table; every cell escaped (widget HTML has no stylesheet)."""
    cell = 'style="text-align:left;padding:2px 10px 2px 0;vertical-align:top"'
    th = "".join(f"<th {cell}>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td {cell}>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f'<table style="border-collapse:collapse;margin:4px 0"><tr>{th}</tr>{body}</table>'


def changes_html(row: Mapping[str, Any] | pd.Series) -> str:
    """The detail pane of a row: what, where, why, then field by field before → after."""
    e = html.escape
    reason = f": {e(row['reason'])}" if isinstance(row.get("reason"), str) else ""
    head = (
        f"<b>{e(str(row['resource']))} · {e(str(row['key']))}</b> on {e(str(row['node_name']))}"
        f" — {e(str(row['action']))}{reason}<br><small>{e(str(row.get('source') or ''))}</small>"
    )
    changes = row_changes(row)
    if changes.empty:
        return head + "<p><i>no field changes</i></p>"
    rows = (
        (f, b, "→", a) for f, b, a in zip(changes["field"], changes["before"], changes["after"])
    )
    return head + _html_table(["field", "before", "", "after"], rows)


def results_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """Per-row results of an apply (status, where, Director's error), escaped."""
    cols = ("status", "resource", "node_name", "key", "error")
    values = ([r.get(c) or "" for c in cols] for r in rows)
    return _html_table(["status", "resource", "node", "key", "error"], values)


# --- the widget ---------------------------------------------------------------------------------


class DiffReview:
    """Review a plan in JupyterLab and apply only the selected rows.

    Args:
        plan: the plan to review.
        session: a :class:`~directorsync.session.Session`; "Apply selected" calls its ``apply``.
        apply_fn: instead of ``session.apply``: ``apply_fn(plan, selection=[…], progress=…)``
            returning the ``directorsync/result@1`` dict.
        page_size: rows per page of the list.
        approval_path: where "Save approval" writes (editable in the UI).
    """

    def __init__(
        self,
        plan: Plan,
        session: Any = None,
        *,
        apply_fn: ApplyFn | None = None,
        page_size: int = 20,
        approval_path: str | Path | None = None,
    ) -> None:
        import ipywidgets as w

        self.plan = plan
        self.rows = plan.rows.reset_index(drop=True)
        self.apply_fn = apply_fn or (session.apply if session is not None else None)
        self.page_size = page_size
        self.selected: set[int] = set()
        self.results: dict[int, dict[str, Any]] = {}
        self.filtered = self.rows
        self.page = 0
        self._lock = threading.Lock()
        self._build(w, approval_path)
        self.refresh()

    # glue: widgets ------------------------------------------------------------------------

    def _build(self, w: Any, approval_path: str | Path | None) -> None:
        def multi(label: str, values: Iterable[str]) -> Any:
            options = sorted({str(v) for v in values})
            rows = max(2, min(5, len(options)))
            box = w.SelectMultiple(options=options, description=label, rows=rows)
            box.observe(self._on_filter, names="value")
            return box

        self.resource_filter = multi("resource", self.rows["resource"])
        self.node_filter = multi("node", self.rows["node_name"])
        self.action_filter = multi("action", self.rows["action"])
        self.search = w.Text(placeholder="name contains…", description="search")
        self.search.observe(self._on_filter, names="value")
        size = range(self.page_size)
        self.checks = [w.Checkbox(indent=False, layout=w.Layout(width="auto")) for _ in size]
        self.details = [
            w.Button(icon="search", tooltip="show the field changes", layout=w.Layout(width="36px"))
            for _ in size
        ]
        self.lines = [w.HBox([b, c]) for b, c in zip(self.details, self.checks)]
        for i, (check, button) in enumerate(zip(self.checks, self.details)):
            check.observe(lambda change, i=i: self._on_check(i, change["new"]), names="value")
            button.on_click(lambda _b, i=i: self.show(self._slot_row(i)))
        self.prev_button = w.Button(description="‹ prev")
        self.next_button = w.Button(description="next ›")
        self.prev_button.on_click(lambda _b: self.goto(self.page - 1))
        self.next_button.on_click(lambda _b: self.goto(self.page + 1))
        self.status = w.Label()
        self.all_button = w.Button(description="Select all matching")
        self.none_button = w.Button(description="Select none")
        self.all_button.on_click(lambda _b: self.select_all())
        self.none_button.on_click(lambda _b: self.select_none())
        self.detail = w.HTML()
        self.apply_button = w.Button(description="Apply selected", button_style="warning")
        self.apply_button.on_click(lambda _b: self.apply_selected())
        self.apply_button.disabled = self.apply_fn is None
        self.progress = w.IntProgress(value=0, min=0, max=1, description="applied")
        self.result_html = w.HTML()
        default = approval_path or f"approval-{self.plan.tenant}-{self.plan.hash[7:19]}.json"
        self.approval_path = w.Text(
            value=str(default), description="file", layout=w.Layout(width="32em")
        )
        self.save_button = w.Button(description="Save approval")
        self.save_button.on_click(lambda _b: self.save())
        self.message = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox([self.resource_filter, self.node_filter, self.action_filter]),
                self.search,
                w.HBox([self.prev_button, self.next_button, self.status]),
                w.VBox(self.lines),
                w.HBox([self.all_button, self.none_button]),
                self.detail,
                w.HBox([self.apply_button, self.progress]),
                w.HBox([self.approval_path, self.save_button]),
                self.message,
                self.result_html,
            ]
        )
        self.widget.add_class("directorsync-review")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _slot_row(self, slot: int) -> int | None:
        page, _, _ = page_of(self.filtered, self.page, self.page_size)
        return int(page.index[slot]) if slot < len(page) else None

    def _on_filter(self, _change: Any = None) -> None:
        self.page = 0
        self.refresh()

    def _on_check(self, slot: int, value: bool) -> None:
        if getattr(self, "_painting", False):
            return
        index = self._slot_row(slot)
        if index is None:
            return
        (self.selected.add if value else self.selected.discard)(index)
        self._paint_status()

    # logic the buttons call -------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-apply the filters and redraw the current page."""
        self.filtered = filter_rows(
            self.rows,
            self.resource_filter.value,
            self.node_filter.value,
            self.action_filter.value,
            self.search.value,
        )
        self.goto(self.page)

    def goto(self, page: int) -> None:
        """Show a page of the filtered rows (clamped to the valid range)."""
        rows, self.page, pages = page_of(self.filtered, page, self.page_size)
        self._painting = True
        try:
            for slot, (check, line) in enumerate(zip(self.checks, self.lines)):
                if slot >= len(rows):
                    line.layout.display = "none"
                    continue
                index = int(rows.index[slot])
                row = rows.iloc[slot]
                done = self.results.get(index, {}).get("status")
                line.layout.display = None
                check.value = index in self.selected
                check.disabled = row["action"] not in CHANGING or done in ("CREATED", "UPDATED")
                check.description = (f"[{done}] " if done else "") + row_label(row)
        finally:
            self._painting = False
        self.prev_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1
        self._paint_status(pages)

    def _paint_status(self, pages: int | None = None) -> None:
        pages = pages or page_of(self.filtered, self.page, self.page_size)[2]
        self.status.value = (
            f"page {self.page + 1}/{pages} · {len(self.filtered):,} of {len(self.rows):,} rows · "
            f"{len(self.selected):,} selected"
        )

    def show(self, index: int | None) -> None:
        """Show a row's field-level before → after."""
        if index is not None:
            self.detail.value = changes_html(self.rows.iloc[index])

    def select(self, indices: Iterable[int]) -> None:
        """Add rows to the selection (rows apply would not send are ignored)."""
        allowed = set(changeable(self.rows))
        self.selected |= {int(i) for i in indices} & allowed
        self.goto(self.page)

    def select_all(self) -> None:
        """Select every create/update row matching the filters (every page)."""
        self.select(changeable(self.filtered))

    def select_none(self) -> None:
        """Clear the selection."""
        self.selected.clear()
        self.goto(self.page)

    def save(self) -> Path | None:
        """Write the approval file for the selection; the message says where."""
        try:
            path = save_approval(
                make_approval(self.plan, self.selected), self.approval_path.value.strip()
            )
        except (PlanError, OSError) as exc:
            self.message.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return None
        self.message.value = (
            f"approval for {len(self.selected)} rows saved to <code>{html.escape(str(path))}</code>"
        )
        return path

    def apply_selected(self) -> dict[str, Any] | None:
        """Apply exactly the selected rows, with a progress bar; show per-row results."""
        selection = sorted(self.selected)
        if not selection or self.apply_fn is None:
            self.message.value = "select rows to apply first" if self.apply_fn else "no session"
            return None
        self.apply_button.disabled = True
        self.progress.max, self.progress.value = len(selection), 0
        try:
            result = self.apply_fn(self.plan, selection=selection, progress=self._on_progress)
        except Exception as exc:  # shown to the reviewer, not raised into the UI loop
            self.message.value = (
                f"<span style='color:#b00'>apply failed: {html.escape(str(exc))}</span>"
            )
            return None
        finally:
            self.apply_button.disabled = False
        rows = result.get("rows") or []
        done = {i: rows[i] for i in selection if i < len(rows)}
        self.results.update(done)
        self.selected -= {i for i, r in done.items() if r.get("status") in ("CREATED", "UPDATED")}
        self.progress.value = self.progress.max
        self.result_html.value = results_html(list(done.values()))
        counts = pd.Series([r.get("status") for r in done.values()]).value_counts()
        self.message.value = html.escape(
            "applied: " + ", ".join(f"{n} {s}" for s, n in counts.items())
        )
        self.goto(self.page)
        return result

    def _on_progress(self, done: int, total: int, row: Mapping[str, Any] | None = None) -> None:
        with self._lock:  # apply reports from its worker threads
            self.progress.max = max(1, total)
            self.progress.value = min(done, total)

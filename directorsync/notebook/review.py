"""Interactive diff review in JupyterLab: filter, inspect, select, apply, approve.

:class:`DiffReview` is the ipywidgets glue around the logic of
:mod:`directorsync.notebook.review_rows` and :mod:`directorsync.notebook.approval`::

    review = DiffReview(plan, session)
    review            # filters with counts, a paginated row list with checkboxes, details,
                      # apply (after a confirmation with the counts), approval file

Selecting a row whose dependency another row of the plan creates selects that row too (the
message says which); rows applied by an earlier click count as present on Director. Each apply
writes ``result.json`` and ``report.html`` to a folder of its own when the review has a session
(or ``reports_dir``).

Row indices are always positions in ``plan.rows`` (what ``Session.apply(selection=…)`` takes).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from directorsync.config import new_run_id
from directorsync.errors import PlanError
from directorsync.notebook.approval import CHANGING, make_approval, save_approval
from directorsync.notebook.review_rows import (
    SUCCESS,
    changeable,
    changes_html,
    counts_line,
    describe_rows,
    filter_rows,
    missing_dependencies,
    option_counts,
    page_of,
    results_html,
    row_label,
    with_dependencies,
)
from directorsync.plan import Plan

ApplyFn = Callable[..., dict[str, Any]]


class DiffReview:
    """Review a plan in JupyterLab and apply only the selected rows.

    Args:
        plan: the plan to review.
        session: a :class:`~directorsync.session.Session`; "Apply selected" calls its ``apply``.
        apply_fn: instead of ``session.apply``: ``apply_fn(plan, selection=[…], progress=…,
            present=[…])`` returning the ``directorsync/result@1`` dict (``present``: rows an
            earlier apply of this review created or updated).
        page_size: rows per page of the list.
        approval_path: where "Save approval" writes (editable in the UI).
        reports_dir: where each apply writes ``result.json`` and ``report.html`` (a new folder
            ``<reports_dir>/<run_id>/`` per apply); default with a session: its
            ``reports/<tenant>/<run_id>/``, without one: none.
    """

    def __init__(
        self,
        plan: Plan,
        session: Any = None,
        *,
        apply_fn: ApplyFn | None = None,
        page_size: int = 20,
        approval_path: str | Path | None = None,
        reports_dir: str | Path | None = None,
    ) -> None:
        import ipywidgets as w

        self.plan = plan
        self.session = session
        self.reports_dir = Path(reports_dir) if reports_dir else None
        self.written: list[Path] = []
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
        def multi(label: str, column: str) -> Any:
            options = option_counts(self.rows, column)  # "create 428": a filter shows its counts
            rows = max(2, min(5, len(options)))
            box = w.SelectMultiple(options=options, description=label, rows=rows)
            box.observe(self._on_filter, names="value")
            return box

        self.resource_filter = multi("resource", "resource")
        self.node_filter = multi("node", "node_name")
        self.action_filter = multi("action", "action")
        self.counts = w.Label()
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
        self.question = w.HTML()
        self.confirm_button = w.Button(description="Yes, apply", button_style="danger")
        self.cancel_button = w.Button(description="Cancel")
        self.confirm_button.on_click(lambda _b: self.apply_selected(confirmed=True))
        self.cancel_button.on_click(lambda _b: self._ask(None))
        self.confirm = w.HBox([self.question, self.confirm_button, self.cancel_button])
        self.confirm.layout.display = "none"
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
                self.counts,
                w.HBox([self.prev_button, self.next_button, self.status]),
                w.VBox(self.lines),
                w.HBox([self.all_button, self.none_button]),
                self.detail,
                w.HBox([self.apply_button, self.progress]),
                self.confirm,
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
        if value:
            self.select([index])
        else:
            self.selected.discard(index)
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
        hidden = len(self.selected - set(self.filtered.index.tolist()))
        hidden_text = f" ({hidden:,} hidden by the filters)" if hidden else ""
        self.status.value = (
            f"page {self.page + 1}/{pages} · {len(self.filtered):,} of {len(self.rows):,} rows · "
            f"{len(self.selected):,} selected{hidden_text}"
        )
        self.counts.value = counts_line(self.filtered)

    @property
    def present(self) -> set[int]:
        """Rows an earlier apply of this review created or updated (on Director now)."""
        return {i for i, r in self.results.items() if r.get("status") in SUCCESS}

    def show(self, index: int | None) -> None:
        """Show a row's field-level before → after."""
        if index is not None:
            self.detail.value = changes_html(self.rows.iloc[index])

    def select(self, indices: Iterable[int]) -> None:
        """Add rows to the selection, with the rows they depend on (the message says which).

        Rows apply would not send, and rows already applied, are ignored.
        """
        allowed = set(changeable(self.rows)) - self.present
        wanted = self.selected | ({int(i) for i in indices} & allowed)
        self.selected, added = with_dependencies(self.rows, wanted, self.present)
        if added:
            self.message.value = html.escape(
                f"also selected {len(added)} row(s) the selection depends on: "
                + describe_rows(self.rows, added)
            )
        self.goto(self.page)

    def select_all(self) -> None:
        """Select every create/update row matching the filters (every page)."""
        self.select(changeable(self.filtered))

    def select_none(self) -> None:
        """Clear the selection."""
        self.selected.clear()
        self.goto(self.page)

    def save(self) -> Path | None:
        """Write the approval file for the selection; the message says where.

        An empty selection writes nothing and says so.
        """
        if not self.selected:
            self.message.value = (
                "<span style='color:#b36b00'>nothing is selected: no approval file written "
                "(select the rows to approve first)</span>"
            )
            return None
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

    def _ask(self, question: str | None) -> None:
        self.question.value = html.escape(question or "")
        self.confirm.layout.display = None if question else "none"

    def question_text(self) -> str:
        """``Apply 12 changes to tenant core (10 create, 2 update)?`` plus what will be skipped."""
        chosen = self.rows.loc[sorted(self.selected)]
        counts = chosen["action"].value_counts()
        parts = ", ".join(f"{counts[a]:,} {a}" for a in CHANGING if a in counts)
        text = f"Apply {len(chosen):,} changes to tenant {self.plan.tenant} ({parts})?"
        blocked = missing_dependencies(self.rows, self.selected, self.present)
        if blocked:
            text += (
                f" {len(blocked):,} selected row(s) depend on rows not selected and will be "
                "skipped."
            )
        return text

    def apply_selected(self, *, confirmed: bool = False) -> dict[str, Any] | None:
        """Apply exactly the selected rows once confirmed; show the outcome.

        The first call asks (the question names the counts); ``confirmed=True`` (the "Yes,
        apply" button) applies, with a progress bar, and writes the reports.
        """
        selection = sorted(self.selected)
        if not selection or self.apply_fn is None:
            self.message.value = "select rows to apply first" if self.apply_fn else "no session"
            return None
        if not confirmed:
            self._ask(self.question_text())
            return None
        self._ask(None)
        self.apply_button.disabled = True
        self.progress.max, self.progress.value = len(selection), 0
        try:
            result = self.apply_fn(
                self.plan,
                selection=selection,
                progress=self._on_progress,
                present=sorted(self.present),
            )
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
        written = self._write_reports(result)
        self.message.value = html.escape(
            "applied: "
            + ", ".join(f"{n} {s}" for s, n in counts.items())
            + (f" · reports: {written}" if written else "")
        )
        self.goto(self.page)
        return result

    def _write_reports(self, result: Mapping[str, Any]) -> Path | None:
        """``result.json`` and ``report.html`` of one apply, in a folder of its own."""
        from directorsync.report.console import write_result_json
        from directorsync.report.customer import write_html

        run_id = new_run_id()
        if self.reports_dir is not None:
            folder = self.reports_dir / run_id
        elif self.session is not None:
            folder = self.session.result_dir(self.plan.tenant, run_id)
        else:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        write_result_json(result, folder / "result.json")
        write_html(result, folder / "report.html")
        self.written.append(folder)
        return folder

    def _on_progress(self, done: int, total: int, row: Mapping[str, Any] | None = None) -> None:
        with self._lock:  # apply reports from its worker threads
            self.progress.max = max(1, total)
            self.progress.value = min(done, total)

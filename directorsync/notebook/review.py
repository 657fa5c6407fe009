"""Interactive diff review in JupyterLab: filter, inspect, select, apply, approve.

:class:`DiffReview` is the ipywidgets glue around the logic of
:mod:`directorsync.notebook.review_rows` and :mod:`directorsync.notebook.approval`::

    review = DiffReview(plan, session)
    review            # filters with counts, a data grid (sort, filter, select rows with
                      # click / shift-click), details, apply (after a confirmation with the
                      # counts), approval file

The grid is ipydatagrid's streaming grid (:mod:`directorsync.notebook.review_grid`): the browser
only receives the rows it draws, so a 300,000-row plan opens in well under a second.

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

import numpy as np
import pandas as pd

from directorsync.config import new_run_id
from directorsync.errors import DirectorSyncError, PlanError
from directorsync.notebook.approval import CHANGING, make_approval, save_approval
from directorsync.notebook.ledger_run import apply_recorded, write_reports
from directorsync.notebook.review_rows import (
    SUCCESS,
    changeable,
    changes_html,
    clicked_row,
    counts_line,
    describe_rows,
    filter_rows,
    grid_frame,
    missing_dependencies,
    option_counts,
    positions_of,
    results_html,
    with_dependencies,
)
from directorsync.plan import Plan
from directorsync.report.annotate import annotate_into, link_from

ApplyFn = Callable[..., dict[str, Any]]


class DiffReview:
    """Review a plan in JupyterLab and apply only the selected rows.

    Args:
        plan: the plan to review.
        session: a :class:`~directorsync.session.Session`; "Apply selected" calls its ``apply``.
        apply_fn: instead of ``session.apply``: ``apply_fn(plan, selection=[…], progress=…,
            present=[…])`` returning the ``directorsync/result@1`` dict (``present``: rows an
            earlier apply of this review created or updated).
        page_size: rows the grid shows at once (its height).
        approval_path: where "Save approval" writes (editable in the UI).
        reports_dir: where each apply writes ``result.json`` and ``report.html`` (a new folder
            ``<reports_dir>/<run_id>/`` per apply); default with a session: its
            ``reports/<tenant>/<run_id>/``, without one: none.
        workbook: the workbook the plan read, for "Annotated workbook" (default: the plan's
            ``workbook``, which names the file only: found when it is in the working folder).
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
        workbook: str | Path | None = None,
    ) -> None:
        import ipywidgets as w

        self.plan = plan
        self.session = session
        self.reports_dir = Path(reports_dir) if reports_dir else None
        self.workbook = Path(workbook or plan.workbook)
        self.written: list[Path] = []
        self.rows = plan.rows.reset_index(drop=True)
        self.apply_fn = apply_fn or (self._apply_recorded if session is not None else None)
        self._recorded: Path | None = None  # the folder the last recorded apply wrote
        self.annotated: Path | None = None  # the annotated workbook, once written
        self.page_size = page_size
        self.selected: set[int] = set()
        self.results: dict[int, dict[str, Any]] = {}
        self.filtered = self.rows
        self.all_rows = grid_frame(self.rows)
        self._lock = threading.Lock()
        self._painting = False
        self._anchor = 0
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
        from directorsync.notebook.review_grid import ROW_HEIGHT, PlanGrid

        height = (min(self.page_size, max(1, len(self.rows))) + 1) * ROW_HEIGHT + 24
        self.grid = PlanGrid(self.all_rows.copy(), layout=w.Layout(height=f"{height}px"))
        self.grid.observe(self._on_grid_selection, names="selections")
        self.grid.observe(self._on_grid_view, names="_transforms")
        self.grid.on_cell_click(self.on_grid_click)
        self.status = w.Label()
        self.all_button = w.Button(description="Select all matching")
        self.none_button = w.Button(description="Select none")
        self.all_button.on_click(lambda _b: self.select_all())
        self.none_button.on_click(lambda _b: self.select_none())
        self.detail = w.HTML()
        self.detail.add_class("directorsync-detail")
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
        # named by the run, not the plan's hash: hashing a 300,000-row plan takes seconds
        default = approval_path or f"approval-{self.plan.tenant}-{self.plan.run_id}.json"
        self.approval_path = w.Text(
            value=str(default), description="file", layout=w.Layout(width="32em")
        )
        self.save_button = w.Button(description="Save approval")
        self.save_button.on_click(lambda _b: self.save())
        self.annotate_button = w.Button(description="Annotated workbook")
        self.annotate_button.on_click(lambda _b: self.write_annotated())
        self.annotate_button.disabled = len(self.plan.findings) == 0
        self.message = w.HTML()
        self.widget = w.VBox(
            [
                w.HBox([self.resource_filter, self.node_filter, self.action_filter]),
                self.search,
                self.counts,
                self.status,
                self.grid,
                w.HBox([self.all_button, self.none_button]),
                self.detail,
                w.HBox([self.apply_button, self.progress]),
                self.confirm,
                w.HBox([self.approval_path, self.save_button, self.annotate_button]),
                self.message,
                self.result_html,
            ]
        )
        self.widget.add_class("directorsync-review")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_filter(self, _change: Any = None) -> None:
        self.refresh()

    def _on_grid_selection(self, change: Mapping[str, Any]) -> None:
        """The grid's selection changed: it decides for the rows it shows.

        An empty selection (the grid clears it when it re-sorts) changes nothing; rows hidden
        by the filters keep their state.
        """
        if self._painting or not change["new"]:
            return
        visible = self.grid.visible()
        chosen = positions_of(change["new"], visible)
        self.selected -= set(visible.tolist())
        self.select(chosen, mark=None)  # re-marking under the user's mouse: only if needed
        self._anchor = clicked_row(change["new"][-1], self._anchor)
        self.on_grid_click({"region": "body", "row": self._anchor})

    def _on_grid_view(self, _change: Any = None) -> None:
        """The grid was sorted or filtered: re-mark the selection, recount."""
        self._mark()
        self._paint_status()

    def on_grid_click(self, cell: Mapping[str, Any]) -> None:
        """A click on a grid cell: show that row's before → after.

        The streaming grid reports no cell clicks (ipydatagrid 1.4), so a selection change
        shows the row just clicked: the single row, or the far end of a shift-click range.
        """
        if cell.get("region") == "body":
            visible = self.grid.visible()
            row = int(cell["row"])
            if 0 <= row < len(visible):
                self.show(int(visible[row]))

    def _mark(self) -> None:
        self._painting = True
        try:
            self.grid.mark(self.selected)
        finally:
            self._painting = False

    # logic the buttons call -------------------------------------------------------------------

    def refresh(self) -> None:
        """Re-apply the filters: the grid shows the matching rows (its own sort kept)."""
        self.filtered = filter_rows(
            self.rows,
            self.resource_filter.value,
            self.node_filter.value,
            self.action_filter.value,
            self.search.value,
        )
        self._painting = True
        try:
            every = len(self.filtered) == len(self.rows)
            self.grid.show(
                (self.all_rows if every else self.all_rows.loc[self.filtered.index]).copy()
            )
        finally:
            self._painting = False
        self._mark()
        self._paint_status()

    def _paint_status(self) -> None:
        visible = self.grid.visible()
        shown = np.isin(np.fromiter(self.selected, dtype=np.int64), visible)
        hidden = int((~shown).sum())
        hidden_text = f" ({hidden:,} hidden by the filters)" if hidden else ""
        self.status.value = (
            f"{len(visible):,} of {len(self.rows):,} rows shown · "
            f"{len(self.selected):,} selected{hidden_text}"
        )
        self.counts.value = counts_line(self.grid.shown())

    @property
    def present(self) -> set[int]:
        """Rows an earlier apply of this review created or updated (on Director now)."""
        return {i for i, r in self.results.items() if r.get("status") in SUCCESS}

    def show(self, index: int | None) -> None:
        """Show a row's field-level before → after."""
        if index is not None:
            self.detail.value = changes_html(self.rows.iloc[index])

    def select(self, indices: Iterable[int], *, mark: bool | None = True) -> None:
        """Add rows to the selection, with the rows they depend on (the message says which).

        Rows apply would not send, and rows already applied, are ignored. ``mark``: highlight
        the selection in the grid (``None``: only if dependencies were added).
        """
        allowed = set(changeable(self.rows)) - self.present
        wanted = self.selected | ({int(i) for i in indices} & allowed)
        self.selected, added = with_dependencies(self.rows, wanted, self.present)
        if added:
            self.message.value = html.escape(
                f"also selected {len(added)} row(s) the selection depends on: "
                + describe_rows(self.rows, added)
            )
        if mark or added:
            self._mark()
        self._paint_status()

    def select_all(self) -> None:
        """Select every create/update row the filters and the grid show."""
        self.select(changeable(self.rows.loc[self.grid.visible()]))

    def select_none(self) -> None:
        """Clear the selection."""
        self.selected.clear()
        self._mark()
        self._paint_status()

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

    def write_annotated(self) -> Path | None:
        """Write the annotated workbook (each finding on its cell); the message links it.

        It goes to the plan's report folder (``reports/<tenant>/<plan run id>/annotated.xlsx``,
        or under ``reports_dir``), and the reports of later applies link it.
        """
        folder = self._folder(self.plan.run_id)
        if folder is None:
            self.message.value = "no session and no reports_dir: nowhere to write"
            return None
        try:
            written = annotate_into(self.workbook, self.plan.findings_records(), folder)
        except DirectorSyncError as exc:
            self.message.value = f"<span style='color:#b00'>{html.escape(str(exc))}</span>"
            return None
        if written is None:
            self.message.value = "no finding: the workbook needs no annotation"
            return None
        self.annotated = written
        href = html.escape(link_from(written, Path.cwd()), quote=True)
        self.message.value = (
            f"annotated workbook: <a href='{href}' target='_blank'>"
            f"{html.escape(str(written))}</a> (each finding on its cell; fix them, plan again)"
        )
        return written

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
        statuses = {i: str(r.get("status")) for i, r in self.results.items()}
        self.all_rows["result"] = pd.Series(statuses, dtype=object).reindex(
            self.all_rows.index, fill_value=""
        )
        self.refresh()
        return result

    def _folder(self, run_id: str) -> Path | None:
        """The report folder of one apply (None: no session and no ``reports_dir``)."""
        if self.reports_dir is not None:
            return self.reports_dir / run_id
        if self.session is not None:
            return Path(self.session.result_dir(self.plan.tenant, run_id))
        return None

    def _apply_recorded(self, plan: Plan, **options: Any) -> dict[str, Any]:
        """The session's apply as a run of the run ledger, reports included (like the CLI)."""
        run_id = new_run_id()
        folder = self._folder(run_id)
        assert folder is not None  # a session is there: this is its apply
        result = apply_recorded(
            self.session, plan, run_id=run_id, folder=folder, annotated=self.annotated, **options
        )
        self._recorded = folder
        return result

    def _write_reports(self, result: Mapping[str, Any]) -> Path | None:
        """``result.json`` and ``report.html`` of one apply, in a folder of its own."""
        folder, self._recorded = self._recorded, None
        if folder is None:  # an apply_fn of the caller's: not a run of the ledger
            folder = self._folder(new_run_id())
            if folder is None:
                return None
            write_reports(result, folder)
        self.written.append(folder)
        return folder

    def _on_progress(self, done: int, total: int, row: Mapping[str, Any] | None = None) -> None:
        with self._lock:  # apply reports from its worker threads
            self.progress.max = max(1, total)
            self.progress.value = min(done, total)

"""The review's logic over a plan's rows, without widgets (tested without a browser).

* :func:`filter_rows`, :func:`option_counts`, :func:`counts_line` — filters and their counts;
* :func:`row_changes`, :func:`changes_html` — a row's field-level before → after;
* :func:`missing_dependencies`, :func:`with_dependencies` — the rows a selection needs: a
  selected row whose dependency is created by another row of the plan needs that row too, unless
  it was applied already (an earlier apply from the same review);
* :func:`results_html` — per-row outcomes of an apply (the rows that did not succeed);
* :func:`grid_frame`, :func:`positions_of`, :func:`rectangles_of`, :func:`action_colour_expr` —
  what the data grid shows, and its selected rectangles (visible-row coordinates, after the
  grid's own sort and filters) as plan positions and back.

Row indices are always positions in ``plan.rows`` (what ``Session.apply(selection=…)`` takes).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from directorsync.notebook.approval import CHANGING
from directorsync.report.console import compact

#: rows listed under an apply's outcome (the others are counted)
RESULTS_SHOWN = 50
SUCCESS = ("CREATED", "UPDATED")


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
    """Indices of the rows apply would send (``delete``/``create``/``update``)."""
    return [int(i) for i in rows.index[rows["action"].isin(CHANGING)]]


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


#: background of the before / after cells of the detail pane
BEFORE_COLOUR, AFTER_COLOUR = "#fde2e1", "#e3f4e8"


def _html_table(
    head: Sequence[str], rows: Iterable[Sequence[Any]], colours: Sequence[str] = ()
) -> str:
    """A compact left-aligned table; every cell escaped (widget HTML has no stylesheet).

    ``colours`` gives a background per column (``""``: none).
    """
    base = "text-align:left;padding:2px 10px 2px 0;vertical-align:top"
    th = "".join(f'<th style="{base}">{html.escape(h)}</th>' for h in head)
    styles = [f"{base};background:{c}" if c else base for c in colours] or [base] * len(head)
    body = "".join(
        "<tr>"
        + "".join(f'<td style="{st}">{html.escape(str(v))}</td>' for st, v in zip(styles, row))
        + "</tr>"
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
    drift = row.get("drift")
    if isinstance(drift, str):
        head += f"<br><small>drift: <b>{e(drift)}</b></small>"
    changes = row_changes(row)
    if changes.empty:
        return head + "<p><i>no field changes</i></p>"
    classes = [c.get("drift") or "" for c in row.get("changes") or []] or [""] * len(changes)
    if len(classes) != len(changes) or not any(classes):
        rows = (
            (f, b, "→", a) for f, b, a in zip(changes["field"], changes["before"], changes["after"])
        )
        colours = ("", BEFORE_COLOUR, "", AFTER_COLOUR)
        return head + _html_table(["field", "before", "", "after"], rows, colours)
    marked = zip(
        changes["field"], changes["before"], ["→"] * len(changes), changes["after"], classes
    )
    shades = ("", BEFORE_COLOUR, "", AFTER_COLOUR, "")
    return head + _html_table(["field", "before", "", "after", "drift"], marked, shades)


def results_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """An apply's outcome: counts per status, then the rows that did not succeed (escaped).

    At most :data:`RESULTS_SHOWN` rows are listed (the report and ``result.json`` hold all).
    """
    counts = pd.Series([str(r.get("status")) for r in rows], dtype=object).value_counts()
    line = html.escape(" · ".join(f"{s} {n:,}" for s, n in counts.items()))
    failed = [r for r in rows if r.get("status") not in SUCCESS]
    if not failed:
        return f"<p>{line}</p>"
    cols = ("status", "resource", "node_name", "key", "error")
    values = ([r.get(c) or "" for c in cols] for r in failed[:RESULTS_SHOWN])
    more = len(failed) - RESULTS_SHOWN
    tail = f"<p>… and {more:,} more rows (see the report)</p>" if more > 0 else ""
    return (
        f"<p>{line}</p>"
        + _html_table(["status", "resource", "node", "key", "error"], values)
        + tail
    )


def option_counts(rows: pd.DataFrame, column: str) -> list[tuple[str, str]]:
    """``(label, value)`` options of a filter, each label with its row count (``create 428``)."""
    counts = rows[column].astype(str).value_counts()
    return [(f"{value} {counts[value]:,}", value) for value in sorted(counts.index)]


def counts_line(rows: pd.DataFrame, column: str = "action") -> str:
    """``create 428 · update 10 · skip 80`` for the given rows (in the order of first sight)."""
    counts = rows[column].astype(str).value_counts(sort=False)
    return " · ".join(f"{value} {n:,}" for value, n in counts.items()) or "no rows"


def _create_index(rows: pd.DataFrame) -> dict[tuple[str, str, str], int]:
    mask = (rows["action"] == "create").to_numpy()
    if not mask.any():
        return {}
    columns = (rows[c].to_numpy(dtype=object)[mask] for c in ("resource", "node_id", "key"))
    positions = rows.index.to_numpy()[mask]
    return {
        (str(r), str(n), str(k)): int(i) for r, n, k, i in zip(*columns, positions, strict=True)
    }


def missing_dependencies(
    rows: pd.DataFrame, selection: Iterable[int], present: Iterable[int] = ()
) -> dict[int, list[int]]:
    """Per selected row, the plan's create rows it needs that are neither selected nor present.

    Args:
        rows: ``plan.rows`` (RangeIndex).
        selection: positions selected for the next apply.
        present: positions already applied (their objects are on Director now).

    Returns:
        ``{selected position: [positions of the create rows it depends on, transitively]}``
        for the selected rows that need one; a dependency that no row of the plan creates is on
        Director already and never listed.
    """
    creates = _create_index(rows)
    chosen, done = set(selection), set(present)
    depends = rows["depends_on"].to_numpy(dtype=object)
    nodes = rows["node_id"].astype(str).to_numpy(dtype=object)
    out: dict[int, list[int]] = {}
    for start in sorted(chosen):
        needed: list[int] = []
        stack, seen = [start], {start}
        while stack:
            i = stack.pop()
            for dep in depends[i] or ():
                resource, _, key = str(dep).partition(":")
                j = creates.get((resource, nodes[i], key))
                if j is None or j in seen:
                    continue
                seen.add(j)
                stack.append(j)
                if j not in chosen and j not in done:
                    needed.append(j)
        if needed:
            out[start] = sorted(needed)
    return out


def with_dependencies(
    rows: pd.DataFrame, selection: Iterable[int], present: Iterable[int] = ()
) -> tuple[set[int], list[int]]:
    """The selection plus the create rows it needs; ``(new selection, rows added)``."""
    chosen = set(selection)
    added = sorted(
        {j for needs in missing_dependencies(rows, chosen, present).values() for j in needs}
    )
    return chosen | set(added), added


def describe_rows(rows: pd.DataFrame, indices: Sequence[int], limit: int = 5) -> str:
    """``device_groups 'web' on backend01, …`` for a few rows (``and 3 more``)."""
    names = [
        f"{rows.at[i, 'resource']!s} {rows.at[i, 'key']!r} on {rows.at[i, 'node_name']!s}"
        for i in indices[:limit]
    ]
    more = f" and {len(indices) - limit} more" if len(indices) > limit else ""
    return ", ".join(names) + more


#: the grid's columns (besides the plan position, its row header)
GRID_COLUMNS = (
    "resource", "node", "key", "action", "changed fields", "reason", "result", "drift"
)  # fmt: skip
#: row background per action in the grid (pale, so the text stays readable)
ACTION_COLOURS = {
    "delete": "#f5b7b1",  # deletes stand out (and come first in the plan)
    "create": "#e3f4e8",
    "update": "#fff3cd",
    "unchanged": "#ffffff",
    "skip": "#eeeeee",
    "error": "#fde2e1",
}


def _changed_fields(rows: pd.DataFrame) -> pd.Series:
    """``retention, name`` for updates, ``(new)`` for creates, empty otherwise."""
    out = pd.Series("", index=rows.index, dtype=object)
    out[rows["action"].to_numpy() == "create"] = "(new)"
    listed = {
        i: ", ".join(str(c.get("field")) for c in changes if isinstance(c, Mapping))
        for i, changes in zip(rows.index, rows["changes"])
        if isinstance(changes, list) and changes
    }
    if listed:
        out.update(pd.Series(listed, dtype=object))
    return out


def grid_frame(rows: pd.DataFrame, results: Mapping[int, str] | None = None) -> pd.DataFrame:
    """The grid's table: one line per plan row, all text, index = position in ``plan.rows``.

    Args:
        rows: plan rows (their index is their position in ``plan.rows``).
        results: status of the rows an apply of this review reached (shown in ``result``).

    Returns:
        Columns :data:`GRID_COLUMNS`; the index is named ``row``.
    """
    text = {
        "resource": rows["resource"].astype(str),
        "node": rows["node_name"].fillna(rows["node_id"]).astype(str),
        "key": rows["key"].astype(str),
        "action": rows["action"].astype(str),
        "changed fields": _changed_fields(rows),
        "reason": rows["reason"].fillna("").astype(str),
    }
    frame = pd.DataFrame(text, index=rows.index)
    done = pd.Series(results or {}, dtype=object)
    frame["result"] = done.reindex(rows.index, fill_value="") if len(done) else ""
    drift = rows["drift"] if "drift" in rows else pd.Series(None, index=rows.index, dtype=object)
    frame["drift"] = drift.where(drift.map(lambda v: isinstance(v, str)), "").astype(str)
    frame.index = pd.Index(rows.index.to_numpy(), name="row")
    return frame


def positions_of(
    selections: Iterable[Mapping[str, int]], visible: Sequence[int] | np.ndarray
) -> list[int]:
    """Plan positions of the grid's selected rectangles.

    Args:
        selections: the grid's ``selections`` (``{"r1", "r2", "c1", "c2"}``, rows counted in
            the grid's current view: after its own sort and filters).
        visible: the plan position of each view row, in view order.

    Returns:
        The selected positions, sorted (rows outside the view are ignored).
    """
    chosen: set[int] = set()
    for rect in selections:
        low, high = sorted((int(rect["r1"]), int(rect["r2"])))
        chosen.update(int(p) for p in visible[max(0, low) : high + 1])
    return sorted(chosen)


def rectangles_of(
    positions: Iterable[int], visible: Sequence[int], columns: int
) -> list[dict[str, int]]:
    """The grid rectangles (whole rows, runs of adjacent view rows) showing ``positions``."""
    wanted = set(positions)
    rows = [n for n, p in enumerate(visible) if int(p) in wanted]
    rects: list[dict[str, int]] = []
    for n in rows:
        if rects and rects[-1]["r2"] == n - 1:
            rects[-1]["r2"] = n
        else:
            rects.append({"r1": n, "r2": n, "c1": 0, "c2": columns - 1})
    return rects


def action_colour_expr(column: str = "action") -> str:
    """A Vega expression giving a cell the background of its row's action."""
    expr = "'#ffffff'"
    for action, colour in reversed(ACTION_COLOURS.items()):
        expr = f"cell.metadata.data['{column}'] == '{action}' ? '{colour}' : {expr}"
    return expr


def clicked_row(rect: Mapping[str, int], anchor: int) -> int:
    """The view row just clicked, from the grid's newest selected rectangle.

    A click selects one row (that row); a shift-click extends from the previous click (the
    anchor) to the row clicked: the end of the range that is not the anchor.
    """
    low, high = sorted((int(rect["r1"]), int(rect["r2"])))
    if low == high:
        return low
    return low if high == anchor else high

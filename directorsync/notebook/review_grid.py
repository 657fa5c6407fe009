"""The review's data grid: ipydatagrid's streaming grid over a plan's rows.

The kernel keeps the table; the browser asks for the rows it draws (a 300,000-row plan opens as
fast as a 30-row one). Sorting and filtering from the column header menus run in pandas in the
kernel; :meth:`PlanGrid.visible` gives the plan position of each row the grid shows, in order, so
the grid's selected rectangles (counted in visible rows) map to plan positions
(:func:`~directorsync.notebook.review_rows.positions_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from ipydatagrid import StreamingDataGrid, TextRenderer, VegaExpr

from directorsync.notebook.review_rows import GRID_COLUMNS, action_colour_expr, rectangles_of

#: pixel height of a grid row (the browser test computes click positions from it)
ROW_HEIGHT = 24
HEADER_HEIGHT = ROW_HEIGHT + 4
COLUMN_WIDTHS = {  # all fit in a JupyterLab notebook (960 px) without scrolling sideways
    "row": 56,
    "resource": 120,
    "node": 110,
    "key": 210,
    "action": 70,
    "changed fields": 130,
    "reason": 170,
    "result": 90,
    "drift": 120,
}


class PlanGrid(StreamingDataGrid):
    """A streaming data grid over :func:`~directorsync.notebook.review_rows.grid_frame`.

    Row selection (click, shift-click for a range, ctrl-click to add), header menus to sort and
    filter each column, rows coloured by action.
    """

    def __init__(self, frame: pd.DataFrame, **kwargs: Any) -> None:
        self.frame = frame
        super().__init__(
            frame,
            selection_mode="row",
            base_row_size=ROW_HEIGHT,
            base_column_header_size=HEADER_HEIGHT,
            base_row_header_size=COLUMN_WIDTHS["row"],
            column_widths=COLUMN_WIDTHS,
            default_renderer=TextRenderer(background_color=VegaExpr(action_colour_expr())),
            **kwargs,
        )
        # ipydatagrid 1.4: DataGrid's message handler reads content["event_type"], which the
        # streaming grid's data requests lack, so every scroll logged a KeyError traceback in
        # the kernel. Hand it only the messages that carry an event type.
        events = self._DataGrid__handle_custom_msg
        self.on_msg(events, remove=True)
        self.on_msg(lambda grid, content, buffers: _events_only(events, grid, content, buffers))

    def shown(self) -> pd.DataFrame:
        """The rows the grid shows, in its order (after its own sort and filters)."""
        shown = self._transformed_data
        return self.frame if shown is None else shown

    def visible(self) -> np.ndarray:
        """Plan positions of the rows the grid shows, in the grid's order."""
        return self.shown().index.to_numpy()

    def show(self, frame: pd.DataFrame) -> None:
        """Show another table (new filters or results), keeping the grid's sort and filters."""
        self.frame = frame
        self.data = frame
        self._on_transforms_changed({"new": self._transforms})

    def mark(self, positions: Iterable[int]) -> None:
        """Highlight exactly these rows (those the grid shows) as its selection."""
        self.selections = rectangles_of(positions, self.visible().tolist(), len(GRID_COLUMNS))


def _events_only(handler: Any, grid: Any, content: dict[str, Any], buffers: Any) -> None:
    if "event_type" in content:
        handler(grid, content, buffers)

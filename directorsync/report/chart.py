"""The report's chart: rows per resource and status, drawn by matplotlib as inline SVG.

The SVG is made to sit inside the report's HTML as it is: no XML prolog, no metadata, no
namespace URL, no clip path (no ``url(…)`` reference), text kept as text (searchable, selectable,
printed sharp). The page stays one offline file with no script.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping, Sequence

from directorsync.report.blocks import LABELS

#: bar colours per status, as in the stylesheet (data/report.css)
COLOURS = {
    "DELETED": "#c21f30",
    "PLANNED_DELETE": "#e58a95",
    "CREATED": "#1a7f37",
    "UPDATED": "#0b5cad",
    "PLANNED_CREATE": "#7cc690",
    "PLANNED_UPDATE": "#7fb1e3",
    "UNCHANGED": "#b7c1cc",
    "SKIP": "#e0a526",
    "ERROR": "#c21f30",
    "EXCEPTION": "#7a1320",
}
_DROP = [
    re.compile(p, re.S)
    for p in (
        r"<\?xml.*?\?>\s*",
        r"<!DOCTYPE.*?>\s*",
        r"<metadata>.*?</metadata>\s*",
        r'\s+xmlns(:xlink)?="[^"]*"',
        r'\s+clip-path="[^"]*"',
        r"<clipPath\b.*?</clipPath>\s*",
        r"<style\b.*?</style>\s*",  # matplotlib's "*{…}" would reach the whole page
    )
]


def _label(text: str) -> str:
    """Text matplotlib shows as it is (a ``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def status_chart(
    by_resource: Mapping[str, Mapping[str, int]], statuses: Sequence[str], title: str = ""
) -> str:
    """A horizontal stacked bar per resource (rows per status), as an inline ``<svg>`` element.

    Args:
        by_resource: ``{resource title: {STATUS: rows}}``, drawn top to bottom in this order.
        statuses: the statuses to stack, in order (a status without a colour is drawn grey).
        title: the chart's accessible name (``aria-label``).

    Returns:
        The ``<svg …>…</svg>`` text, or ``""`` when there is nothing to draw.
    """
    names = list(by_resource)
    shown = [s for s in statuses if any(by_resource[n].get(s) for n in names)]
    if not names or not shown:
        return ""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.6, 0.8 + 0.3 * len(names)), dpi=72)
    FigureCanvasSVG(fig)
    ax = fig.add_axes((0.22, 0.12 + 0.25 / (len(names) + 2), 0.76, 0.78 - 0.2 / len(names)))
    left = [0] * len(names)
    ys = range(len(names))
    for status in shown:
        widths = [by_resource[n].get(status, 0) for n in names]
        label = f"{LABELS.get(status, status)} ({sum(widths):,})"
        ax.barh(ys, widths, left=left, height=0.7, color=COLOURS.get(status, "#8896a4"),
                label=_label(label))  # fmt: skip
        left = [a + b for a, b in zip(left, widths)]
    for y, total in zip(ys, left):
        ax.text(total, y, f" {total:,}", va="center", fontsize=9, color="#3e4c59")
    ax.set_yticks(list(ys), [_label(n) for n in names], fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left) * 1.08 or 1)
    ax.tick_params(axis="x", labelsize=9, colors="#66788a")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncol=len(shown), fontsize=9,
              frameon=False, handlelength=1, columnspacing=1.2)  # fmt: skip
    buffer = io.StringIO()
    with _svg_text():
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    for pattern in _DROP:
        svg = pattern.sub("", svg)
    aria = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', "<svg", svg, count=1)  # sized by CSS
    return svg.replace("<svg ", f'<svg role="img" aria-label="{aria}" class="chart" ', 1)


def _svg_text() -> contextlib.AbstractContextManager[None]:
    """Matplotlib settings for the SVG: text as ``<text>``, ids that do not change per run."""
    from matplotlib import rc_context

    return rc_context({"svg.fonttype": "none", "svg.hashsalt": "directorsync"})

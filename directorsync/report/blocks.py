"""The blocks every HTML page is built from: escaping, cells, tables, cards, the page shell.

Every text goes through :func:`esc`; :func:`td` and :func:`tr` take HTML already escaped. The
page carries its stylesheet inline and a Content-Security-Policy that forbids every external
resource and every script, so a page renders offline, from a mail attachment, with JavaScript off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from directorsync.vocabulary import RESULT_SCHEMA, VERSION

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"


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


@cache
def stylesheet() -> str:
    """The pages' CSS (``data/report.css``), read once."""
    return files("directorsync").joinpath("data/report.css").read_text(encoding="utf-8")


def esc(value: Any) -> str:
    """A value as escaped HTML text (quotes included); None as empty."""
    return "" if value is None else escape(str(value), quote=True)


def td(html: Any, cls: str = "", extra: str = "") -> str:
    """A table cell around HTML that is already escaped."""
    return f'<td class="{cls}"{extra}>{html}</td>' if cls or extra else f"<td>{html}</td>"


def tr(*cells: str) -> str:
    """A table row of cells."""
    return f"<tr>{''.join(cells)}</tr>"


def num_cell(n: int) -> str:
    """A right-aligned count cell (greyed when zero)."""
    return td(f"{n:,}", "num zero" if not n else "num")


def status_class(status: str) -> str:
    """The CSS class of a status (``s-`` and the status in lower case)."""
    return "s-" + re.sub(r"[^a-z0-9]+", "-", status.lower())


def badge(status: str, label: str | None = None) -> str:
    """A status badge, labelled with ``label`` or the status' label."""
    return f'<span class="badge {status_class(status)}">{esc(label or LABELS.get(status, status))}</span>'


def table(head: Sequence[str], rows: Iterable[str], foot: str = "") -> str:
    """A table; a heading starting with ``#`` is a right-aligned number column."""
    ths = "".join(
        f'<th class="num">{h[1:]}</th>' if h[:1] == "#" else f"<th>{h}</th>" for h in head
    )
    tfoot = f"<tfoot>{foot}</tfoot>" if foot else ""
    return f"<table><thead><tr>{ths}</tr></thead><tbody>\n{chr(10).join(rows)}\n</tbody>{tfoot}</table>"


def section(id_: str, title: str, html: str, small: str = "") -> str:
    """A page section with its heading (and a small note beside it)."""
    small = f" <small>{small}</small>" if small else ""
    return f'<section id="{id_}"><h2>{title}{small}</h2>{html}</section>'


def shown_note(shown: int, total: int, what: str) -> str:
    """The note under a cut table (empty when everything is shown)."""
    if shown >= total:
        return ""
    return (
        f'<p class="note">Showing {shown:,} of {total:,} {what}; '
        "the complete list is in result.json.</p>"
    )


def page(title: str, body: str) -> str:
    """A whole self-contained page: head, inline stylesheet, body and footer."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>\n{stylesheet()}</style></head>\n"
        f"<body><main>\n{body}\n<footer>DirectorSync {esc(VERSION)} · {RESULT_SCHEMA}"
        "</footer></main></body></html>\n"
    )


def utc(value: Any) -> str:
    """A timestamp as UTC text; anything unreadable as it is."""
    if not value:
        return ""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: Any) -> str:
    """A duration in seconds as ``1.25 s`` or ``2 min 5 s``."""
    if not isinstance(value, int | float):
        return esc(value)
    return f"{value:.2f} s" if value < 60 else f"{int(value // 60)} min {value % 60:.0f} s"


def millis(value: Any) -> str:
    """A duration in milliseconds as ``250 ms`` or ``1.2 s``."""
    if not isinstance(value, int | float):
        return esc(value)
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def count_rows(by_key: Mapping[str, Mapping[str, int]], cols: list[str], link: bool) -> list[str]:
    """One table row per key (resource): a count per status column and the total."""
    out = []
    for i, (name, counts) in enumerate(by_key.items()):
        label = f'<a href="#r{i}">{esc(name)}</a>' if link else esc(name)
        cells = [num_cell(counts.get(c, 0)) for c in cols]
        out.append(tr(td(label), *cells, num_cell(sum(counts.values()))))
    return out


def cards(by_status: Mapping[str, int], cols: list[str], total: int) -> str:
    """One summary card per status in ``cols``, then the total."""
    cards = [
        f'<div class="card {status_class(s)}"><b>{by_status.get(s, 0):,}</b>'
        f"<span>{esc(LABELS.get(s, s))}</span></div>"
        for s in cols
    ]
    cards.append(f'<div class="card total"><b>{total:,}</b><span>Rows in total</span></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def count_heads(cols: list[str]) -> list[str]:
    """The number-column headings of a count table: the statuses' labels, then Total."""
    return [*(f"#{esc(LABELS.get(c, c))}" for c in cols), "#Total"]


def write_page(html: str, path: str | Path) -> Path:
    """Write a page (its folder made); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

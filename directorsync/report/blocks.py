"""What every HTML page is built from: the Jinja2 templates, labels, formats, the page shell.

Pages are rendered by :func:`render` from ``directorsync/data/templates`` with autoescaping on:
every value is text unless a template says otherwise. The page shell (``base.html.j2``) carries
the stylesheet inline and a Content-Security-Policy that forbids every external resource and
every script, so a page renders offline, from a mail attachment, with JavaScript off.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from html import escape
from importlib.resources import files
from pathlib import Path
from typing import Any

from directorsync.vocabulary import RESULT_SCHEMA, VERSION

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"


LABELS = {
    "DELETED": "Deleted",
    "PLANNED_DELETE": "Would delete",
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
    """A value as HTML text, quotes escaped (None: empty)."""
    return "" if value is None else escape(str(value), quote=True)


def status_class(status: str) -> str:
    """The CSS class of a status (``s-`` and the status in lower case)."""
    return "s-" + re.sub(r"[^a-z0-9]+", "-", str(status).lower())


def resource_title(name: Any) -> str:
    """A resource as a customer reads it: ``routing_policies`` → ``Routing policies``.

    The profiles' ``title`` is the same text.
    """
    text = str(name or "?").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("directorsync", "data/templates"),
        autoescape=True,  # every value is escaped unless a template marks it safe
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(stylesheet=stylesheet, csp=CSP, version=VERSION, schema=RESULT_SCHEMA)
    return env


def render(template: str, **context: Any) -> str:
    """Renders ``data/templates/<template>`` (Jinja2, autoescaped) with ``context``."""
    return _environment().get_template(template).render(**context)


def utc(value: Any) -> str:
    """A time (datetime or ISO 8601 text) as UTC for a page; other text as it is."""
    if not value:
        return ""
    try:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: Any) -> str:
    """A duration in seconds as text (``1.25 s``, ``2 min 5 s``)."""
    if not isinstance(value, int | float):
        return esc(value)
    return f"{value:.2f} s" if value < 60 else f"{int(value // 60)} min {value % 60:.0f} s"


def millis(value: Any) -> str:
    """A duration in milliseconds as text (``120 ms``, ``1.5 s``)."""
    if not isinstance(value, int | float):
        return esc(value)
    return f"{value:.0f} ms" if value < 1000 else f"{value / 1000:.1f} s"


def write_page(html: str, path: str | Path) -> Path:
    """Write a page (its folder created when missing); its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path

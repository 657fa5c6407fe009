"""Payload templating: ``${field}`` templates → request bodies.

``payload.create`` and ``payload.update`` are YAML structures. A string that is exactly
``${field}`` is replaced by the field's value with its type (a list stays a list); ``${a}-${b}``
interpolates text. ``${id}`` is the remote object's id. Filters follow a bar:
``${ids|csv}`` (join a list with commas), ``|sort``, ``|upper``, ``|lower``, ``|int``, ``|first``,
``|on`` (true → "on", else left out), ``|nonempty`` (an empty list is left out). Keys whose value is empty (null, NaN,
"") are left out (``payload.omit_empty: false`` keeps them), so an empty cell is never sent as
the text "nan".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import pandas as pd

from directorsync.errors import ProfileError
from directorsync.profile import Profile

_WHOLE = re.compile(r"^\$\{([A-Za-z0-9_.]+)((?:\|[a-z_]+)*)\}$")
_PART = re.compile(r"\$\{([A-Za-z0-9_.]+)((?:\|[a-z_]+)*)\}")
_OMIT = object()


def render(template: Any, row: dict[str, Any], omit_empty: bool = True) -> Any:
    """Render one template against one row's values."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            rendered = render(value, row, omit_empty)
            if rendered is _OMIT or (omit_empty and _empty(rendered)):
                continue
            out[key] = rendered
        return out
    if isinstance(template, list):
        items = [render(v, row, omit_empty) for v in template]
        return [i for i in items if i is not _OMIT]
    if isinstance(template, str):
        whole = _whole(template)
        if whole is not None:
            field, filters = whole
            value = _clean(row.get(field))
            if filters:
                value = _filtered(value, filters)
            return _OMIT if (omit_empty and _empty(value)) else value
        return _PART.sub(lambda m: _text(_filtered(row.get(m.group(1)), m.group(2))), template)
    return template


def compile_template(template: Any, omit_empty: bool = True) -> Callable[[dict[str, Any]], Any]:
    """The template as a function of a row, parsed once: ``compile_template(t)(row)`` equals
    ``render(t, row)`` (used when thousands of rows share one template)."""
    if isinstance(template, dict):
        parts = [(key, compile_template(value, omit_empty)) for key, value in template.items()]

        def render_dict(row: dict[str, Any]) -> dict[str, Any]:
            out = {}
            for key, part in parts:
                value = part(row)
                if value is _OMIT or (omit_empty and (value is None or value == "")):
                    continue
                out[key] = value
            return out

        return render_dict
    if isinstance(template, list):
        items = [compile_template(value, omit_empty) for value in template]
        return lambda row: [v for v in (item(row) for item in items) if v is not _OMIT]
    if isinstance(template, str):
        whole = _whole(template)
        if whole is None:
            return lambda row: render(template, row, omit_empty)
        field, filters = whole

        def render_field(row: dict[str, Any]) -> Any:
            value = _clean(row.get(field))
            if filters:
                value = _filtered(value, filters)
            return _OMIT if (omit_empty and _empty(value)) else value

        return render_field
    return lambda row: template


@lru_cache(maxsize=4096)
def _whole(template: str) -> tuple[str, str] | None:
    """``"${field|f}"`` → ``("field", "|f")``; None for any other text (parsed once per text)."""
    match = _WHOLE.match(template)
    return (match.group(1), match.group(2)) if match else None


def template_fields(template: Any) -> set[str]:
    """Every field a template (or path template) reads."""
    if isinstance(template, dict):
        return set().union(*(template_fields(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(template_fields(v) for v in template))
    if isinstance(template, str):
        return {m.group(1) for m in _PART.finditer(template)} | set(
            re.findall(r"(?<!\$)\{([A-Za-z0-9_]+)\}", template)
        )
    return set()


FILTERS = {
    "csv": lambda v: ",".join(map(str, v)) if isinstance(v, list) else v,
    "sort": lambda v: sorted(v, key=str) if isinstance(v, list) else v,
    "upper": lambda v: v.upper() if isinstance(v, str) else v,
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "int": lambda v: int(v) if isinstance(v, (int, float)) and v == v else v,
    "first": lambda v: (v[0] if v else None) if isinstance(v, list) else v,
    "on": lambda v: "on" if v is True else None,
    "nonempty": lambda v: v if v not in ([], {}, "") else None,
}


def _filtered(value: Any, filters: str) -> Any:
    """Apply ``|name`` filters (``${ids|csv}``); an empty list stays empty."""
    for name in filter(None, (filters or "").split("|")):
        try:
            fn = FILTERS[name]
        except KeyError:
            raise ProfileError(
                f"unknown payload filter '{name}' (known: {', '.join(FILTERS)})"
            ) from None
        value = fn(value)
    if isinstance(value, str) and value == "" and filters:
        return None
    return value


def _clean(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is list:
        return [v if type(v) is str else _clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if not _empty(_clean(v))}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def _text(value: Any) -> str:
    value = _clean(value)
    return "" if value is None else str(value)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def render_path(template: str, row: dict[str, Any]) -> str:
    """A configapi path template (``Repos/{id}``, ``Lists/{list_kind}``) for one row."""
    return re.sub(r"\{([A-Za-z0-9_]+)\}", lambda m: _text(row.get(m.group(1))), template)


def build_requests(frame: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Method, path and payload for every create/update row (others get nulls).

    A row is one request here, so payloads are built per row; values come from the frame's
    records (``id`` is the remote id).
    """
    out = frame.copy(deep=False)
    out["method"] = None
    out["path"] = None
    out["payload"] = None
    todo = out["action"].isin(["create", "update"])
    if not todo.any():
        return out
    omit = bool(profile.payload.get("omit_empty", True))
    endpoint = profile.endpoint
    used = template_fields([profile.payload, endpoint]) | {"action"}
    rows = out.loc[todo, [c for c in out.columns if c in used and c != "id"]]
    records = rows.assign(id=out.loc[todo, "remote_id"]).to_dict("records")
    methods, paths, payloads = [], [], []
    compiled = {
        kind: compile_template(profile.payload.get(kind) or profile.payload.get("create") or {}, omit)
        for kind in ("create", "update")
    }
    for row in records:
        kind = row["action"]
        payloads.append(compiled[kind](row))
        methods.append("POST" if kind == "create" else "PUT")
        paths.append(render_path(endpoint.get(kind) or endpoint.get("list", ""), row))
    out.loc[todo, "method"] = methods
    out.loc[todo, "path"] = paths
    out.loc[todo, "payload"] = pd.Series(payloads, index=out.index[todo], dtype=object)
    return out

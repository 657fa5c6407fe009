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

import json
import math
import re
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

import numpy as np
import pandas as pd

from directorsync.cells import cellwise
from directorsync.errors import ProfileError
from directorsync.profile.model import Profile

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
    """The template as a function of a row, parsed once.

    ``compile_template(t)(row)`` equals ``render(t, row)`` (used when thousands of rows share
    one template).
    """
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


Columns = dict[str, np.ndarray]


def compile_columns(template: Any, omit_empty: bool = True) -> Callable[[Columns, int], np.ndarray]:
    """The template as a function of columns.

    ``compile_columns(t)(columns, n)[i]`` equals ``render(t, row_i)`` where ``row_i`` holds
    each column's i-th value.

    Every field is rendered as a column (one cell function over it), then the cells are
    gathered into one payload per row.
    """
    if isinstance(template, dict):
        keys = list(template)
        parts = [compile_columns(template[key], omit_empty) for key in keys]

        def render_dicts(columns: Columns, n: int) -> np.ndarray:
            rendered = [part(columns, n) for part in parts]
            rows = zip(*rendered) if rendered else (() for _ in range(n))
            return _cells(
                [
                    {k: v for k, v in zip(keys, values) if not _left_out(v, omit_empty)}
                    for values in rows
                ],
                n,
            )

        return render_dicts
    if isinstance(template, list):
        items = [compile_columns(value, omit_empty) for value in template]

        def render_lists(columns: Columns, n: int) -> np.ndarray:
            rendered = [item(columns, n) for item in items]
            rows = zip(*rendered) if rendered else (() for _ in range(n))
            return _cells([[v for v in values if v is not _OMIT] for values in rows], n)

        return render_lists
    if isinstance(template, str):
        whole = _whole(template)
        if whole is None:
            return _text_columns(template)
        field, filters = whole

        def cell(value: Any) -> Any:
            value = _clean(value)
            if filters:
                value = _filtered(value, filters)
            return _OMIT if (omit_empty and _empty(value)) else value

        render_cells = cellwise(cell)
        return lambda columns, n: render_cells(_column(columns, field, n))
    return lambda columns, n: _cells([template] * n, n)


def _left_out(value: Any, omit_empty: bool) -> bool:
    return value is _OMIT or (omit_empty and (value is None or (type(value) is str and not value)))


def _text_columns(template: str) -> Callable[[Columns, int], np.ndarray]:
    """``"${a}-${b|upper}"`` as a function of columns (text cells)."""
    pieces: list[tuple[str, str, str]] = []  # (text before, field, filters)
    end = 0
    for match in _PART.finditer(template):
        pieces.append((template[end : match.start()], match.group(1), match.group(2)))
        end = match.end()
    tail = template[end:]

    def render_text(columns: Columns, n: int) -> np.ndarray:
        text = np.full(n, "", dtype=object)
        for before, field, filters in pieces:
            values = cellwise(partial(_filtered_text, filters=filters))(_column(columns, field, n))
            text = text + before + values
        return text + tail if tail else text

    return render_text


def _column(columns: Columns, field: str, n: int) -> np.ndarray:
    values = columns.get(field)
    return np.full(n, None, dtype=object) if values is None else values


def _cells(values: list[Any], n: int) -> np.ndarray:
    """A list of n values (lists and dicts included) as an object array."""
    out = np.empty(n, dtype=object)
    out[:] = values
    return out


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


def _filtered_text(value: Any, filters: str) -> str:
    """A cell through its ``|name`` filters, as the text a template inserts."""
    return _text(_filtered(value, filters))


_TEXT = cellwise(_text)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == "")


def render_path(template: str, row: dict[str, Any]) -> str:
    """A configapi path template (``Repos/{id}``, ``Lists/{list_kind}``) for one row."""
    return _PATH_FIELD.sub(lambda m: _text(row.get(m.group(1))), template)


_PATH_FIELD = re.compile(r"\{([A-Za-z0-9_]+)\}")


def render_paths(template: str, columns: Columns, n: int) -> np.ndarray:
    """:func:`render_path` as a function of columns."""
    text = np.full(n, "", dtype=object)
    end = 0
    for match in _PATH_FIELD.finditer(template):
        text = text + template[end : match.start()] + _TEXT(_column(columns, match.group(1), n))
        end = match.end()
    return text + template[end:]


def build_requests(frame: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Method, path and payload for every create/update row (others get nulls).

    A row is one request; payloads are rendered field by field over the rows to send (``id`` is
    the remote id), then gathered into one body per row.
    """
    out = frame.copy(deep=False)
    n = len(out)
    action = out["action"].to_numpy(dtype=object)
    methods, paths, payloads = (np.full(n, None, dtype=object) for _ in range(3))
    omit = bool(profile.payload.get("omit_empty", True))
    endpoint = profile.endpoint
    used = template_fields([profile.payload, profile.update_template, endpoint]) | {"action"}
    for kind, method in (("create", "POST"), ("update", "PUT")):
        rows = np.flatnonzero(action == kind)
        if not len(rows):
            continue
        columns = {c: out[c].to_numpy(dtype=object)[rows] for c in out.columns if c in used}
        columns["id"] = out["remote_id"].to_numpy(dtype=object)[rows]
        template = (
            profile.update_template if kind == "update" else profile.payload.get("create") or {}
        )
        payloads[rows] = _renderer(template, omit)(columns, len(rows))
        methods[rows] = method
        paths[rows] = render_paths(
            endpoint.get(kind) or endpoint.get("list", ""), columns, len(rows)
        )
    out["method"] = pd.Series(methods, index=out.index, dtype=object)
    out["path"] = pd.Series(paths, index=out.index, dtype=object)
    out["payload"] = pd.Series(payloads, index=out.index, dtype=object)
    return out


def _renderer(template: Any, omit_empty: bool) -> Callable[[Columns, int], np.ndarray]:
    key = json.dumps(template, sort_keys=True, default=str)
    return _compiled_columns(key, omit_empty)


@lru_cache(maxsize=256)
def _compiled_columns(key: str, omit_empty: bool) -> Callable[[Columns, int], np.ndarray]:
    return compile_columns(json.loads(key), omit_empty)

"""Payload templating: the compiled form renders exactly what ``render`` renders."""

import math

import numpy as np
import pytest

from directorsync.errors import ProfileError
from directorsync.payload import compile_template, render, template_fields

TEMPLATE = {
    "name": "${name}",
    "ip": "${ip}",
    "ids": "${ids|csv}",
    "first": "${ids|first}",
    "flag": "${flag|on}",
    "label": "${name}-${kind|upper}",
    "count": "${count|int}",
    "nested": {"path": "${path}", "items": ["${a}", "${b|nonempty}", "fixed"]},
    "const": 7,
}
ROWS = [
    {
        "name": "a",
        "ip": ["10.0.0.1", "10.0.0.2"],
        "ids": ["x", "y"],
        "flag": True,
        "kind": "fw",
        "count": 3.0,
        "path": "/p/",
        "a": "one",
        "b": ["z"],
    },
    {
        "name": "",
        "ip": [],
        "ids": [],
        "flag": False,
        "kind": None,
        "count": math.nan,
        "path": None,
        "a": np.int64(5),
        "b": [],
    },
    {
        "name": None,
        "ip": [math.nan, "10.0.0.3"],
        "ids": None,
        "flag": None,
        "kind": "x",
        "count": np.float64(2.0),
        "path": {"k": math.nan, "j": 1},
        "a": math.nan,
        "b": "",
    },
    {},
]


@pytest.mark.parametrize("omit", [True, False])
@pytest.mark.parametrize("row", ROWS)
def test_compiled_template_renders_like_render(row, omit):
    assert compile_template(TEMPLATE, omit)(row) == render(TEMPLATE, row, omit)


def test_empty_values_are_left_out_and_nan_never_becomes_text():
    out = compile_template(TEMPLATE)(ROWS[1])
    assert "name" not in out and "count" not in out and "flag" not in out
    assert out["label"] == "-" and out["nested"]["items"] == [5, "fixed"]


def test_unknown_filter_is_a_profile_error():
    with pytest.raises(ProfileError, match="unknown payload filter 'nope'"):
        compile_template({"x": "${a|nope}"})({"a": 1})


def test_template_fields_cover_payloads_and_paths():
    assert template_fields([TEMPLATE, {"update": "Repos/{id}"}]) == {
        "name",
        "ip",
        "ids",
        "flag",
        "kind",
        "count",
        "path",
        "a",
        "b",
        "id",
    }


@pytest.mark.parametrize("omit", [True, False])
def test_column_rendering_renders_each_row_like_render(omit):
    """build_requests renders payloads column by column: the same bodies as row by row."""
    from directorsync.payload import compile_columns

    fields = sorted(set().union(*ROWS))
    columns = {f: np.array([row.get(f) for row in ROWS] + [None], dtype=object) for f in fields}
    columns["ip"][1] = []  # numpy would not keep an empty list as a cell otherwise
    rows = [{f: columns[f][i] for f in fields} for i in range(len(ROWS) + 1)]
    got = compile_columns(TEMPLATE, omit)(columns, len(rows))
    assert list(got) == [render(TEMPLATE, row, omit) for row in rows]
    assert compile_columns({}, omit)(columns, 2).tolist() == [{}, {}]
    assert compile_columns(["${name}", "x"], omit)({}, 1).tolist() == [
        ["x"] if omit else [None, "x"]
    ]

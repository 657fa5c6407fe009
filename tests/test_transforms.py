"""Transforms: behaviour, list awareness, invalid markers, docs kept in step with the registry."""

import random
from pathlib import Path

import pandas as pd

from directorsync.transforms import (
    TRANSFORMS,
    Context,
    Invalid,
    apply_transforms,
    transforms_markdown,
)

CTX = Context(
    sheets={
        "Repo": pd.DataFrame({"original_repo_name": ["Repo-a"], "cleaned_repo_name": ["Repo_a"]})
    }
)


def run(values, specs):
    return apply_transforms(pd.Series(values, dtype=object), specs, CTX).tolist()


def test_split_on_several_separators_and_trailing_slash():
    assert run(
        ["/data_hot | /cold_nfs", "/x,/y/", None], [{"split": ["|", ","]}, "trailing_slash"]
    ) == [["/data_hot/", "/cold_nfs/"], ["/x/", "/y/"], []]


def test_to_int_accepts_excel_floats_and_marks_text_invalid():
    out = run(["365.0", 90.0, "ninety", None, "7 | 8"], [{"split": "|"}, "to_int"])
    assert out[0] == [365] and out[1] == [90] and out[3] == []
    assert isinstance(out[2][0], Invalid) and out[2][0].value == "ninety"
    assert out[4] == [7, 8]


def test_to_bool_and_default_and_map():
    assert run(["TRUE", False, "no", None, "maybe"], ["to_bool"])[:4] == [True, False, False, None]
    assert isinstance(run(["maybe"], ["to_bool"])[0], Invalid)
    assert run([None, "x"], [{"default": "None"}]) == ["None", "x"]
    assert run(["Major", "other"], [{"map": {"major": "High", "*": "Low"}}]) == ["High", "Low"]


def test_norm_str_sentinels_and_whole_floats():
    assert run(["  a  b ", "nan", "-", 4.0, ""], ["norm_str"]) == ["a b", None, None, "4", None]


def test_sheet_map_and_one_of_and_csv():
    out = run(
        ["Repo-a", "Repo-zz"],
        [{"sheet_map": {"sheet": "Repo", "from": "original_repo_name", "to": "cleaned_repo_name"}}],
    )
    assert out[0] == "Repo_a" and isinstance(out[1], Invalid)
    out = run(["major", "Huge"], [{"one_of": ["Minimal", "Minor", "Major", "Critical"]}])
    assert out[0] == "Major" and isinstance(out[1], Invalid)
    assert run([["b", "a"], []], ["sort", "csv"]) == ["a,b", None]


def test_parse_list_json_python_and_text():
    assert run(['["a", "b"]', "['x']", "a; b | c", None], ["parse_list"]) == [
        ["a", "b"],
        ["x"],
        ["a", "b", "c"],
        [],
    ]


def test_docs_list_every_registered_transform():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "profiles.md").read_text()
    assert transforms_markdown() in doc, (
        "run `python scripts/gen_docs.py` to refresh docs/profiles.md"
    )
    for name in TRANSFORMS.names():
        assert f"`{name}`" in doc


CHAINS = [
    ["norm_str", {"one_of": ["Minimal", "Minor", "Major", "Critical"]}],
    [{"split": ["|", ","]}, "uniq", "trailing_slash"],
    ["norm_str", {"default": "UTC"}],
    [{"split": "|"}, "to_int"],
    ["to_bool"],
    ["norm_str", {"map": {"a": "x", "*": "other"}}, "upper"],
]


def test_long_columns_transform_each_distinct_value_once_with_the_same_result():
    """Columns long enough take the factorize path; cell by cell gives the same answers."""
    import random

    rng = random.Random(4)
    pool = [
        "  minor ",
        "Critical",
        "MAJOR",
        "bogus",
        "",
        None,
        "nan",
        "/a | /b,/a",
        "1 | 2",
        "true",
        "no",
        "a",
        " Europe/Zurich ",
    ]
    values = [rng.choice(pool) for _ in range(120)]
    for chain in CHAINS:
        whole = run(values, chain)
        one_by_one = [run([v], chain)[0] for v in values]
        assert whole == one_by_one, chain


def test_transforms_never_modify_a_cell_in_place():
    """Rows holding the same value share it (distinct values are transformed once).

    This is safe because no transform changes a cell it was given: each builds a new one.
    """
    import copy

    cells = [["b", "a", "b"], [" x ", ""], [], ["1", "2"], "a | b", None] * 20
    for spec in [
        "uniq",
        "sort",
        "csv",
        "first",
        "as_list",
        "norm_str",
        "upper",
        {"split": "|"},
        {"prefix": "p-"},
        {"default": "d"},
        "none_if_empty",
        "to_int",
        "to_bool",
    ]:
        column = pd.Series(copy.deepcopy(cells), dtype=object)
        before = copy.deepcopy(column.tolist())
        apply_transforms(column, [spec], CTX)
        assert column.tolist() == before, spec
    out = apply_transforms(pd.Series(["a | b"] * 100, dtype=object), [{"split": "|"}], CTX)
    assert out.iloc[0] == out.iloc[99] == ["a", "b"]


def test_split_matches_a_plain_python_split_on_random_cells():
    import random
    import re

    rng = random.Random(8)
    alphabet = ["a", "b", "10.0.0.1", " ", "  ", "|", ",", ";", "\t", "é"]
    cells = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(400)]
    cells += [None, float("nan"), "", "nan", "  -  "]
    got = run(cells, [{"split": ["|", ","]}])

    def reference(cell):
        if (
            cell is None
            or cell != cell
            or cell.strip().lower() in {"", "nan", "none", "null", "-", "n/a"}
        ):
            return []
        return [p.strip() for p in re.split(r"\||,", cell) if p.strip()]

    assert got == [reference(c) for c in cells]


def test_norm_str_matches_plain_python_on_random_cells():
    """Cell by cell: trimmed, inner white space collapsed, sentinels and blanks null."""
    import random
    import re

    rng = random.Random(12)
    alphabet = ["a", "B", " ", "  ", "\t", "\n", "\u00a0", "-", "nan", "None", "é", "|"]
    cells = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(600)]
    cells += [None, float("nan"), 3.0, 2.5, 7, True]

    def reference(v):
        if v is None or (isinstance(v, float) and v != v):
            return None
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        if text.strip().lower() in {"", "nan", "none", "null", "-", "n/a"}:
            return None
        text = text.strip()
        return re.sub(r"\s+", " ", text) if re.search(r"\s\s|[\t\n\r\f\v]", text) else text

    assert run(cells, ["norm_str"]) == [reference(v) for v in cells]


def test_norm_str_of_a_text_column_is_the_cell_by_cell_result():
    """Columns of texts take a path without a call per cell; it gives what each cell would."""
    from directorsync.transforms import _norm_cell, norm_str

    rng = random.Random(2)
    parts = ["a", "B", " ", "  ", "\t", "\u00a0", "\u2003", "x y", "nan", "NULL", "-", "n/a"]
    parts += ["None", "é", "\x1c", "\x1f", "\x85", "", "\n", "\v"]
    for _ in range(3000):
        cells = ["".join(rng.choices(parts, k=rng.randint(0, 4))) for _ in range(rng.randint(1, 6))]
        got = norm_str(pd.Series(cells, dtype=object), None, None).tolist()
        assert got == [_norm_cell(v) for v in cells], cells

"""Column operations on cells of any kind (``directorsync.cells``)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from directorsync.cells import distinct_text, factorize_with_nulls, same_objects


def same_cell(a: object, b: object) -> bool:
    if a is b or (a != a and b != b):  # the same object, or NaN and NaN
        return True
    return type(a) is type(b) and a == b


def test_factorize_with_nulls_is_pandas_factorize_keeping_nulls_as_one_cell():
    """Same codes and distinct cells as ``pd.factorize(use_na_sentinel=False)``, nulls included."""
    rng = random.Random(3)
    pool = ["a", "b", "c", None, np.nan, pd.NA, "d", 5, 5.0, True]
    for _ in range(2000):
        values = np.empty(rng.randint(0, 12), dtype=object)
        values[:] = [rng.choice(pool) for _ in range(len(values))]
        expected_codes, expected = pd.factorize(values, use_na_sentinel=False)
        codes, uniques = factorize_with_nulls(values)
        assert codes.tolist() == expected_codes.tolist(), values
        assert len(uniques) == len(expected)
        assert all(same_cell(a, b) for a, b in zip(uniques, expected)), values


def test_distinct_text_keeps_the_null_cell_where_it_first_appears():
    values = ["b", None, "a", np.nan, "b"] * 40
    codes, uniques = distinct_text(pd.Series(values, dtype=object))
    assert uniques.iloc[0] == "b" and pd.isna(uniques.iloc[1]) and uniques.iloc[2] == "a"
    assert [uniques.iloc[c] for c in codes[:3]][0::2] == ["b", "a"] and pd.isna(uniques[codes[3]])


def test_same_objects_groups_rows_by_identity_only():
    one, other = ["a"], ["a"]  # equal lists, two objects
    values = np.empty(200, dtype=object)
    values[:] = [one, other, True, 1] * 50
    codes, objects = same_objects(values)
    assert len(objects) == 4 and objects[codes[0]] is one and objects[codes[1]] is other
    assert codes.tolist() == [0, 1, 2, 3] * 50
    distinct = np.empty(200, dtype=object)
    distinct[:] = [[i] for i in range(200)]
    assert same_objects(distinct) is None  # mostly distinct: not worth it


def _text_storage(before: str) -> str:
    """The storage of an inferred text column after ``before`` then importing the pipeline."""
    import subprocess
    import sys

    code = (
        f"import pandas as pd\n{before}\nimport directorsync.planner\n"
        "print(pd.Series(['a', 'b']).dtype.storage)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout.strip()


def test_the_pipeline_keeps_text_in_python_objects_unless_the_process_chose():
    """With pyarrow installed (the listing decoder) pandas would store inferred text in it."""
    import pyarrow  # noqa: F401 - installed with the package

    assert _text_storage("") == "python"
    assert _text_storage("pd.set_option('mode.string_storage', 'pyarrow')") == "pyarrow"

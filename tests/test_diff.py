"""Diff canonical forms: fast paths give exactly the general path's text (hash stability)."""

import random
import string

import pandas as pd

from directorsync.diff import _dump, _fast_list, canonical, canonical_series
from directorsync.profile import Profile

ALPHABET = string.ascii_letters + ' "\\\t,é-_/.'


def words(rng, n):
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(n)]


def test_fast_list_equals_general_path_on_random_text():
    rng = random.Random(5)
    for _ in range(2000):
        items = words(rng, rng.randint(0, 5)) + rng.choice([[], [None]])
        for as_set in (True, False):
            assert _fast_list(items, as_set, False) == _dump(canonical(items, as_set, False, False))


def test_fast_text_column_equals_general_path():
    rng = random.Random(9)
    values = words(rng, 500) + [None, float("nan"), "  ", "nan"]
    profile = Profile("x", None, {"diff": {}})
    fast = canonical_series(pd.Series(values, dtype=object), "f", profile)
    slow = [_dump(canonical(v)) for v in values]
    assert fast.tolist() == slow


def test_empty_values_compare_equal_and_numbers_normalise():
    assert _dump(canonical(None)) == _dump(canonical("")) == _dump(canonical([])) == "null"
    assert canonical(90.0) == canonical(90) == 90
    assert canonical([{"path": "/a/", "retention": 90.0}], as_set=True) == [{"path": "/a/", "retention": 90}]

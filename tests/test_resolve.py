"""Resolution on distinct (node, name) pairs gives exactly what row-by-row resolution gives."""

import random

import pandas as pd
import pytest

from directorsync.cells import distinct_cells
from directorsync.resolve import _lookup, _lookup_distinct
from directorsync.vocabulary import NODE

NODES = ["n1", "n2", "n3"]


def inventory():
    rows = []
    for node in NODES:
        for i, name in enumerate(["web", "db", "mail", "dns"]):
            if (node, name) == ("n2", "mail"):
                continue  # missing on one node only
            rows.append({NODE: node, "name": name, "id": f"{node}-{i}"})
        rows.append({NODE: node, "name": "new", "id": "$ref:device_groups:new"})
        rows.append({NODE: node, "name": "broken", "id": "$skip:row 9: name is empty"})
    return pd.DataFrame(rows)


def frame(many: bool, n: int = 600):
    rng = random.Random(2)
    names = ["web", "db", "mail", "dns", "new", "broken", "wbe", "", None]
    if many:
        cells = [rng.sample(names[:-1], rng.randint(0, 3)) for _ in range(n)]
    else:
        cells = [rng.choice(names) for _ in range(n)]
    index = pd.RangeIndex(n) * 2 + 5  # labels are not positions
    return pd.DataFrame({NODE: [rng.choice(NODES) for _ in range(n)], "f": cells}, index=index)


@pytest.mark.parametrize("many", [False, True])
def test_distinct_pairs_resolve_like_rows(many):
    desired, inv = frame(many), inventory()
    plain = _lookup(desired, "f", inv, "name", "id", many)
    distinct = _lookup_distinct(desired, "f", inv, "name", "id", many)
    assert distinct_cells(desired["f"]) is not None  # the distinct path is the one taken
    pd.testing.assert_series_equal(
        distinct.values.sort_index(),
        plain.values.sort_index(),
        check_names=False,
        check_dtype=False,
    )
    assert distinct.empty_rows.sort_values().tolist() == plain.empty_rows.sort_values().tolist()
    pd.testing.assert_frame_equal(
        distinct.unresolved.reset_index(), plain.unresolved.reset_index(), check_dtype=False
    )
    assert distinct.refs.sort_index().to_dict() == plain.refs.sort_index().to_dict()
    assert plain.unresolved["_skip"].notna().any() and len(plain.refs)  # the cases are covered

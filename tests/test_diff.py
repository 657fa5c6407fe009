"""Diff canonical forms: fast paths give exactly the general path's text (hash stability)."""

import random
import string

import pandas as pd

from directorsync.diff import _fast_list, canonical, canonical_series, dump_value
from directorsync.profile.model import Profile

ALPHABET = string.ascii_letters + ' "\\\t,é-_/.'


def words(rng, n):
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(n)]


def test_fast_list_equals_general_path_on_random_text():
    rng = random.Random(5)
    for _ in range(2000):
        items = words(rng, rng.randint(0, 5)) + rng.choice([[], [None]])
        for as_set in (True, False):
            assert _fast_list(items, as_set, False) == dump_value(
                canonical(items, as_set, False, False)
            )


def test_fast_text_column_equals_general_path():
    rng = random.Random(9)
    values = words(rng, 500) + [None, float("nan"), "  ", "nan"]
    profile = Profile("x", None, {"diff": {}})
    fast = canonical_series(pd.Series(values, dtype=object), "f", profile)
    slow = [dump_value(canonical(v)) for v in values]
    assert fast.tolist() == slow


def test_empty_values_compare_equal_and_numbers_normalise():
    assert (
        dump_value(canonical(None))
        == dump_value(canonical(""))
        == dump_value(canonical([]))
        == "null"
    )
    assert canonical(90.0) == canonical(90) == 90
    assert canonical([{"path": "/a/", "retention": 90.0}], as_set=True) == [
        {"path": "/a/", "retention": 90}
    ]


def test_vectorised_differs_matches_canonical_comparison():
    from directorsync.diff import differs_mask

    rng = random.Random(3)
    for as_set in (True, False):
        profile = Profile("x", None, {"diff": {"list_as_sets": ["f"] if as_set else []}})
        after = pd.Series(
            [words(rng, rng.randint(0, 3)) for _ in range(400)] + [None, []], dtype=object
        )
        before = pd.Series(
            [
                rng.sample(v, len(v)) if rng.random() < 0.5 and v else words(rng, rng.randint(0, 3))
                for v in after[:400]
            ]
            + [[], None],
            dtype=object,
        )
        expected = [
            dump_value(canonical(a, as_set)) != dump_value(canonical(b, as_set))
            for a, b in zip(after, before)
        ]
        assert differs_mask(after, before, "f", profile).tolist() == expected
    text_a = pd.Series(words(rng, 300) + [None, " x "], dtype=object)
    text_b = pd.Series(words(rng, 300) + ["", "x"], dtype=object)
    profile = Profile("x", None, {"diff": {}})
    expected = [
        dump_value(canonical(a)) != dump_value(canonical(b)) for a, b in zip(text_a, text_b)
    ]
    assert differs_mask(text_a, text_b, "f", profile).tolist() == expected


def test_differs_on_mixed_values_matches_canonical_comparison():
    """The equality shortcut never changes the answer: numbers, booleans, dicts, lists, empties."""
    from directorsync.diff import differs_mask

    pool = [
        None,
        float("nan"),
        "",
        " a",
        "a",
        "A",
        1,
        1.0,
        2,
        True,
        False,
        0,
        [],
        ["a"],
        ["a", "b"],
        ["b", "a"],
        [" a "],
        {},
        {"k": 1},
        {"k": 1.0},
        {"k": True},
        {"k": [1, 2]},
        {"k": [2, 1]},
    ]
    rng = random.Random(11)
    after = pd.Series([rng.choice(pool) for _ in range(3000)], dtype=object)
    before = pd.Series([rng.choice(pool) if rng.random() < 0.6 else a for a in after], dtype=object)
    for spec in ({}, {"list_as_sets": ["f"]}, {"deep_sets": ["f"]}, {"case_insensitive": ["f"]}):
        profile = Profile("x", None, {"diff": spec})
        as_set = "f" in spec.get("list_as_sets", []) + spec.get("deep_sets", [])
        deep, fold = "deep_sets" in spec, "case_insensitive" in spec
        expected = [
            dump_value(canonical(a, as_set, deep, fold))
            != dump_value(canonical(b, as_set, deep, fold))
            for a, b in zip(after, before)
        ]
        got = differs_mask(after, before, "f", profile).tolist()
        bad = [(a, b) for a, b, g, e in zip(after, before, got, expected) if g != e]
        # Python's True == 1 inside a container is the one accepted difference (documented)
        assert all(isinstance(a, dict) and isinstance(b, dict) for a, b in bad), bad[:5]


def test_booleans_never_equal_numbers_at_the_top_level():
    from directorsync.diff import differs_mask

    profile = Profile("x", None, {"diff": {}})
    after = pd.Series([True, False, True], dtype=object)
    before = pd.Series([1, 0, True], dtype=object)
    assert differs_mask(after, before, "f", profile).tolist() == [True, True, False]


def test_plan_time_hash_of_an_update_equals_the_hash_apply_recomputes():
    """``apply --plan`` refuses a stale plan by recomputing remote_hash on a fresh listing."""
    from directorsync.diff import diff_frame, remote_hash
    from directorsync.vocabulary import NODE, REASON, STATUS

    profile = Profile(
        "x",
        None,
        {
            "identity": {"natural_key": ["name"]},
            "diff": {"compare": ["ip", "tz", "risk"], "list_as_sets": ["ip"]},
        },
    )
    remote = pd.DataFrame(
        {
            NODE: ["n1", "n1", "n2"],
            "id": ["a", "b", "c"],
            "name": ["web", "db", "web"],
            "ip": [["10.0.0.2", "10.0.0.1"], ["10.0.0.9"], []],
            "tz": ["UTC", " UTC", None],
            "risk": [{"c": "Minor"}, {"c": "Major"}, {}],
        }
    )
    desired = pd.DataFrame(
        {
            NODE: ["n1", "n1", "n2"],
            "name": ["web", "db", "web"],
            "ip": [["10.0.0.1", "10.0.0.2"], ["10.0.0.8"], ["10.0.0.1"]],
            "tz": ["UTC", "UTC", "UTC"],
            "risk": [{"c": "Minor"}, {"c": "Major"}, {"c": "Minor"}],
            STATUS: "ok",
            REASON: None,
        }
    )
    out = diff_frame(desired, remote, profile)
    assert out["action"].tolist() == ["unchanged", "update", "update"]
    expected = remote_hash(remote, profile)
    for i in (1, 2):
        assert out.loc[i, "remote_hash"] == expected[i]
    assert out.loc[0, "remote_hash"] is None


def test_diff_node_by_node_equals_diff_of_all_listings_at_once():
    """Given a function, each node's listing is asked for when its rows are diffed: same result."""
    from directorsync.diff import diff_frame
    from directorsync.vocabulary import NODE, REASON, STATUS

    rng = random.Random(21)
    profile = Profile(
        "x",
        None,
        {
            "identity": {"natural_key": ["name"]},
            "diff": {"compare": ["ip", "tz"], "list_as_sets": ["ip"]},
        },
    )
    names = [f"h{i}" for i in range(60)]
    desired = pd.DataFrame(
        {
            NODE: [n for _ in names for n in ("n1", "n2", "n3")],
            "name": [h for h in names for _ in range(3)],
            "ip": [rng.sample(["a", "b", "c"], rng.randint(0, 2)) for _ in range(180)],
            "tz": [rng.choice(["UTC", " UTC", None, "CET"]) for _ in range(180)],
            STATUS: [rng.choice(["ok", "ok", "ok", "skip"]) for _ in range(180)],
            REASON: None,
        }
    )
    remote = pd.DataFrame(
        [
            {
                NODE: node,
                "id": f"{node}-{h}",
                "name": h,
                "ip": rng.sample(["a", "b", "c"], rng.randint(0, 3)),
                "tz": rng.choice(["UTC", "CET", None]),
            }
            for node in ("n1", "n2")
            for h in names
            if rng.random() < 0.8
        ]
        + [{NODE: "n1", "id": "dup", "name": "h0", "ip": [], "tz": "UTC"}]
    )  # a duplicated key
    at_once = diff_frame(desired, remote, profile)
    asked = []

    def listing(node):
        asked.append(node)
        return remote[remote[NODE] == node].reset_index(drop=True)

    by_node = diff_frame(desired, listing, profile)
    assert asked == ["n1", "n2", "n3"]
    pd.testing.assert_frame_equal(at_once, by_node)
    assert set(at_once["action"]) == {"create", "update", "unchanged", "skip"}


def test_a_field_director_does_not_return_is_compared_only_on_nodes_whose_listing_has_it():
    from directorsync.diff import diff_frame
    from directorsync.vocabulary import NODE

    profile = Profile(
        "x",
        None,
        {
            "identity": {"natural_key": ["name"]},
            "diff": {"compare": ["tz", "secret"], "write_only_if_absent": ["secret"]},
        },
    )
    desired = pd.DataFrame(
        {NODE: ["n1", "n2"], "name": ["a", "a"], "tz": ["UTC", "UTC"], "secret": ["s", "s"]}
    )
    listings = {
        "n1": pd.DataFrame({NODE: ["n1"], "id": ["1"], "name": ["a"], "tz": ["UTC"]}),
        "n2": pd.DataFrame(
            {NODE: ["n2"], "id": ["2"], "name": ["a"], "tz": ["UTC"], "secret": ["x"]}
        ),
    }
    out = diff_frame(desired, listings.__getitem__, profile)
    assert out["action"].tolist() == ["unchanged", "update"]
    assert out.loc[1, "changes"] == [{"field": "secret", "before": "x", "after": "s"}]


def test_an_update_on_a_node_whose_listing_has_no_compared_field_is_hashed_like_apply_does():
    from directorsync.diff import diff_frame, remote_hash
    from directorsync.vocabulary import NODE, REASON, STATUS

    profile = Profile(
        "x", None, {"identity": {"natural_key": ["name"]}, "diff": {"compare": ["tz"]}}
    )
    desired = pd.DataFrame({NODE: ["n1"], "name": ["a"], "tz": ["UTC"], STATUS: "ok", REASON: None})
    remote = pd.DataFrame({NODE: ["n1"], "id": ["1"], "name": ["a"]})
    out = diff_frame(desired, remote, profile)
    assert out.loc[0, "action"] == "update"
    assert out.loc[0, "remote_hash"] == remote_hash(remote, profile)[0]


def test_shared_cells_get_the_canonical_text_of_each_cell():
    """Rows sharing one object are given its text once; equal but distinct objects, each theirs.

    ``True`` and ``1`` (or ``[True]`` and ``[1]``) are equal in Python, not canonically: rows are
    told apart by identity only, so each keeps its own text.
    """
    rng = random.Random(11)
    shared = [["b", " a"], [True], [1], "x ", True, 1, None, ["a", "b"]]
    values = [rng.choice(shared) for _ in range(3000)] + [[1], [True], 1.0]  # fresh objects too
    profile = Profile("x", None, {"diff": {"list_as_sets": ["f"]}})
    got = canonical_series(pd.Series(values, dtype=object), "f", profile)
    assert got.tolist() == [dump_value(canonical(v, as_set=True)) for v in values]
    assert got.iloc[-3] != got.iloc[-2] and got.iloc[-3] == "[1]"

"""Pre-images: every update row of result.json carries the object as Director held it."""

from __future__ import annotations

import json

import pandas as pd
from test_apply import session_for, sim  # noqa: F401 - the simulator fixture

from directorsync.preimage import as_objects
from directorsync.report.console import write_result_json

BEFORE = [{"path": "/data_hot/", "retention": 1}]


def test_update_rows_record_the_object_as_it_was(sim, samples, tenants_file, tmp_path):  # noqa: F811
    book = samples / "core_config.xlsx"
    with session_for(sim, tenants_file, tmp_path) as s:
        first = s.plan("core", book, ["repos"])
        s.apply(first)
        row = first.rows.iloc[0]
        [listed] = [
            o
            for o in s.client.list_objects(first.pool_uuid, row["node_id"], "Repos")
            if o["name"] == row["key"]
        ]
        # someone changes the repo on Director: the next apply puts it back, recording it first
        path = f"Repos/{listed['id']}"
        s.client.write("PUT", first.pool_uuid, row["node_id"], path, {"hiddenrepopath": BEFORE})
    with session_for(sim, tenants_file, tmp_path) as s:
        result = s.apply(s.plan("core", book, ["repos"]))
    [updated] = [r for r in result["rows"] if r["status"] == "UPDATED"]
    assert (updated["key"], updated["node_id"]) == (row["key"], row["node_id"])
    before = updated["before"]
    assert before["id"] == listed["id"] == updated["remote_id"] and before["name"] == row["key"]
    assert before["hiddenrepopath"] == BEFORE  # the read field, named as the plan compares it
    assert updated["payload"]["hiddenrepopath"] != BEFORE
    assert not any(k.startswith("_") for k in before)
    assert all("before" not in r for r in result["rows"] if r["status"] != "UPDATED")
    out = write_result_json(result, tmp_path / "result.json")  # checked against the schema
    kept = json.loads(out.read_text())
    assert next(r for r in kept["rows"] if r["status"] == "UPDATED")["before"] == before


def test_listing_rows_become_objects_without_absent_fields_or_our_columns():
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "retention": [30, 40],
            "user": [float("nan"), "admin"],  # absent on a: left out
            "store_front_port": [None, None],  # Director's null: kept
            "_node_id": ["n", "n"],
        }
    )
    assert as_objects(frame) == [
        {"id": "a", "retention": 30, "store_front_port": None},
        {"id": "b", "retention": 40, "user": "admin", "store_front_port": None},
    ]
    assert type(as_objects(frame)[0]["retention"]) is int  # a Python value, not numpy

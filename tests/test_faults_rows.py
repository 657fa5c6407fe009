"""Rows that end right under faults, against the simulator's fault rules. Issue 18, items 1-5."""

from __future__ import annotations

import pytest
from conftest import TOKEN
from test_apply import session_for, writes

from directorsync.simulator import Simulator


@pytest.fixture
def sim(tenants_file):
    with Simulator(seed=tenants_file, token=TOKEN) as simulator:
        yield simulator


def repo_posts(sim) -> list[dict]:
    return [r for r in writes(sim) if r["path"].endswith("/Repos")]


def test_a_validation_refusal_in_a_failed_order_is_reported_at_once(
    sim, samples, tenants_file, tmp_path
):
    refusal = "hiddenrepopath: retention 90 exceeds the licence limit of 30 days"
    sim.add_fault(kind="order_fail", method="POST", resource="Repos", count=None, message=refusal)
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["repos"])
        result = s.apply(plan)
    rows = result["rows"]
    assert rows and {r["status"] for r in rows} == {"ERROR"}
    assert {r["error"] for r in rows} == {refusal}
    assert len(repo_posts(sim)) == len(rows), "one POST per row: a refusal is not retried"
    assert {r["attempts"] for r in rows} == {1}


def test_a_job_failure_in_an_order_is_retried(sim, samples, tenants_file, tmp_path):
    sim.add_fault(kind="order_fail", method="POST", resource="Repos", count=2)
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["repos"])
        result = s.apply(plan)
    rows = result["rows"]
    assert {r["status"] for r in rows} == {"CREATED"}
    assert len(repo_posts(sim)) == len(rows) + 2

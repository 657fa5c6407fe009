"""Fresh reads (RefreshList, the simulator's stale listings) and verified applies, over loopback."""

from __future__ import annotations

import json

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import core_args, session_for, use_simulator

from directorsync.cli import cli
from directorsync.director.refresh import refresh_list, refresh_path
from directorsync.report.customer import render_html
from directorsync.verify import fresh_frame

LISTS = [
    ("ALPHA", "static_list", "10.0.0.1 | 10.0.0.2", None),
    ("BRAVO", "static_list", "10.0.1.1", None),
    ("CHARLIE", "dynamic_list", None, 86400),
]


def lists_workbook(path, rows=LISTS):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "UserDefinedList"
    sheet.append(["name", "list_type", "lists", "age_limit"])
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def listed_names(session, node_id):
    client = session.client
    return {
        o["name"] for o in client.list_objects(session.tenant("core").pool_uuid, node_id, "Lists")
    }


def test_refresh_paths_follow_the_documented_endpoints():
    assert refresh_path("Lists") == "Lists/refreshlist"
    assert refresh_path("/Users/") == "Users/refreshlist"
    assert refresh_path("Repos/RepoPaths") == "Repos/RepoPaths/refreshlist"
    assert refresh_path("Repos") is None  # no RefreshList documented for repos themselves
    assert refresh_path("AlertRules") is None


def test_stale_listing_until_refreshed_and_verification_reads_fresh(
    start_simulator, tenants_file, tmp_path
):
    sim = start_simulator(stale_listings=True)
    node = sim.node("sh01").id
    wb = lists_workbook(tmp_path / "lists.xlsx")
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", wb, ["user_defined_lists"])
        assert plan.counts()["create"] == 3
        unverified = s.apply(plan, verify=False)
        assert unverified["verification"]["status"] == "skipped"
        # a plain listing right after the writes is stale: the new lists are not there yet
        assert not {"ALPHA", "BRAVO", "CHARLIE"} & listed_names(s, node)
        # a fresh read refreshes first (the refresh's order is followed) and sees them
        sh01 = next(n for n in s.tenant("core").nodes if n.name == "sh01")
        frame = fresh_frame(s.inventory("core"), "user_defined_lists", sh01)
        assert {"ALPHA", "BRAVO", "CHARLIE"} <= set(frame["name"])
        assert {"ALPHA", "BRAVO", "CHARLIE"} <= listed_names(s, node)

        # an update: stale again until refreshed; the apply's verification refreshes first
        changed = lists_workbook(
            tmp_path / "changed.xlsx", [("ALPHA", "static_list", "10.9.9.9", None)]
        )
        plan = s.plan("core", changed, ["user_defined_lists"])
        assert plan.counts()["update"] == 1
        before = len(sim.requests())
        result = s.apply(plan)
    check = result["verification"]
    assert check["status"] == "converged", check
    assert check["checked"] == 1 and check["converged"] == 1 and check["refreshed"] == 1
    after = [(r["method"], r["pattern"].rsplit("}/", 1)[-1]) for r in sim.requests()[before:]]
    refresh = after.index(("POST", "Lists/refreshlist"))
    assert ("GET", "Lists") in after[refresh:], "the listing is read after the refresh"
    row = next(r for r in result["rows"] if r["key"] == "ALPHA")
    assert row["verification"] == {"status": "converged", "differences": []}


def test_a_plain_listing_is_stale_and_refresh_list_makes_it_current(
    start_simulator, tenants_file, tmp_path
):
    sim = start_simulator(stale_listings=True)
    node = sim.node("sh01").id
    with session_for(sim, tenants_file, tmp_path) as s:
        pool = s.tenant("core").pool_uuid
        s.client.write("POST", pool, node, "Lists/static", {"s_name": "ZULU", "lists": ["1"]})
        assert "ZULU" not in listed_names(s, node)
        assert refresh_list(s.client, pool, node, "Repos") is None  # none documented: no call
        outcome = refresh_list(s.client, pool, node, "Lists")
        assert outcome is not None and outcome.success
        assert "ZULU" in listed_names(s, node)


def test_force_refresh_plan_sees_what_a_plain_plan_misses(start_simulator, tenants_file, tmp_path):
    sim = start_simulator(stale_listings=True)
    node = sim.node("sh01").id
    wb = lists_workbook(tmp_path / "lists.xlsx", [("ZULU", "static_list", "1", None)])
    with session_for(sim, tenants_file, tmp_path) as s:
        pool = s.tenant("core").pool_uuid
        s.client.write("POST", pool, node, "Lists/static", {"s_name": "ZULU", "lists": ["1"]})
        assert s.plan("core", wb, ["user_defined_lists"]).counts()["create"] == 1  # stale
        fresh = s.plan("core", wb, ["user_defined_lists"], force_refresh=True)
    assert fresh.counts()["unchanged"] == 1 and fresh.counts()["create"] == 0
    refreshes = [r for r in sim.requests() if r["path"].endswith("/Lists/refreshlist")]
    assert len(refreshes) == 1


def test_verification_names_the_row_and_field_director_did_not_keep(
    simulator, tenants_file, tmp_path
):
    simulator.add_fault(
        kind="alter", resource="Lists", name="ALPHA", values={"lists": ["10.0.0.1"]}
    )
    wb = lists_workbook(tmp_path / "lists.xlsx")
    with session_for(simulator, tenants_file, tmp_path) as s:
        result = s.apply(s.plan("core", wb, ["user_defined_lists"]))
    check = result["verification"]
    assert check["status"] == "diverged"
    assert (check["checked"], check["converged"], check["diverged"]) == (3, 2, 1)
    [warning] = check["rows"]
    assert warning["key"] == "ALPHA" and warning["node_name"] == "sh01"
    assert warning["differences"] == [
        {"field": "lists", "applied": ["10.0.0.1", "10.0.0.2"], "director": ["10.0.0.1"]}
    ]
    assert "ALPHA" in warning["warning"] and "lists" in warning["warning"]
    row = next(r for r in result["rows"] if r["key"] == "ALPHA")
    assert row["status"] == "CREATED" and row["verification"]["status"] == "diverged"
    html = render_html(result)
    assert 'id="verification"' in html and "ALPHA" in html and "Director has" in html


def test_cli_apply_verifies_by_default_and_no_verify_apply_skips(
    simulator, tenants_file, tmp_path, monkeypatch
):
    simulator.add_fault(
        kind="alter", resource="Lists", name="BRAVO", values={"lists": ["0.0.0.0"]}, count=None
    )
    use_simulator(monkeypatch, simulator, tmp_path)
    wb = lists_workbook(tmp_path / "lists.xlsx")
    args = core_args(tenants_file, wb, "user_defined_lists")
    runner = CliRunner()
    first = len(simulator.requests())
    res = runner.invoke(
        cli, ["apply", *args, "--auto-approve"], standalone_mode=False, catch_exceptions=False
    )
    assert res.return_value == 0  # a value Director changed is a warning, not a failed row
    assert "Director did not keep 1 row(s)" in res.output and "BRAVO" in res.output
    verified_gets = _list_gets(simulator.requests()[first:])
    [folder] = (tmp_path / "reports" / "core").iterdir()
    result = json.loads((folder / "result.json").read_text())
    assert result["verification"]["status"] == "diverged"
    assert "BRAVO" in (folder / "report.html").read_text()

    wb = lists_workbook(tmp_path / "more.xlsx", [("DELTA", "static_list", "1", None)])
    args = core_args(tenants_file, wb, "user_defined_lists")
    before = len(simulator.requests())
    res = runner.invoke(
        cli,
        ["apply", *args, "--no-verify-apply", "--auto-approve"],
        standalone_mode=False,
        catch_exceptions=False,
    )
    assert res.return_value == 0 and "verify: skipped" in res.output
    after = simulator.requests()[before:]
    # one listing fewer than the verified apply: no read-back (the plan's listing and the
    # ledger's recording of owned objects and applied state remain), and no refresh
    assert _list_gets(after) == verified_gets - 1
    assert not [r for r in after if r["path"].endswith("refreshlist")]


def test_alter_fault_needs_values(simulator):
    with pytest.raises(Exception, match="values"):
        simulator.add_fault(kind="alter", resource="Lists")


def _list_gets(requests: list[dict]) -> int:
    """How many times the Lists of a node were listed."""
    return sum(1 for r in requests if r["method"] == "GET" and r["path"].endswith("/Lists"))

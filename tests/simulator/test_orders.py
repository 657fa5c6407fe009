"""Contract §6 statements 7–11.

Monitor payloads, order duration, apply-on-completion, fetch orders and their rows.
"""

from __future__ import annotations

import re

import pytest

from .support import ORDER_PATH, rule_body

#: what v2 reads from fetched rules (contract §2.9 / §6.11)
WRITE_FIELDS = (
    "risk", "repos", "aggregate", "condition_option", "condition_value", "limit", "timerange_day",
    "timerange_hour", "timerange_minute", "searchname", "description", "owner", "active", "query",
    "log_source", "manageable_by", "attack_tag", "assigned_to", "metadata",
)  # fmt: skip
PATH = {"name": "slow", "hiddenrepopath": [{"path": "/data_hot/", "retention": 5}]}


def test_s07_running_payload(be, sim):
    sim.configure(job_ms=60_000)
    payload = be.poll(be.send("POST", "Repos", PATH))
    assert set(payload) == {"request", "response"}
    assert payload["response"] == {}
    assert payload["request"]["method"] == "POST"
    assert payload["request"]["data"] == PATH


def test_s07_success_payload(be):
    payload = be.wait(be.send("POST", "Repos", PATH))
    response = payload["response"]
    assert set(response) == {"success", "errors", "message", "node_change_count"}
    assert (
        response["success"] is True
        and response["errors"] == []
        and response["node_change_count"] == -1
    )
    assert response["message"]
    assert "status" not in payload


def test_s07_failure_payload(be):
    be.repo("dup")
    payload = be.wait(be.send("POST", "Repos", {**PATH, "name": "dup"}))
    response = payload["response"]
    assert response["success"] is False
    assert response["errors"] == [response["message"]]
    assert "name" in response["message"] and "'dup'" in response["message"]
    assert "status" not in payload


def test_s07_data_node_suffix_is_served_for_fetch_orders(sh):
    r = sh.send("POST", "MitreAttacks/fetch", {})
    match = ORDER_PATH.match(r.json()["message"])
    assert match["dn"] == f"/{match['node']}"
    assert sh.poll(r)["response"]["success"] is True


def test_s08_orders_complete_on_the_first_poll_with_job_ms_0(be):
    assert be.poll(be.send("POST", "Repos", PATH))["response"]["success"] is True


def test_s08_job_ms_is_configurable_and_orders_complete_when_due(be, sim):
    sim.configure(job_ms=5_000)
    r = be.send("POST", "Repos", PATH)
    assert be.poll(r)["response"] == {}
    sim.advance(3_000)
    assert be.poll(r)["response"] == {}
    sim.advance(2_000)
    assert be.poll(r)["response"]["success"] is True


def test_s08_orders_complete_in_real_time_too(be, sim):
    sim.configure(job_ms=30)
    r = be.send("POST", "Repos", PATH)
    payload = be.wait(r, polls=10_000)  # a busy client; finishes after ~30 ms of wall time
    assert payload["response"]["success"] is True


def test_s09_write_applies_only_when_its_order_completes(be, sim):
    sim.configure(job_ms=10_000)
    r = be.send("POST", "Repos", PATH)
    assert "slow" not in {x["name"] for x in be.items("Repos")}
    sim.advance(10_000)
    assert "slow" in {x["name"] for x in be.items("Repos")}  # any later request completes it
    assert be.poll(r)["response"]["success"] is True


def test_s09_edit_and_delete_also_wait_for_completion(be, sim):
    rid = be.repo("later")
    sim.configure(job_ms=10_000)
    be.send("PUT", f"Repos/{rid}", {"hiddenrepopath": [{"path": "/cold_nfs/", "retention": 400}]})
    be.send("DELETE", f"Repos/{rid}")
    assert be.one("Repos", "name", "later")["repopath"][0]["retention"] == 30
    sim.advance(10_000)
    assert "later" not in {x["name"] for x in be.items("Repos")}


def test_s09_completed_state_survives_until_reset(be, sim):
    be.repo("kept")
    for _ in range(3):
        assert "kept" in {x["name"] for x in be.items("Repos")}
    sim.reset()
    assert "kept" not in {x["name"] for x in be.items("Repos")}


def test_s09_each_write_takes_effect_exactly_once(be, sim):
    sim.configure(job_ms=1_000)
    r = be.send("POST", "Repos", PATH)
    sim.advance(1_000)
    for _ in range(5):
        assert be.poll(r)["response"]["success"] is True
    assert [x["name"] for x in be.items("Repos")].count("slow") == 1
    assert sum(1 for o in sim.state()["orders"] if o["state"] == "success") == 1


@pytest.mark.parametrize(
    "path",
    [
        "Repos/RemoteRepos/fetch",
        "MitreAttacks/fetch",
        "AlertRules/MyAlertRules/fetch",
        "AlertRules/VendorAlertRules/fetch",
    ],
)
def test_s10_fetch_orders_carry_rows_with_success(sh, path):
    r = sh.send("POST", path, {})
    assert re.search(r"/orders/[0-9a-f-]{36}/[0-9a-f]{32}$", r.json()["message"])
    response = sh.wait(r)["response"]
    assert response["success"] is True and isinstance(response["rows"], list)


def test_s10_rows_are_computed_when_the_order_completes(sh, sim):
    sim.configure(job_ms=1_000)
    r = sh.send("POST", "AlertRules/MyAlertRules/fetch", {})
    sim.configure(job_ms=0)
    owner = sh.one("Users", "username", "admin")["id"]
    sh.ok("POST", "AlertRules", rule_body("late", owner))
    sim.advance(1_000)
    assert [row["name"] for row in sh.poll(r)["response"]["rows"]] == ["late"]


def test_s11_alert_rule_rows_have_id_name_and_write_fields(sh):
    owner = sh.one("Users", "username", "admin")["id"]
    body = rule_body("Rule A", owner, description="d", log_source=["Windows"], throttling_enabled="on",
                     throttling_field="user", throttling_time_range=60, flush_on_trigger="on")  # fmt: skip
    sh.ok("POST", "AlertRules", body)
    [row] = sh.fetch("AlertRules/MyAlertRules/fetch")
    assert re.fullmatch(r"[0-9a-f]{24}", row["id"]) and row["name"] == row["searchname"] == "Rule A"
    for field in WRITE_FIELDS:
        assert field in row, field
    assert {k: row[k] for k in body} == body
    assert row["active"] is True


def test_s11_mitre_rows_have_id_and_hash(sh):
    rows = sh.fetch("MitreAttacks/fetch")
    assert rows
    for row in rows:
        assert set(row) == {"id", "hash", "attack_id", "attack_category", "attack_tag"}
        assert re.fullmatch(r"[0-9a-f]{24}", row["id"]) and re.fullmatch(
            r"[0-9a-f]{32}", row["hash"]
        )


def test_s11_fetch_filters_active_and_log_source(sh):
    owner = sh.one("Users", "username", "admin")["id"]
    sh.ok("POST", "AlertRules", rule_body("win", owner, log_source=["Windows"]))
    sh.ok("POST", "AlertRules", rule_body("lin", owner, log_source=["Linux"]))
    rows = sh.fetch("AlertRules/MyAlertRules/fetch", {"log_source": ["Windows"]})
    assert [r["name"] for r in rows] == ["win"]
    lin = next(r for r in sh.fetch("AlertRules/MyAlertRules/fetch") if r["name"] == "lin")
    sh.ok("POST", f"AlertRules/{lin['id']}/deactivate", {})
    assert [r["name"] for r in sh.fetch("AlertRules/MyAlertRules/fetch", {"active": "true"})] == [
        "win"
    ]
    assert [r["name"] for r in sh.fetch("AlertRules/MyAlertRules/fetch", {"active": False})] == [
        "lin"
    ]

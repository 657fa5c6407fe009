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


#: the samples' storage nodes have no ip_private: alert rules reach their repos by the fallback
FALLBACK = {"inputs.public_ip_fallback": True}


def alert_workbook(path, repos: list[str]) -> None:
    """An Alert sheet with one rule per repo (``r_<repo>``), and a Repo sheet naming them."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Repo"
    sheet.append(["cleaned_repo_name", "storage_paths", "retention_days"])
    for repo in repos:
        sheet.append([repo, "/data_hot", 30])
    alerts = book.create_sheet("Alert")
    alerts.append(
        ["name", "settings.risk", "settings.aggregate", "settings.condition.condition_option"]
        + ["settings.condition.condition_value", "settings.livesearch_data.limit"]
        + ["settings.repos", "settings.livesearch_data.query"]
    )
    for repo in repos:
        alerts.append(
            [f"r_{repo}", "low", "max", "greaterthan", 0, 100, f"['1.2.3.4:5504/{repo}']", "x"]
        )
    book.save(path)


def test_alert_rules_whose_repos_are_not_planned_nor_on_director_are_blocked(
    sim, tenants_file, tmp_path
):
    """Item 1, the rest: only alert rules are planned; a repo on Director lets its rule through."""
    xlsx = tmp_path / "alerts.xlsx"
    alert_workbook(xlsx, ["Repo_here", "Repo_gone"])
    with session_for(sim, tenants_file, tmp_path, **FALLBACK) as s:
        s.client.write("POST", s.tenant("core").pool_uuid, s.tenant("core").nodes[1].id,
                       "Repos", {"name": "Repo_here", "hiddenrepopath": [
                           {"path": "/opt/immune/storage/", "retention": 30}]})  # fmt: skip
        plan = s.plan("core", xlsx, ["alert_rules"])
        result = s.apply(plan)
    rows = {r["key"]: r for r in result["rows"]}
    assert rows["r_Repo_here"]["status"] == "CREATED"
    gone = rows["r_Repo_gone"]
    assert (gone["status"], gone["reason"]) == (
        "SKIP",
        "repo 'Repo_gone' is not on lb-backend01, lb-backend02 and is not planned in this run "
        "(the resources planned do not include repos): plan the Repo sheet with the alert rules, "
        "or create the repo first",
    )
    sent = [r for r in writes(sim) if r["path"].endswith("/AlertRules")]  # creates
    assert [r["body"]["data"]["searchname"] for r in sent] == ["r_Repo_here"]


def test_alert_rules_whose_repos_cannot_be_listed_are_blocked(sim, tenants_file, tmp_path):
    xlsx = tmp_path / "alerts.xlsx"
    alert_workbook(xlsx, ["Repo_a"])
    sim.add_fault(kind="http_503", method="GET", resource="Repos", count=None)
    settings = {**FALLBACK, "director.list_retries": 0}
    with session_for(sim, tenants_file, tmp_path, **settings) as s:
        plan = s.plan("core", xlsx, ["repos", "alert_rules"])
        result = s.apply(plan)
    (rule,) = [r for r in result["rows"] if r["resource"] == "alert_rules"]
    assert rule["status"] == "SKIP"
    failed = (
        f"GET configapi/{plan.pool_uuid}/506caf32de83054497d07c3c632a98cb/Repos{{}} failed: HTTP "
        "503: simulated HTTP 503 (http_503)"
    )
    assert rule["reason"] == (
        "repo 'Repo_a' could not be checked (could not list Repos on node lb-backend01: "
        f"{failed.format('')}); it is not planned in this run (could not list Repos/RepoPaths on "
        f"node lb-backend01: {failed.format('/RepoPaths')}; its rows are not planned, the rest "
        "goes on)"
    )
    assert [r for r in writes(sim) if "/AlertRules" in r["path"]] == []


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


def test_references_are_normalised_like_the_names_they_point_to(sim, tenants_file, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    repos = book.active
    repos.title = "Repo"
    repos.append(["original_repo_name", "cleaned_repo_name", "storage_paths", "retention_days"])
    repos.append(["Repo-orig", " Repo_nb\u00a0", "/data_hot", 30])
    policies = book.create_sheet("RoutingPolicy")
    policies.append(["cleaned_policy_name", "catch_all"])
    policies.append(["rp_nb", "Repo-orig"])
    policies.append(["rp_direct", "\u00a0Repo_nb "])
    xlsx = tmp_path / "spaced.xlsx"
    book.save(xlsx)
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", xlsx, ["repos", "routing_policies"])
    rows = plan.rows.set_index(["resource", "key"])
    assert set(rows.loc["repos"].index) == {"Repo_nb"}
    routing = plan.rows[plan.rows["resource"] == "routing_policies"]
    assert set(routing["action"]) == {"create"}, routing[["key", "action", "reason"]]
    assert {p["catch_all"] for p in routing["payload"]} == {"Repo_nb"}


def test_alert_rules_whose_repo_was_skipped_are_blocked_before_sending(sim, tenants_file, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    repos = book.active
    repos.title = "Repo"
    repos.append(["cleaned_repo_name", "storage_paths", "retention_days"])
    repos.append(["Repo_bad", "/data_hot", "many"])
    repos.append(["Repo_ok", "/data_hot", 30])
    alerts = book.create_sheet("Alert")
    alerts.append(
        [
            "name",
            "settings.risk",
            "settings.aggregate",
            "settings.condition.condition_option",
            "settings.condition.condition_value",
            "settings.livesearch_data.limit",
            "settings.repos",
            "settings.livesearch_data.query",
        ]
    )
    alerts.append(["r_bad", "low", "max", "greaterthan", 0, 100, "['1.2.3.4:5504/Repo_bad']", "x"])
    alerts.append(["r_ok", "low", "max", "greaterthan", 0, 100, "['1.2.3.4:5504/Repo_ok']", "x"])
    xlsx = tmp_path / "alerts.xlsx"
    book.save(xlsx)
    with session_for(sim, tenants_file, tmp_path, **FALLBACK) as s:
        plan = s.plan("core", xlsx, ["repos", "alert_rules"])
        result = s.apply(plan)
    rows = {(r["resource"], r["key"]): r for r in result["rows"]}
    bad = rows[("alert_rules", "r_bad")]
    assert bad["status"] == "SKIP"
    assert bad["reason"] == (
        "repo 'Repo_bad' was not planned ('many' is not an integer in [1, 36500]): fix its row "
        "in the Repo sheet first"
    )
    assert rows[("alert_rules", "r_ok")]["status"] == "CREATED"
    sent = [r for r in writes(sim) if "/AlertRules" in r["path"]]
    assert [r["body"]["data"]["searchname"] for r in sent if "searchname" in r["body"]["data"]] == [
        "r_ok"
    ]


def test_a_listing_that_fails_after_a_write_is_retried_inside_the_row(
    sim, samples, tenants_file, tmp_path
):
    with session_for(sim, tenants_file, tmp_path, **{"director.list_retries": 3}) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["repos"])
        node = "lb-backend01"
        sim.add_fault(kind="drop", method="POST", resource="Repos", node=node, name="Repo_system")
        sim.add_fault(kind="http_503", method="GET", resource="Repos", node=node, count=5)
        result = s.apply(plan)
    row = next(r for r in result["rows"] if r["key"] == "Repo_system" and r["node_name"] == node)
    assert row["status"] == "CREATED", row
    assert {r["status"] for r in result["rows"]} == {"CREATED"}
    posts = [r for r in repo_posts(sim) if r["body"]["data"]["name"] == "Repo_system"]
    assert len(posts) == 2  # one per backend: the dropped create was confirmed, not re-sent


def test_a_listing_that_keeps_failing_gives_error_rows_on_its_node_only(
    sim, samples, tenants_file, tmp_path
):
    """Item 4: the rows of that resource on that node are ERROR; everything else goes on."""
    sim.add_fault(
        kind="http_503", method="GET", resource="RoutingPolicies", node="lb-backend02", count=None
    )
    with session_for(sim, tenants_file, tmp_path, **{"director.list_retries": 2}) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["repos", "routing_policies"])
        assert [n for n in plan.notes if n["level"] == "error"] == []
        assert plan.has_errors
        routing = plan.rows[plan.rows["resource"] == "routing_policies"]
        failed = routing[routing["node_name"] == "lb-backend02"]
        assert len(failed) and set(failed["action"]) == {"error"}
        assert set(failed["reason"]) == {
            "could not list RoutingPolicies on node lb-backend02: GET configapi/"
            f"{plan.pool_uuid}/01925abf82fe0db0a75c190c4316b8a6/RoutingPolicies failed: HTTP "
            "503: simulated HTTP 503 (http_503)"
        }
        assert set(routing[routing["node_name"] == "lb-backend01"]["action"]) == {"create"}
        result = s.apply(plan)
    by_status = {}
    for r in result["rows"]:
        by_status.setdefault((r["resource"], r["node_name"], r["status"]), 0)
        by_status[(r["resource"], r["node_name"], r["status"])] += 1
    assert {k for k in by_status if k[2] != "CREATED"} == {
        ("routing_policies", "lb-backend02", "ERROR")
    }
    assert ("routing_policies", "lb-backend01", "CREATED") in by_status
    gets = [
        r for r in sim.requests() if r["method"] == "GET" and r["path"].endswith("/RoutingPolicies")
    ]
    assert sum("01925abf" in r["path"] for r in gets) == 3  # list_retries 2: three attempts


def test_a_listing_of_another_resource_that_fails_stops_only_its_resource(
    sim, samples, tenants_file, tmp_path
):
    sim.add_fault(kind="http_503", method="GET", resource="Repos", count=None)
    with session_for(sim, tenants_file, tmp_path, **{"director.list_retries": 0}) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["routing_policies"])
    errors = [n for n in plan.notes if n["level"] == "error"]
    assert [n["resource"] for n in errors] == ["routing_policies"]
    assert errors[0]["message"].startswith("could not list Repos on node ")

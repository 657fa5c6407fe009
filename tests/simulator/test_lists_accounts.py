"""Contract §6 statements 22–24.

Lists, Users / IncidentUserGroups / alert rule references, refreshlist endpoints.
"""

from __future__ import annotations

import pytest

from .support import rule_body

# -- 22: Lists -------------------------------------------------------------------------------


def test_s22_static_list_name_is_upper_cased(sh):
    sh.ok("POST", "Lists/static", {"s_name": "ip_Blacklist", "lists": ["10.1.1.1", "10.2.2.2"]})
    item = sh.one("Lists", "name", "IP_BLACKLIST")
    assert item["list_type"] == "static_list" and item["age_limit"] == 0
    assert item["lists"] == ["10.1.1.1", "10.2.2.2"]
    assert "s_name" not in item
    documented = {
        "id",
        "name",
        "lists",
        "user",
        "tid",
        "lists_vendor",
        "list_type",
        "age_limit",
        "last_updated",
        "active",
        "hidden",
        "vid",
    }
    assert set(item) == documented


def test_s22_dynamic_list_age_limit_in_seconds(sh):
    sh.ok(
        "POST",
        "Lists/dynamic",
        {"d_name": "Device_ip", "agelimit_day": 1, "agelimit_hour": 2, "agelimit_minute": 30},
    )
    item = sh.one("Lists", "name", "DEVICE_IP")
    assert item["list_type"] == "dynamic_list" and item["age_limit"] == 86400 + 7200 + 1800
    sh.ok(
        "PUT",
        f"Lists/dynamic/{item['id']}",
        {"d_name": "ignored", "agelimit_day": 0, "agelimit_hour": 0, "agelimit_minute": 30},
    )
    assert sh.one("Lists", "name", "DEVICE_IP")["age_limit"] == 1800


def test_s22_static_edit_replaces_values(sh):
    sh.ok("POST", "Lists/static", {"s_name": "hosts", "lists": ["a"]})
    lid = sh.one("Lists", "name", "HOSTS")["id"]
    sh.ok("PUT", f"Lists/static/{lid}", {"s_name": "hosts", "lists": ["b", "c"]})
    assert sh.get(f"Lists/{lid}").json()["lists"] == ["b", "c"]
    sh.bad(
        "PUT",
        f"Lists/dynamic/{lid}",
        {"agelimit_day": 0, "agelimit_hour": 0, "agelimit_minute": 1},
        status=404,
    )


@pytest.mark.parametrize(
    "name", ["A", "_LEADING", "TRAILING_", "-dash", "with space", "dots.x", "Ä_UMLAUT", "X" * 101]
)
def test_s22_name_rule_is_enforced(sh, name):
    assert sh.bad("POST", "Lists/static", {"s_name": name, "lists": []}).startswith("s_name:")


def test_s22_name_rule_accepts_the_limits(sh):
    for name in ("AB", "A_B", "x" * 100, "LIST_152"):
        sh.ok("POST", "Lists/static", {"s_name": name, "lists": []})


def test_s22_refreshlist_and_trash(sh):
    sh.ok("POST", "Lists/refreshlist", {})
    sh.ok("POST", "Lists/static", {"s_name": "gone", "lists": []})
    sh.ok("DELETE", f"Lists/{sh.one('Lists', 'name', 'GONE')['id']}")
    assert sh.items("Lists") == []


# -- 23: Users, IncidentUserGroups, alert rule references ------------------------------------


def test_s23_users_and_incident_groups_are_served(sh):
    admin = sh.one("Users", "username", "admin")
    assert {"id", "username", "email", "fullname", "usergroup", "active"} <= set(admin)
    assert "password" not in admin
    groups = sh.items("IncidentUserGroups")
    assert groups and all({"id", "name", "user", "usergroup", "users"} <= set(g) for g in groups)


def _refs(sh):
    users = {u["username"]: u["id"] for u in sh.items("Users")}
    group = sh.items("IncidentUserGroups")[0]["id"]
    attack = sh.fetch("MitreAttacks/fetch")[0]
    return users, group, attack


def test_s23_alert_rule_references_resolve(sh):
    users, group, attack = _refs(sh)
    body = rule_body(
        "refs",
        users["securite"],
        assigned_to=users["admin"],
        manageable_by=[group],
        attack_tag=[attack["id"], attack["hash"]],
    )
    sh.ok("POST", "AlertRules", body)
    [row] = sh.fetch("AlertRules/MyAlertRules/fetch")
    assert row["owner"] == users["securite"] and row["manageable_by"] == [group]


@pytest.mark.parametrize(
    "field,value,text",
    [
        ("owner", "0" * 24, "owner: unknown user id"),
        ("assigned_to", "0" * 24, "assigned_to: unknown user id"),
        ("manageable_by", ["0" * 24], "manageable_by: unknown incident user group id"),
        ("attack_tag", ["deadbeef"], "attack_tag: unknown MITRE attack id 'deadbeef'"),
        (
            "repos",
            ["10.109.234.1:5504/Repo-core-cloud"],
            "repos: unknown repo '10.109.234.1:5504/Repo-core-cloud'",
        ),
    ],
)
def test_s23_unknown_references_fail_the_order(sh, field, value, text):
    users, _, _ = _refs(sh)
    body = {**rule_body("bad", users["admin"]), field: value}
    assert sh.fails("POST", "AlertRules", body).startswith(text)
    assert sh.fetch("AlertRules/MyAlertRules/fetch") == []


def test_s23_alert_repos_come_from_backends_of_the_pool(sh, be, be2):
    be.repo("Repo_cloud")
    repos = {row["repo"] for row in sh.fetch("Repos/RemoteRepos/fetch")}
    assert {
        "127.0.0.1:5504/_logpoint",
        "10.1.0.1:5504/Repo_cloud",
        "10.1.0.2:5504/default",
    } <= repos
    users, _, _ = _refs(sh)
    sh.ok(
        "POST", "AlertRules", rule_body("cloud", users["admin"], repos=["10.1.0.1:5504/Repo_cloud"])
    )
    assert "10.1.0.2:5504/Repo_cloud" in sh.fails(
        "POST", "AlertRules", rule_body("c2", users["admin"], repos=["10.1.0.2:5504/Repo_cloud"])
    )


def test_s23_alert_rule_actions(sh):
    users, _, _ = _refs(sh)
    sh.ok("POST", "AlertRules", rule_body("act", users["admin"]))
    rid = sh.fetch("AlertRules/MyAlertRules/fetch")[0]["id"]
    group = sh.one("UserGroups", "name", "SOC Analysts")["id"]
    sh.ok("POST", f"AlertRules/{rid}/deactivate", {})
    sh.ok(
        "POST",
        f"AlertRules/{rid}/share",
        {"rbac_config": [{"group_id": group, "group_permission": "READ"}]},
    )
    assert [r["id"] for r in sh.fetch("AlertRules/SharedAlertRules/fetch")] == [rid]
    sh.ok("POST", f"AlertRules/{rid}/transferOwnership", {"userid": users["etudes"]})
    [row] = sh.fetch("AlertRules/MyAlertRules/fetch")
    assert (row["active"], row["owner"], row["rbac_config"][0]["group_permission"]) == (
        False,
        users["etudes"],
        "READ",
    )
    sh.ok("POST", f"AlertRules/{rid}/unshare", {})
    sh.ok("POST", f"AlertRules/{rid}/activate", {})
    assert sh.fetch("AlertRules/SharedAlertRules/fetch") == []
    assert "userid: unknown user id" in sh.fails(
        "POST", f"AlertRules/{rid}/transferOwnership", {"userid": "0" * 24}
    )
    assert sh.bad(
        "POST", f"AlertRules/{rid}/share", {"rbac_config": [{"group_id": group}]}
    ).startswith("rbac_config[0]")


def test_s23_alert_rule_edit_keeps_owner(sh):
    users, _, _ = _refs(sh)
    sh.ok("POST", "AlertRules", rule_body("e", users["admin"]))
    rid = sh.fetch("AlertRules/MyAlertRules/fetch")[0]["id"]
    sh.ok("PUT", f"AlertRules/{rid}", rule_body("e2", users["securite"], risk="critical"))
    [row] = sh.fetch("AlertRules/MyAlertRules/fetch")
    assert (row["name"], row["risk"], row["owner"]) == ("e2", "critical", users["admin"])


@pytest.mark.parametrize(
    "change,field",
    [
        ({"risk": "severe"}, "risk"),
        ({"limit": 0}, "limit"),
        ({"condition_value": "5"}, "condition_value"),
        ({"timerange_minute": None}, "timerange_minute"),
        ({"flush_on_trigger": True}, "flush_on_trigger"),
        ({"throttling_enabled": "on"}, "throttling_field"),
        ({"repos": "127.0.0.1:5504/_logpoint"}, "repos"),
    ],
)
def test_s23_malformed_alert_rules_are_400(sh, change, field):
    body = {k: v for k, v in {**rule_body("m", "x"), **change}.items() if v is not None}
    assert sh.bad("POST", "AlertRules", body).startswith(f"{field}:")


def test_s23_user_lifecycle(sh):
    group = sh.one("UserGroups", "name", "SOC Analysts")["id"]
    body = {
        "username": "analyst",
        "password": "s3cret!",
        "email": "a@x.org",
        "firstname": "An",
        "lastname": "Alyst",
        "usergroup": [group],
    }
    sh.ok("POST", "Users", body)
    user = sh.one("Users", "username", "analyst")
    assert user["fullname"] == "An Alyst" and "password" not in user
    assert "must be deactivated" in sh.fails("DELETE", f"Users/{user['id']}")
    sh.ok("POST", f"Users/{user['id']}/deactivate", {})
    sh.ok("DELETE", f"Users/{user['id']}")
    assert sh.bad("POST", "Users", {**body, "password": "1234"}).startswith("password:")


def test_s23_incident_user_group_create(sh):
    sh.ok(
        "POST", "UserGroups", {"name": "IR", "object_permission": {"include_all_permission": True}}
    )
    gid = sh.one("UserGroups", "name", "IR")["id"]
    sh.ok("POST", "IncidentUserGroups", {"selected_usergroups": [gid]})
    assert sh.one("IncidentUserGroups", "name", "IR")["usergroup"] == gid


# -- 24: refreshlist -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "Repos/RepoPaths/refreshlist",
        "EnrichmentSource/refreshlist",
        "Lists/refreshlist",
        "Users/refreshlist",
        "UserGroups/refreshlist",
        "NormalizationPackage/CompiledNormalizers/refreshlist",
    ],
)
def test_s24_refreshlist_endpoints_return_normal_orders(sh, path):
    r = sh.send("POST", path, {})
    assert r.status_code == 200 and set(r.json()) == {"status", "message"}
    assert sh.wait(r)["response"]["success"] is True
    bare = sh.session.post(f"{sh.base}/{path}", timeout=5)  # no envelope
    assert bare.status_code == 400

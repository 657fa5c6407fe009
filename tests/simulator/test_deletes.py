"""Trash (``DELETE {Resource}/{id}``) for every resource the profiles handle.

An asynchronous order; refused — a failed order, nothing removed — for built-in objects and
objects in use.
"""

from __future__ import annotations

from typing import Any

import pytest

from .support import rule_body

HOT = [{"path": "/data_hot/", "retention": 90}]
DEVICE = {
    "name": "fw1",
    "ip": ["10.0.0.1"],
    "availability": "Minor",
    "confidentiality": "Minor",
    "integrity": "Minor",
}
SPEC = {"source": "threat_intelligence", "rules": [], "criteria": []}
NO_REFS = {"norm_policy": "None", "enrich_policy": "None", "routing_policy": "None"}


def _objects(api, resource: str) -> list[dict[str, Any]]:
    if resource == "AlertRules":
        return api.fetch("AlertRules/MyAlertRules/fetch")
    if resource == "SyslogCollector":
        return [a | {"id": a["uuid"]} for d in api.items("Devices") for a in d["col_apps"]]
    return api.items(resource)


def _create(api, resource: str) -> str:
    """Create one object of ``resource`` on the node; its id (uuid for a collector)."""
    bodies: dict[str, tuple[str, dict[str, Any]]] = {
        "Repos": ("Repos", {"name": "gone", "hiddenrepopath": HOT}),
        "RoutingPolicies": ("RoutingPolicies", {"policy_name": "gone", "catch_all": "default"}),
        "NormalizationPolicy": ("NormalizationPolicy", {"name": "gone"}),
        "ProcessingPolicy": ("ProcessingPolicy", {"policy_name": "gone", **NO_REFS}),
        "EnrichmentPolicy": ("EnrichmentPolicy", {"name": "gone", "specifications": [SPEC]}),
        "DeviceGroups": ("DeviceGroups", {"name": "gone", "description": "d"}),
        "Devices": ("Devices", DEVICE),
        "Lists": ("Lists/static", {"s_name": "GONE", "lists": ["a"]}),
    }
    if resource == "AlertRules":
        owner = api.one("Users", "username", "admin")["id"]
        api.ok("POST", "AlertRules", rule_body("gone", owner))
    elif resource == "SyslogCollector":
        api.ok("POST", "Devices", DEVICE)
        device = api.one("Devices", "name", "fw1")["id"]
        collector = {
            "device_id": device,
            "proxy_condition": "use_as_proxy",
            "parser": "SyslogParser",
            "charset": "utf_8",
        }
        api.ok("POST", "SyslogCollector", collector)
    else:
        api.ok("POST", *bodies[resource])
    return _objects(api, resource)[-1]["id"]


@pytest.mark.parametrize(
    "resource",
    [
        "Repos",
        "RoutingPolicies",
        "NormalizationPolicy",
        "ProcessingPolicy",
        "EnrichmentPolicy",
        "DeviceGroups",
        "Devices",
        "SyslogCollector",
        "AlertRules",
        "Lists",
    ],
)
def test_delete_is_an_order_applied_when_it_completes(sim, be, sh, resource):
    api = sh if resource in ("AlertRules", "Lists") else be
    oid = _create(api, resource)
    sim.configure(job_ms=5_000)
    answer = api.send("DELETE", f"{resource}/{oid}")
    assert answer.status_code == 200 and answer.json()["message"].startswith("monitorapi/")
    assert "success" not in api.poll(answer)["response"]  # still running
    assert oid in repr(sim.state()["nodes"])  # (a fetch would be an order behind this one)
    sim.advance(5_000)
    assert api.poll(answer)["response"]["success"] is True
    sim.configure(job_ms=0)
    assert oid not in [o["id"] for o in _objects(api, resource)]
    assert api.bad("DELETE", f"{resource}/{oid}", status=404)  # gone: unknown id


def test_device_group_with_devices_is_not_deleted(be):
    be.ok("POST", "DeviceGroups", {"name": "linux", "description": "d"})
    gid = be.one("DeviceGroups", "name", "linux")["id"]
    be.ok("POST", "Devices", {**DEVICE, "devicegroup": [gid]})
    be.ok("POST", "Devices", {**DEVICE, "name": "fw2", "devicegroup": [gid]})
    message = be.fails("DELETE", f"DeviceGroups/{gid}")
    assert message == (
        "id: device group 'linux' is used by device 'fw1' (and 1 more): delete or change that first"
    )
    assert be.one("DeviceGroups", "name", "linux")["devices"]  # nothing removed
    assert be.one("Devices", "name", "fw1")["device_groups"] == [gid]


def test_repo_searched_by_an_alert_rule_of_the_pool_is_not_deleted(be, sh):
    rid = be.repo("searched")
    owner = sh.one("Users", "username", "admin")["id"]
    sh.ok("POST", "AlertRules", rule_body("watch", owner, repos=["10.1.0.1:5504/searched"]))
    message = be.fails("DELETE", f"Repos/{rid}")
    assert "repo 'searched' is used by alert rule 'watch' on node acme-sh" in message
    rule = sh.fetch("AlertRules/MyAlertRules/fetch")[0]
    sh.ok("DELETE", f"AlertRules/{rule['id']}")
    be.ok("DELETE", f"Repos/{rid}")


def test_policies_used_by_a_processing_policy_are_not_deleted(be):
    be.ok("POST", "NormalizationPolicy", {"name": "np"})
    be.ok("POST", "RoutingPolicies", {"policy_name": "rp", "catch_all": "default"})
    rp = be.one("RoutingPolicies", "policy_name", "rp")["id"]
    body = {**NO_REFS, "policy_name": "pp", "norm_policy": "np", "routing_policy": rp}
    be.ok("POST", "ProcessingPolicy", body)
    np_id = be.one("NormalizationPolicy", "name", "np")["id"]
    assert "used by processing policy 'pp'" in be.fails("DELETE", f"NormalizationPolicy/{np_id}")
    assert "used by processing policy 'pp'" in be.fails("DELETE", f"RoutingPolicies/{rp}")
    pp = be.one("ProcessingPolicy", "policy_name", "pp")["id"]
    be.ok("DELETE", f"ProcessingPolicy/{pp}")  # users first, then what they used
    be.ok("DELETE", f"RoutingPolicies/{rp}")
    be.ok("DELETE", f"NormalizationPolicy/{np_id}")


@pytest.mark.parametrize(
    ("node", "resource", "key", "value"),
    [
        ("be", "Repos", "name", "_logpoint"),
        ("be", "RoutingPolicies", "policy_name", "default"),
        ("sh", "UserGroups", "name", "User Account Administrator"),
        ("sh", "IncidentUserGroups", "name", "SOC Analysts"),
    ],
)
def test_built_in_objects_are_not_deleted(request, node, resource, key, value):
    api = request.getfixturevalue(node)
    oid = api.one(resource, key, value)["id"]
    message = api.fails("DELETE", f"{resource}/{oid}")
    assert message.startswith("id: ") and "is a built-in object of node" in message
    assert api.one(resource, key, value)["id"] == oid

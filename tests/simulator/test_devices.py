"""Contract §6 statements 19–21.

Devices, DeviceGroups (and the lenient switch), SyslogCollector (and the plugins switch).
"""

from __future__ import annotations

import pytest

DEVICE = {
    "name": "fw1",
    "ip": ["10.0.0.1", "fw1.example.org"],
    "availability": "Major",
    "confidentiality": "Minimal",
    "integrity": "Minor",
}


def _group(api, name="linux", **extra):
    api.ok("POST", "DeviceGroups", {"name": name, "description": f"{name} hosts", **extra})
    return api.one("DeviceGroups", "name", name)["id"]


def _device(api, **extra):
    api.ok("POST", "Devices", {**DEVICE, **extra})
    return api.one("Devices", "name", extra.get("name", DEVICE["name"]))


# -- 19: Devices -----------------------------------------------------------------------------


def test_s19_devices_read_shape_differs_from_write_shape(be):
    gid = _group(be)
    device = _device(be, id="ignored", timezone="Europe/Brussels", devicegroup=[gid])
    assert device["risk_values"] == {
        "availability": "Major",
        "confidentiality": "Minimal",
        "integrity": "Minor",
    }
    assert (
        device["device_groups"] == [gid]
        and device["log_policies"] == []
        and device["col_apps"] == []
    )
    for write_only in ("devicegroup", "logpolicy", "availability", "confidentiality", "integrity"):
        assert write_only not in device
    assert device["timezone"] == "Europe/Brussels" and device["has_hostname"] is True
    assert be.get(f"Devices/{device['id']}").json() == device


@pytest.mark.parametrize("field", ["availability", "confidentiality", "integrity"])
def test_s19_risk_values_are_validated(be, field):
    message = be.bad("POST", "Devices", {**DEVICE, field: "High"})
    assert message.startswith(f"{field}: 'High' is not one of Minimal, Minor, Major, Critical")


def test_s19_device_group_ids_and_timezone_must_exist(be):
    assert be.fails("POST", "Devices", {**DEVICE, "devicegroup": ["0" * 24]}).startswith(
        "devicegroup: unknown device group id"
    )
    assert be.fails("POST", "Devices", {**DEVICE, "timezone": "Mars/Olympus"}).startswith(
        "timezone: unknown timezone"
    )


def test_s19_membership_is_consistent_from_the_device_side(be):
    linux, rsa = _group(be, "linux"), _group(be, "RSA")
    device = _device(be, devicegroup=[linux, rsa])
    assert be.one("DeviceGroups", "name", "RSA")["devices"] == [device["id"]]
    be.ok("PUT", f"Devices/{device['id']}", {**DEVICE, "devicegroup": [rsa]})
    assert be.one("DeviceGroups", "name", "linux")["devices"] == []
    be.ok("DELETE", f"Devices/{device['id']}")
    assert be.one("DeviceGroups", "name", "RSA")["devices"] == []


def test_s19_membership_is_consistent_from_the_group_side(be):
    device = _device(be)
    gid = _group(be, "linux", devices=[device["id"]])
    assert be.one("Devices", "name", "fw1")["device_groups"] == [gid]
    be.ok("PUT", f"DeviceGroups/{gid}", {"name": "linux", "description": "x", "devices": []})
    assert be.one("Devices", "name", "fw1")["device_groups"] == []
    be.ok(
        "PUT",
        f"DeviceGroups/{gid}",
        {"name": "linux", "description": "x", "devices": [device["id"]]},
    )
    assert "used by device 'fw1'" in be.fails("DELETE", f"DeviceGroups/{gid}")
    assert be.one("Devices", "name", "fw1")["device_groups"] == [gid]
    be.ok("DELETE", f"Devices/{device['id']}")
    be.ok("DELETE", f"DeviceGroups/{gid}")
    assert be.items("DeviceGroups") == []


# -- 20: DeviceGroups ------------------------------------------------------------------------


def test_s20_device_group_name_and_description_are_mandatory(be):
    assert be.bad("POST", "DeviceGroups", {"name": "", "description": "d"}).startswith(
        "name: must not be empty"
    )
    assert be.bad("POST", "DeviceGroups", {"name": "g"}).startswith("description: required")
    gid = _group(be, "g")
    message = be.bad("PUT", f"DeviceGroups/{gid}", {"id": gid, "name": "", "description": "new"})
    assert "lenient_devicegroup_empty_name" in message
    group = be.one("DeviceGroups", "id", gid)
    assert set(group) == {"id", "name", "description", "devices"}


def test_s20_lenient_switch_keeps_the_old_name(be, sim):
    gid = _group(be, "g")
    sim.configure(lenient_devicegroup_empty_name=True)
    be.ok("PUT", f"DeviceGroups/{gid}", {"id": gid, "name": "", "description": "new"})
    assert be.one("DeviceGroups", "id", gid) == {
        "id": gid,
        "name": "g",
        "description": "new",
        "devices": [],
    }


# -- 21: SyslogCollector ---------------------------------------------------------------------


def _pp(api):
    api.ok(
        "POST",
        "ProcessingPolicy",
        {
            "policy_name": "pp",
            "norm_policy": "None",
            "enrich_policy": "None",
            "routing_policy": "None",
        },
    )
    return api.one("ProcessingPolicy", "policy_name", "pp")["id"]


def test_s21_collector_is_exposed_in_col_apps_and_plugins(be, sim):
    device, pp = _device(be), _pp(be)
    body = {
        "device_id": device["id"],
        "proxy_condition": "None",
        "parser": "SyslogParser",
        "charset": "utf_8",
        "processpolicy": pp,
    }
    be.ok("POST", "SyslogCollector", body)
    [app] = be.one("Devices", "name", "fw1")["col_apps"]
    assert app["app"] == "SyslogCollector" and len(app["uuid"]) == 32 and app["processpolicy"] == pp
    assert {"proxy_ip", "hostname", "charset", "parser", "proxy_condition"} <= set(app)
    [plugin] = be.items(f"Devices/{device['id']}/plugins")
    documented = {
        "app",
        "charset",
        "parser",
        "proxy_condition",
        "ips",
        "sid",
        "hasLCP",
        "normalizer",
        "repo",
        "requestType",
        "CSRFToken",
        "LOGGEDINUSER",
    }
    assert set(plugin) == documented
    sim.configure(plugins_with_uuid=True)
    [plugin] = be.items(f"Devices/{device['id']}/plugins")
    assert plugin["uuid"] == app["uuid"] and plugin["processpolicy"] == pp


def test_s21_edit_and_trash_by_uuid(be):
    device = _device(be)
    be.ok(
        "POST",
        "SyslogCollector",
        {
            "device_id": device["id"],
            "proxy_condition": "use_as_proxy",
            "parser": "SyslogParser",
            "charset": "utf_8",
        },
    )
    uuid = be.one("Devices", "name", "fw1")["col_apps"][0]["uuid"]
    be.ok(
        "PUT",
        f"SyslogCollector/{uuid}",
        {"proxy_condition": "use_as_proxy", "parser": "LineParser", "charset": "ascii"},
    )
    [app] = be.one("Devices", "name", "fw1")["col_apps"]
    assert (app["uuid"], app["parser"], app["charset"]) == (uuid, "LineParser", "ascii")
    assert "already has a SyslogCollector" in be.fails(
        "POST",
        "SyslogCollector",
        {
            "device_id": device["id"],
            "proxy_condition": "use_as_proxy",
            "parser": "SyslogParser",
            "charset": "utf_8",
        },
    )
    be.ok("DELETE", f"SyslogCollector/{uuid}")
    assert be.one("Devices", "name", "fw1")["col_apps"] == []


@pytest.mark.parametrize(
    "body,field",
    [
        ({"proxy_condition": "proxy"}, "proxy_condition"),
        (
            {"proxy_condition": "use_as_proxy", "parser": "SyslogParser", "charset": "utf_8"},
            "device_id",
        ),
        ({"device_id": "x", "proxy_condition": "use_as_proxy", "charset": "utf_8"}, "parser"),
        (
            {
                "device_id": "x",
                "proxy_condition": "use_as_proxy",
                "parser": "JSONParser",
                "charset": "utf_8",
            },
            "parser",
        ),
        ({"device_id": "x", "proxy_condition": "None", "parser": "SyslogParser"}, "charset"),
        (
            {
                "device_id": "x",
                "proxy_condition": "None",
                "parser": "SyslogParser",
                "charset": "utf_8",
            },
            "processpolicy",
        ),
        (
            {"device_id": "x", "proxy_condition": "uses_proxy", "proxy_ip": ["1.1.1.1"]},
            "processpolicy",
        ),
    ],
)
def test_s21_malformed_collectors_are_400(be, body, field):
    assert be.bad("POST", "SyslogCollector", body).startswith(f"{field}:")


def test_s21_references_fail_the_order(be):
    device, pp = _device(be), _pp(be)
    base = {
        "device_id": device["id"],
        "proxy_condition": "None",
        "parser": "SyslogParser",
        "charset": "utf_8",
        "processpolicy": pp,
    }
    assert be.fails("POST", "SyslogCollector", {**base, "device_id": "0" * 24}).startswith(
        "device_id: unknown device id"
    )
    assert be.fails("POST", "SyslogCollector", {**base, "charset": "klingon"}).startswith(
        "charset: unknown charset"
    )
    assert be.fails("POST", "SyslogCollector", {**base, "processpolicy": "0" * 24}).startswith(
        "processpolicy: unknown processing policy id"
    )
    assert "klingon" not in be.items("Charsets")[0]["charsets"]


def test_s21_uses_proxy_needs_a_use_as_proxy_device(be):
    proxy, client = (
        _device(be, name="proxy", ip=["10.9.9.9"]),
        _device(be, name="client", ip=["10.0.0.7"]),
    )
    pp = _pp(be)
    uses = {
        "device_id": client["id"],
        "proxy_condition": "uses_proxy",
        "processpolicy": pp,
        "proxy_ip": ["10.9.9.9"],
        "hostname": ["client"],
    }
    assert be.fails("POST", "SyslogCollector", uses).startswith("proxy_ip[0]: '10.9.9.9'")
    be.ok(
        "POST",
        "SyslogCollector",
        {
            "device_id": proxy["id"],
            "proxy_condition": "use_as_proxy",
            "parser": "SyslogParser",
            "charset": "utf_8",
        },
    )
    be.ok("POST", "SyslogCollector", uses)
    app = be.one("Devices", "name", "client")["col_apps"][0]
    assert (app["proxy_ip"], app["hostname"]) == (["10.9.9.9"], ["client"])
    assert "is the proxy of device 'client'" in be.fails("DELETE", f"Devices/{proxy['id']}")
    assert "used by the SyslogCollector" in be.fails("DELETE", f"ProcessingPolicy/{pp}")

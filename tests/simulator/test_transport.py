"""Contract §6 statements 1–6.

URLs, per-node state, auth, plain HTTP, envelope, bare arrays, the exact mutation answer.
"""

from __future__ import annotations

import json
import socket

import pytest
import requests

from .support import ACME_POOL, HEX24, ORDER_PATH, TOKEN, rule_body

LISTS = [
    "Repos",
    "RoutingPolicies",
    "NormalizationPolicy",
    "NormalizationPackage",
    "ProcessingPolicy",
    "EnrichmentPolicy",
    "EnrichmentSource",
    "DeviceGroups",
    "Devices",
    "Lists",
    "Users",
    "UserGroups",
    "IncidentUserGroups",
]
LOOKUPS = {
    "Repos/RepoPaths": {"paths"},
    "NormalizationPackage/CompiledNormalizers": {"name", "version"},
    "Charsets": {"charsets"},
    "Timezone": {"name", "description"},
}
FETCHES = [
    "Repos/RemoteRepos/fetch",
    "MitreAttacks/fetch",
    "IncidentUserGroups/fetch",
    *(
        f"AlertRules/{k}/fetch"
        for k in (
            "MyAlertRules",
            "SharedAlertRules",
            "UsedAlertRules",
            "UsedSharedAlertRules",
            "VendorAlertRules",
        )
    ),
]


@pytest.mark.parametrize("path", LISTS + list(LOOKUPS))
def test_s01_every_read_endpoint_is_served(sh, path):
    assert sh.get(path).status_code == 200


@pytest.mark.parametrize("path", FETCHES)
def test_s01_every_fetch_endpoint_is_served(sh, path):
    assert isinstance(sh.fetch(path), list)


def test_s01_state_is_separate_per_node(be, be2, aio):
    be.repo("only_on_be1")
    assert "only_on_be1" in {r["name"] for r in be.items("Repos")}
    assert "only_on_be1" not in {r["name"] for r in be2.items("Repos")}
    assert "only_on_be1" not in {r["name"] for r in aio.items("Repos")}
    assert {r["id"] for r in be.items("Users")}.isdisjoint({r["id"] for r in be2.items("Users")})


@pytest.mark.parametrize(
    "path",
    [
        f"configapi/{'f' * 32}/b000000000000000000000000000000a/Repos",  # unknown pool
        f"configapi/{ACME_POOL}/{'f' * 32}/Repos",  # unknown node
        "configapi/b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2/b000000000000000000000000000000a/Repos",  # node of another pool
        f"configapi/{ACME_POOL}/b000000000000000000000000000000a/Widgets",  # unknown resource
        f"configapi/{ACME_POOL}/b000000000000000000000000000000a/Repos/{'0' * 24}",  # unknown id
        f"configapi/v1/{ACME_POOL}/b000000000000000000000000000000a/Repos",  # no v1 segment
        f"monitorapi/{ACME_POOL}/b000000000000000000000000000000a/orders/nope",  # unknown order
    ],
)
def test_s01_unknown_pool_node_resource_id_is_404_json(sim, path):
    r = requests.get(f"{sim.base_url}/{path}", headers=sim.headers, timeout=5)
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert isinstance(body, dict) and body["status"] == "Error" and body["message"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Token {TOKEN}", "Bearer"])
def test_s02_missing_or_invalid_token_is_401_json(sim, header):
    headers = {"Authorization": header} if header else {}
    for path in (sim.configapi("acme-be1") + "/Repos", sim.base_url + "/_sim/requests"):
        r = requests.get(path, headers=headers, timeout=5)
        assert r.status_code == 401
        assert set(r.json()) == {"status", "message"}
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_s02_valid_token_is_accepted(be):
    assert be.get("Repos").status_code == 200


def test_s03_plain_http_with_keep_alive_and_exact_length(sim):
    assert sim.base_url.startswith("http://127.0.0.1:")
    path = sim.configapi("acme-be1").removeprefix(sim.base_url) + "/Charsets"
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as s:
        reader = s.makefile("rb")
        for _ in range(3):  # three requests on one connection
            s.sendall(request)
            status = reader.readline()
            headers = dict(
                line.decode().strip().split(": ", 1) for line in iter(reader.readline, b"\r\n")
            )
            body = reader.read(int(headers["Content-Length"]))
            assert status.startswith(b"HTTP/1.1 200")
            assert json.loads(body)[0]["charsets"]


def test_s04_post_and_put_require_the_data_envelope(be):
    rid = be.repo("env")
    for method, path in (("POST", "Repos"), ("PUT", f"Repos/{rid}")):
        for body in (
            None,
            b"",
            b"not json",
            b"[]",
            b'{"name": "x"}',
            b'{"data": []}',
            b'{"data": "x"}',
        ):
            r = be.session.request(method, f"{be.base}/{path}", data=body, timeout=5)
            assert r.status_code == 400, (method, body, r.text)
            assert r.json()["status"] == "Error"


def test_s04_unknown_keys_inside_data_are_ignored(be):
    data = {
        "name": "extra",
        "id": "whatever",
        "active": True,
        "hiddenrepopath": [{"path": "/data_hot/", "retention": 9, "x": 1}],
    }
    be.ok("POST", "Repos", data)
    repo = be.one("Repos", "name", "extra")
    assert repo["repopath"] == [{"path": "/data_hot/", "retention": 9}]
    assert repo["id"] != "whatever"


@pytest.mark.parametrize("path", LISTS)
def test_s05_lists_are_bare_arrays_of_objects_with_24_hex_ids(sh, path):
    items = sh.items(path)
    assert all(isinstance(i, dict) and HEX24.match(i["id"]) for i in items)


@pytest.mark.parametrize("path,keys", LOOKUPS.items())
def test_s05_lookup_lists_are_bare_arrays_in_their_documented_shape(sh, path, keys):
    items = sh.items(path)
    assert items and all(set(i) == keys for i in items)


def test_s06_mutation_response_shape(be):
    rid = be.repo("shape")
    writes = [
        (
            "POST",
            "Repos",
            {"name": "shape2", "hiddenrepopath": [{"path": "/data_hot/", "retention": 1}]},
        ),
        ("PUT", f"Repos/{rid}", {"hiddenrepopath": [{"path": "/data_hot/", "retention": 2}]}),
        ("DELETE", f"Repos/{rid}", None),
        ("POST", "Repos/RepoPaths/refreshlist", {}),
    ]
    for method, path, data in writes:
        r = be.send(method, path, data)
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"status", "message"} and body["status"] == "Success"
        match = ORDER_PATH.match(body["message"])
        assert match and match["pool"] == ACME_POOL and not match["dn"]
        assert len(r.content) == 153  # the size of the real answer (v1 logs)


def test_s06_actions_answer_the_same_way(sh):
    owner = sh.one("Users", "username", "admin")["id"]
    sh.ok("POST", "AlertRules", rule_body("act", owner))
    [rule] = sh.fetch("AlertRules/MyAlertRules/fetch")
    r = sh.send("POST", f"AlertRules/{rule['id']}/deactivate", {})
    assert set(r.json()) == {"status", "message"} and ORDER_PATH.match(r.json()["message"])


def test_a_large_listing_is_answered_again_from_memory_until_something_changes(be, monkeypatch):
    """Read answers from ``KEEP_ANSWERS_FROM`` bytes on are kept.

    A write, or a knob that changes the read shape, makes the next read encode the objects
    again.
    """
    from directorsync.simulator import dispatch

    monkeypatch.setattr(dispatch, "KEEP_ANSWERS_FROM", 1)
    first = be.get("Devices").content
    assert be.get("Devices").content == first
    be.ok(
        "POST",
        "Devices",
        {
            "name": "kept-1",
            "ip": ["10.9.9.9"],
            "availability": "Minor",
            "confidentiality": "Minor",
            "integrity": "Minor",
        },
    )
    listed = be.get("Devices").json()
    assert [d["name"] for d in listed][-1:] == ["kept-1"]
    device = listed[-1]
    be.ok(
        "PUT",
        f"Devices/{device['id']}",
        {
            "id": device["id"],
            "name": "kept-1",
            "ip": ["10.9.9.8"],
            "availability": "Major",
            "confidentiality": "Minor",
            "integrity": "Minor",
        },
    )
    again = {d["name"]: d for d in be.get("Devices").json()}
    assert again["kept-1"]["ip"] == ["10.9.9.8"]
    assert again["kept-1"]["risk_values"]["availability"] == "Major"

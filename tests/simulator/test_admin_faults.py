"""Contract §6 statements 25–26: the request log and fault injection; knobs and the /_sim/ API."""

from __future__ import annotations

import threading

import pytest
import requests

from .support import TOKEN, Api, wait_until

REPO = {"name": "f", "hiddenrepopath": [{"path": "/data_hot/", "retention": 1}]}


def _admin(sim, method, path, json=None, token=TOKEN):
    return requests.request(
        method,
        f"{sim.base_url}/_sim/{path}",
        json=json,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def _names(api):
    return [r["name"] for r in api.items("Repos")]


# -- 25: request log -------------------------------------------------------------------------


def test_s25_request_log_records_every_request(be, sim):
    be.ok("POST", "Repos", REPO)
    requests.get(f"{be.base}/Repos", timeout=5)  # no token
    log = sim.requests()
    assert [(e["method"], e["pattern"], e["status"]) for e in log] == [
        ("POST", "/configapi/{pool}/{node}/Repos", 200),
        ("GET", "/monitorapi/{pool}/{node}/orders/{id}", 200),
        ("GET", "/configapi/{pool}/{node}/Repos", 401),
    ]
    post = log[0]
    assert post["body"] == {"data": REPO} and post["auth"] is True and isinstance(post["ts"], float)
    assert post["path"] == be.base.removeprefix(sim.base_url) + "/Repos"
    assert log[2]["auth"] is False
    assert _admin(sim, "GET", "requests").json() == sim.requests()


def test_s25_counts_per_pattern_and_per_path(be, be2, sim):
    be.repo("a")
    be2.repo("b")
    be.ok(
        "PUT",
        f"Repos/{be.one('Repos', 'name', 'a')['id']}",
        {"hiddenrepopath": REPO["hiddenrepopath"]},
    )
    counts = _admin(sim, "GET", "counts").json()
    assert counts == sim.counts()
    assert counts["by_pattern"]["POST /configapi/{pool}/{node}/Repos"] == 2
    assert counts["by_pattern"]["PUT /configapi/{pool}/{node}/Repos/{id}"] == 1
    path = "POST " + be.base.removeprefix(sim.base_url) + "/Repos"
    assert counts["by_path"][path] == 1


def test_s25_passwords_are_not_logged(sh, sim):
    group = sh.one("UserGroups", "name", "SOC Analysts")["id"]
    sh.send(
        "POST",
        "Users",
        {
            "username": "u1",
            "password": "topsecret",
            "email": "",
            "firstname": "a",
            "lastname": "b",
            "usergroup": [group],
        },
    )
    assert "topsecret" not in str(sim.requests()) + str(sim.state())


def test_s25_admin_requests_are_not_logged(sim):
    _admin(sim, "GET", "state")
    assert sim.requests() == []


# -- 26: fault injection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,status", [("http_500", 500), ("http_400", 400), ("http_503", 503), ("http_429", 429)]
)
def test_s26_http_fault_has_json_body_and_applies_nothing(be, sim, kind, status):
    sim.add_fault(kind=kind, method="POST", resource="Repos", count=1)
    r = be.send("POST", "Repos", REPO)
    assert r.status_code == status and r.json()["status"] == "Error" and kind in r.json()["message"]
    assert "f" not in _names(be)
    be.ok("POST", "Repos", REPO)  # count=1: the next one goes through


def test_s26_order_fail_fault(be, sim):
    sim.add_fault(kind="order_fail", resource="Repos", node="acme-be1")
    message = be.fails("POST", "Repos", REPO)
    assert "simulated order failure" in message
    assert "f" not in _names(be)


def test_s26_order_hang_fault(be, sim):
    sim.add_fault(kind="order_hang", resource="Repos")
    r = be.send("POST", "Repos", REPO)
    sim.advance(3_600_000)
    assert be.poll(r)["response"] == {}
    assert "f" not in _names(be)


def test_s26_non_json_fault(be, sim):
    sim.add_fault(kind="non_json", method="GET", resource="Repos")
    r = be.get("Repos")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html"
    with pytest.raises(ValueError):
        r.json()


def test_s26_drop_fault_applies_the_write_but_sends_nothing(be, sim):
    sim.add_fault(kind="drop", method="POST", resource="Repos")
    with pytest.raises(requests.ConnectionError):
        be.send("POST", "Repos", REPO)
    assert _names(be).count("f") == 1  # applied exactly once
    assert sim.requests()[0]["status"] is None and sim.requests()[0]["faults"] == ["drop"]


def test_s26_latency_fault_combines_with_others(be, sim):
    sim.add_fault(kind="latency", latency_ms=50, method="GET", resource="Repos")
    sim.add_fault(kind="http_500", method="GET", resource="Repos")
    r = be.get("Repos")
    assert r.status_code == 500 and r.elapsed.total_seconds() >= 0.05
    assert sim.requests()[-1]["faults"] == ["latency", "http_500"]


def test_s26_rules_filter_by_node_name_method_and_count(be, be2, sim):
    sim.add_fault(
        kind="http_500", method="POST", resource="Repos", node="acme-be1", name="boom", count=2
    )
    be2.ok("POST", "Repos", {**REPO, "name": "boom"})  # other node
    be.ok("POST", "Repos", {**REPO, "name": "fine"})  # other name
    assert (
        be.send(
            "PUT",
            f"Repos/{be.one('Repos', 'name', 'fine')['id']}",
            {"hiddenrepopath": REPO["hiddenrepopath"]},
        ).status_code
        == 200
    )
    assert [be.send("POST", "Repos", {**REPO, "name": "boom"}).status_code for _ in range(3)] == [
        500,
        500,
        200,
    ]
    [rule] = sim.state()["faults"]
    assert rule["fired"] == 2


def test_s26_name_filter_matches_the_addressed_object(be, sim):
    rid = be.repo("target")
    sim.add_fault(kind="http_500", method="DELETE", name="target", count=None)
    assert be.send("DELETE", f"Repos/{rid}").status_code == 500
    assert be.send("DELETE", f"Repos/{rid}").status_code == 500


def test_s26_fault_api_over_http(be, sim):
    r = _admin(sim, "POST", "faults", {"kind": "http_502", "resource": "Repos", "count": 1})
    assert r.status_code == 200 and r.json()["kind"] == "http_502"
    assert _admin(sim, "GET", "faults").json()[0]["count"] == 1
    assert be.get("Repos").status_code == 502
    assert _admin(sim, "DELETE", "faults").status_code == 200
    assert _admin(sim, "GET", "faults").json() == []
    for bad in (
        {"kind": "explode"},
        {"kind": "drop", "node": "nope"},
        {"kind": "drop", "count": 0},
        {},
    ):
        assert _admin(sim, "POST", "faults", bad).status_code == 400
    with pytest.raises(ValueError):
        sim.add_fault(kind="explode")


def test_s26_random_faults_are_reproducible_with_a_seed(make_sim):
    def run():
        sim = make_sim(rng_seed=7, fail_rate=0.3, job_fail_rate=0.3)
        api = Api(sim, "acme-be1")
        outcome: list[object] = []
        for i in range(30):
            r = api.send("POST", "Repos", {**REPO, "name": f"r{i}"})
            outcome.append(r.status_code)
            while r.status_code == 200 and "message" in r.json():  # poll; polls may fail too
                r = api.session.get(f"{sim.base_url}/{r.json()['message']}", timeout=5)
                outcome.append(
                    r.status_code if r.status_code != 200 else r.json()["response"].get("success")
                )
        api.close()
        return outcome

    first, second = run(), run()
    assert first == second
    assert 503 in first and False in first and True in first


def test_s26_drop_rate_drops_connections(make_sim):
    sim = make_sim(rng_seed=3, drop_rate=0.5)
    api = Api(sim, "acme-be1")
    dropped = 0
    for i in range(20):
        try:
            api.send("POST", "Repos", {**REPO, "name": f"d_{i}"})
        except requests.ConnectionError:
            dropped += 1
    sim.configure(drop_rate=0)
    assert 0 < dropped < 20
    assert len([n for n in _names(api) if n.startswith("d_")]) == 20  # every write applied once
    api.close()


def test_s26_max_inflight_answers_429_with_retry_after(be, sim):
    sim.configure(max_inflight=1)
    sim.add_fault(kind="latency", latency_ms=500, method="GET", resource="Repos", count=1)
    slow: list[requests.Response] = []
    thread = threading.Thread(target=lambda: slow.append(Api(sim, "acme-be1").get("Repos")))
    thread.start()
    wait_until(lambda: sim.dispatcher.inflight == 1)  # the slow GET holds the only slot
    limited = be.get("Repos")
    thread.join()
    assert slow[0].status_code == 200 and limited.status_code == 429
    assert limited.headers["Retry-After"] == "1" and limited.json()["status"] == "Error"
    assert be.get("Repos").status_code == 200


# -- knobs and the rest of the admin API -----------------------------------------------------


def test_knobs_are_off_by_default(sim):
    knobs = _admin(sim, "GET", "config").json()
    assert not any(v for k, v in knobs.items())


def test_knobs_change_at_run_time_and_are_checked(sim, be):
    r = _admin(sim, "POST", "config", {"job_ms": 60_000})
    assert r.status_code == 200 and r.json()["job_ms"] == 60_000
    assert be.poll(be.send("POST", "Repos", REPO))["response"] == {}
    for bad in (
        {"nope": 1},
        {"fail_rate": 2},
        {"job_ms": -1},
        {"latency_ms": "x"},
        {"plugins_with_uuid": 1},
    ):
        assert _admin(sim, "POST", "config", bad).status_code == 400
    with pytest.raises(ValueError):
        sim.configure(fail_rate=1.5)


def test_clock_reset_and_state_over_http(sim, be):
    sim.configure(job_ms=10_000)
    r = be.send("POST", "Repos", REPO)
    assert _admin(sim, "POST", "clock", {"advance_ms": 10_000}).status_code == 200
    assert be.poll(r)["response"]["success"] is True
    state = _admin(sim, "GET", "state").json()
    node = be.base.split("/configapi/")[1]
    assert "f" in {x["name"] for x in state["nodes"][node]["Repos"]}
    assert state["orders"][0]["state"] == "success"
    assert _admin(sim, "POST", "reset").status_code == 200
    assert "f" not in _names(be) and sim.requests()[-1]["pattern"].endswith("/Repos")
    assert _admin(sim, "GET", "nope").status_code == 404
    assert _admin(sim, "POST", "clock", {"advance_ms": -5}).status_code == 400
    assert requests.get(f"{sim.base_url}/_sim/health", timeout=5).json() == {"status": "ok"}

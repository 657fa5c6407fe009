"""``directorsync serve`` as a real process against the simulator, over real HTTP and WebSockets.

One service (uvicorn on a port it picks) and one simulator serve the module: dry run and apply
of ``core`` followed to their last event, status, history shared with the CLI, a slow apply
cancelled (no write after the cancel), 401, 409, 404 and 422. The simulator's orders are made
slow with its ``job_ms`` knob and end when the test moves its clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from conftest import TOKEN, cli_env, need_samples, new_simulator, run_cli
from conftest import writes as all_writes
from service_process import BOB, ServiceProcess, events_of, service_env, until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from directorsync.simulator import Simulator

SLOW = 600_000  # an order runs ten minutes of the simulator's clock
REPOS = {"resources": ["repos"]}
ESAIT_NODE = "8a9b0c1d2e3f40516a7b8c9d0e1f2031"  # esait's all-in-one (the samples' tenants file)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    simulator = new_simulator().start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def service(sim, tmp_path_factory) -> Iterator[ServiceProcess]:
    folder = tmp_path_factory.mktemp("service")
    env = service_env(cli_env(sim, folder), need_samples())
    svc = ServiceProcess(env, folder / "out", "--workers", "2")
    yield svc
    svc.stop()


def writes(sim: Simulator, node: str = "") -> list[dict]:
    """The simulator's writes (to one node when given)."""
    return [w for w in all_writes(sim) if node in w["path"]]


def start(client, tenant: str = "core", **options) -> dict:
    res = client.post(f"/api/tenants/{tenant}/syncs", json={"options": options})
    assert res.status_code == 202, res.text
    return res.json()


def test_health_needs_no_token_and_everything_else_does(service):
    import httpx

    assert httpx.get(f"{service.base_url}/health").json()["status"] == "ok"
    with service.client(token=None) as anonymous:
        res = anonymous.get("/api/tenants")
        assert res.status_code == 401 and res.headers["www-authenticate"] == "Bearer"
        assert anonymous.post("/api/tenants/core/syncs", json={}).status_code == 401
    with service.client(token="not-a-token-of-this-service") as stranger:
        assert stranger.get("/api/syncs/x").status_code == 401
    with connect(f"{service.ws_url}/ws/syncs/x", open_timeout=30) as ws:
        ws.send(json.dumps({"token": "wrong"}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_dry_run_then_apply_of_core_followed_to_the_end(service, sim):
    with service.client() as api:
        dry = start(api, dry_run=True, **REPOS)
        assert dry["status"] == "started" and dry["dry_run"] is True
        assert dry["tracking_url"].endswith(f"/api/syncs/{dry['sync_id']}")
        names = [e["event"] for e in events_of(service, dry["sync_id"])]
        assert names[0] == "sync.started" and names[-1] == "sync.completed"
        assert "sync.stage_completed" in names
        assert writes(sim) == []
        view = api.get(f"/api/syncs/{dry['sync_id']}").json()
        assert view["state"] == "completed" and view["dry_run"] is True
        assert view["user"] == "alice" and view["trigger"] == "manual"
        assert view["progress"]["stages_completed"] == ["plan", "apply", "report"]

        applied = start(api, **REPOS)
        assert applied["dry_run"] is False
        events = events_of(service, applied["sync_id"], token=BOB)
        names = [e["event"] for e in events]
        assert names[0] == "sync.started" and names[-1] == "sync.completed"
        assert "sync.progress" in names
        last = events[-1]["data"]
        assert last["state"] == "completed" and last["counts"]["CREATED"] == 12
        view = api.get(applied["tracking_url"]).json()
        assert view["counts"] == {"CREATED": 12}
        assert view["progress"]["rows_processed"] == view["progress"]["total_rows"] == 12
        assert view["progress"]["percent_complete"] == 100.0
        assert len(writes(sim)) == 12
        report = api.get(view["links"]["report"])
        assert report.status_code == 200 and "text/html" in report.headers["content-type"]
        assert "default-src 'none'" in report.headers["content-security-policy"]
        result = api.get(view["links"]["result"]).json()
        assert result["run_id"] == applied["sync_id"] and len(result["rows"]) == 12
        assert api.get(view["links"]["plan"]).json()["tenant"] == "core"

        page = api.get("/api/tenants/core/sync-history", params={"limit": 1}).json()
        assert page["count"] >= 2 and page["results"][0]["sync_id"] == applied["sync_id"]
        assert page["next"] and "offset=1" in page["next"] and page["previous"] is None
        following = api.get(page["next"]).json()
        assert following["results"][0]["sync_id"] == dry["sync_id"]
        done = api.get("/api/tenants/core/sync-history", params={"status": "completed"}).json()
        assert {r["sync_id"] for r in done["results"]} >= {dry["sync_id"], applied["sync_id"]}
        future = api.get("/api/tenants/core/sync-history", params={"start_date": "2999-01-01"})
        assert future.json()["count"] == 0
    assert TOKEN not in service.output()


def test_runs_of_the_cli_are_in_the_service_history(service, sim, samples):
    env = {**service.env, "DSYNC_SERVICE__TOKENS": ""}
    xlsx = str(samples / "esait_config.xlsx")
    done = run_cli("plan", "--tenant", "esait", "--xlsx", xlsx, "--resources", "repos", env=env)
    assert done.returncode in (0, 1), done.stderr
    with service.client() as api:
        page = api.get("/api/tenants/esait/sync-history").json()
        assert page["results"][0]["trigger"] == "cli" and page["results"][0]["kind"] == "plan"
        view = api.get(f"/api/syncs/{page['results'][0]['sync_id']}").json()
        assert view["tenant"] == "esait"


def test_a_slow_apply_is_busy_then_cancelled_and_writes_nothing_more(service, sim):
    sim.reset()
    sim.configure(job_ms=SLOW)
    try:
        with service.client() as api:
            running = start(api, **REPOS)
            sync_id = running["sync_id"]
            # every write the concurrency allows is out (2 per node): none can leave before the
            # held orders end, so none may leave after the cancel
            until(lambda: len(writes(sim)) >= 4, "core's writes in flight")
            busy = api.post("/api/tenants/core/syncs", json={"options": REPOS})
            assert busy.status_code == 409, busy.text
            assert busy.json()["running_sync"] == sync_id and sync_id in busy.json()["error"]
            other = start(api, "esait", **REPOS)  # the second worker: held by Director too
            until(lambda: len(writes(sim, ESAIT_NODE)) >= 2, "esait's writes in flight")
            queued = start(api, "core", dry_run=True)  # a dry run needs no lease, but a worker
            view = api.get(f"/api/syncs/{queued['sync_id']}").json()
            assert view["state"] == "pending" and view["message"].startswith("queued")
            gone = api.post(f"/api/syncs/{queued['sync_id']}/cancel").json()
            assert gone["state"] == gone["final_state"] == "cancelled"
            view = api.get(f"/api/syncs/{queued['sync_id']}").json()
            assert view["state"] == "cancelled" and view["cancel_requested_by"] == "alice"
            api.post(f"/api/syncs/{other['sync_id']}/cancel")
            asked = time.time()
            answer = api.post(f"/api/syncs/{sync_id}/cancel").json()
            assert answer["final_state"] == "cancelled" and answer["state"] == "running"

            def seen(sync: str) -> bool:
                warnings = api.get(f"/api/syncs/{sync}").json()["warnings"]
                return any("cancelled by alice" in w["message"] for w in warnings)

            until(lambda: seen(sync_id) and seen(other["sync_id"]), "the cancels seen", 30)
            sim.advance(SLOW)  # Director finishes the orders it accepted
            names = [e["event"] for e in events_of(service, sync_id)]
            assert names[-1] == "sync.cancelled" and "sync.warning" in names
            view = api.get(f"/api/syncs/{sync_id}").json()
            assert view["state"] == "cancelled" and view["cancel_requested_by"] == "alice"
            assert view["counts"]["SKIP"] > 0
            assert events_of(service, other["sync_id"])[-1]["event"] == "sync.cancelled"
            assert [w for w in writes(sim) if w["ts"] > asked] == []
            assert api.post(f"/api/syncs/{sync_id}/cancel").json()["final_state"] == "cancelled"
    finally:
        sim.configure(job_ms=0)


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/tenants/nope/syncs", {}, 404, None),
        ("/api/tenants/%2E%2E/syncs", {}, 422, "tenant"),
        ("/api/tenants/..%2Fx/syncs", {}, 404, None),
        ("/api/tenants/core/syncs", {"options": {"dry_run": "maybe"}}, 422, "options.dry_run"),
        ("/api/tenants/core/syncs", {"options": {"bogus": 1}}, 422, "options.bogus"),
        ("/api/tenants/core/syncs", {"trigger": "cron"}, 422, "trigger"),
        (
            "/api/tenants/core/syncs",
            {"options": {"resources": ["repos", "nonsense"]}},
            422,
            "options.resources",
        ),
    ],
)
def test_bad_requests_are_refused_naming_what_is_wrong(service, path, body, status, field):
    with service.client() as api:
        res = api.post(path, json=body)
    assert res.status_code == status, res.text
    if field:
        assert res.json()["field"] == field and res.json()["error"].startswith(field)
    if path == "/api/tenants/nope/syncs":
        assert res.json()["known"] == ["core", "esait", "sccoe"]


def test_unknown_syncs_and_bad_queries(service):
    with service.client() as api:
        assert api.get("/api/syncs/20990101T000000Z-000000").status_code == 404
        assert api.post("/api/syncs/20990101T000000Z-000000/cancel").status_code == 404
        bad = api.get("/api/tenants/core/sync-history", params={"status": "sleeping"})
        assert bad.status_code == 422 and bad.json()["field"] == "status"
        bad = api.get("/api/tenants/core/sync-history", params={"limit": 0})
        assert bad.status_code == 422 and bad.json()["field"] == "limit"
        bad = api.get("/api/tenants/core/sync-history", params={"start_date": "yesterday"})
        assert bad.status_code == 422 and bad.json()["field"].startswith("start_date")

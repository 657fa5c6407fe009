"""The real client against the real simulator over loopback."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TOKEN

from directorsync import redact
from directorsync.director.client import DirectorClient
from directorsync.errors import AmbiguousWriteError, DirectorHTTPError, OrderError


def _tenants(sim: Any) -> list[Any]:
    tenants = sim.tenants
    tenants = getattr(tenants, "tenants", tenants)  # a Topology or a dict of tenants
    return list(tenants.values()) if isinstance(tenants, dict) else list(tenants)


@pytest.fixture
def sim(start_simulator):
    yield start_simulator(1, job_ms=0)
    redact.clear_secrets()


@pytest.fixture
def client(sim):
    with DirectorClient(sim.base_url, TOKEN, retries=2, backoff=0.001, order_timeout=10) as c:
        yield c


def _backend_of(sim: Any) -> tuple[str, str]:
    tenant = next(t for t in _tenants(sim) if t.backends or t.all_in_one)
    return tenant.pool_uuid, (tenant.backends or tenant.all_in_one)[0].id


@pytest.fixture
def backend(sim) -> tuple[str, str]:
    return _backend_of(sim)


@pytest.fixture
def search_head(sim) -> tuple[str, str]:
    tenant = next(t for t in _tenants(sim) if t.search_heads)
    return tenant.pool_uuid, tenant.search_heads[0].id


def _repo(client: DirectorClient, pool: str, node: str, name: str) -> dict:
    paths = client.get(pool, node, "Repos/RepoPaths")[0]["paths"]
    return {"name": name, "hiddenrepopath": [{"path": paths[0], "retention": 30}]}


def _named(client: DirectorClient, pool: str, node: str, name: str) -> list[dict]:
    return [r for r in client.list_objects(pool, node, "Repos") if r.get("name") == name]


def test_create_repo_wait_and_list(client, backend):
    pool, node = backend
    outcome = client.write("POST", pool, node, "Repos", _repo(client, pool, node, "ds_it_repo"))
    assert outcome.success and outcome.branch == "url" and outcome.order_id
    [repo] = _named(client, pool, node, "ds_it_repo")
    assert repo["repopath"][0]["retention"] == 30
    assert client.stats.orders == 1


def test_default_repos_are_a_bare_list(client, backend):
    names = {r["name"] for r in client.list_objects(*backend, "Repos")}
    assert {"default", "_logpoint", "_LogPointAlerts"} <= names


def test_fetch_mitre_rows(client, search_head):
    rows = client.fetch(*search_head, "MitreAttacks")
    assert rows and all("id" in r and "hash" in r for r in rows)


def test_duplicate_create_fails_with_directors_text(client, backend):
    pool, node = backend
    body = _repo(client, pool, node, "ds_it_dup")
    client.write("POST", pool, node, "Repos", body)
    with pytest.raises((OrderError, DirectorHTTPError)) as info:
        client.write("POST", pool, node, "Repos", body)
    assert str(info.value)
    assert len(_named(client, pool, node, "ds_it_dup")) == 1


def test_http_400_message_reaches_the_exception(sim, client, backend):
    pool, node = backend
    sim.add_fault(method="POST", resource="Repos", count=1, kind="http_400")
    with pytest.raises(DirectorHTTPError) as info:
        client.write("POST", pool, node, "Repos", _repo(client, pool, node, "ds_it_400"))
    assert info.value.status == 400
    assert info.value.director_message
    assert info.value.director_message in str(info.value)


def test_invalid_body_is_refused_with_a_message(client, backend):
    pool, node = backend
    with pytest.raises((DirectorHTTPError, OrderError)) as info:
        client.write("POST", pool, node, "Repos", {"hiddenrepopath": "not a list"})
    assert str(info.value)


def test_dropped_write_is_ambiguous_and_relisting_finds_it_once(sim, client, backend):
    pool, node = backend
    body = _repo(client, pool, node, "ds_it_drop")
    sim.add_fault(method="POST", resource="Repos", count=1, kind="drop")
    with pytest.raises(AmbiguousWriteError):
        client.write("POST", pool, node, "Repos", body)
    assert client.stats.requests["POST"] == 1  # never re-sent
    matches: list[dict] = []
    for _ in range(50):  # the simulator completes the order lazily, on a later request
        matches = _named(client, pool, node, "ds_it_drop")
        if matches:
            break
    assert len(matches) == 1


def test_transient_503_on_write_is_retried(sim, client, backend):
    pool, node = backend
    sim.add_fault(method="POST", resource="Repos", count=1, kind="http_503")
    outcome = client.write("POST", pool, node, "Repos", _repo(client, pool, node, "ds_it_503"))
    assert outcome.success
    assert client.stats.retries == 1
    assert len(_named(client, pool, node, "ds_it_503")) == 1


def test_failed_order_fault(sim, client, backend):
    pool, node = backend
    sim.add_fault(method="POST", resource="Repos", count=1, kind="order_fail")
    with pytest.raises(OrderError) as info:
        client.write("POST", pool, node, "Repos", _repo(client, pool, node, "ds_it_fail"))
    assert "fail" in str(info.value)
    assert _named(client, pool, node, "ds_it_fail") == []


def test_delete_follows_its_order(client, backend):
    pool, node = backend
    client.write("POST", pool, node, "Repos", _repo(client, pool, node, "ds_it_del"))
    [repo] = _named(client, pool, node, "ds_it_del")
    outcome = client.write("DELETE", pool, node, f"Repos/{repo['id']}")
    assert outcome.success and outcome.branch == "url" and outcome.order_id
    assert _named(client, pool, node, "ds_it_del") == []
    assert client.stats.requests["DELETE"] == 1 and client.stats.orders == 2
    with pytest.raises(DirectorHTTPError) as info:  # gone: Director no longer knows the id
        client.write("DELETE", pool, node, f"Repos/{repo['id']}")
    assert info.value.status == 404


def test_delete_refused_by_director_keeps_the_object(client, backend):
    pool, node = backend
    client.write("POST", pool, node, "Repos", _repo(client, pool, node, "ds_it_used"))
    rp = {"policy_name": "ds_it_rp", "catch_all": "ds_it_used", "routing_criteria": []}
    client.write("POST", pool, node, "RoutingPolicies", rp)
    [repo] = _named(client, pool, node, "ds_it_used")
    with pytest.raises(OrderError) as info:
        client.write("DELETE", pool, node, f"Repos/{repo['id']}")
    assert "used by routing policy 'ds_it_rp'" in str(info.value)
    assert info.value.context["method"] == "DELETE"
    assert len(_named(client, pool, node, "ds_it_used")) == 1


def test_dropped_delete_is_ambiguous_not_resent(sim, client, backend):
    pool, node = backend
    client.write("POST", pool, node, "Repos", _repo(client, pool, node, "ds_it_deldrop"))
    [repo] = _named(client, pool, node, "ds_it_deldrop")
    sim.add_fault(method="DELETE", resource="Repos", count=1, kind="drop")
    with pytest.raises(AmbiguousWriteError):
        client.write("DELETE", pool, node, f"Repos/{repo['id']}")
    assert client.stats.requests["DELETE"] == 1


def test_wrong_token_is_refused(sim, backend):
    with DirectorClient(sim.base_url, "wrong-token-123456", retries=0) as other:
        with pytest.raises(DirectorHTTPError) as info:
            other.list_objects(*backend, "Repos")
    assert info.value.status == 401


def test_order_that_runs_a_while_is_polled_until_done(start_simulator):
    slow = start_simulator(2, job_ms=60)
    with DirectorClient(slow.base_url, TOKEN) as c:
        pool, node = _backend_of(slow)
        outcome = c.write("POST", pool, node, "Repos", _repo(c, pool, node, "ds_it_slow"))
    assert outcome.success
    assert outcome.polls >= 2
    assert outcome.elapsed >= 0.05


def _create_once(client: DirectorClient, pool: str, node: str, body: dict) -> str:
    """What the apply engine does: never re-send blindly; re-list after an unknown outcome."""
    for _ in range(5):
        try:
            client.write("POST", pool, node, "Repos", body)
            return "created"
        except AmbiguousWriteError:
            for _ in range(20):  # the order completes lazily; a later list shows it
                if _named(client, pool, node, body["name"]):
                    return "found after ambiguity"
        except OrderError as exc:
            if exc.timed_out:
                raise
            # a failed order applied nothing: sending again is safe
    raise AssertionError(f"could not create {body['name']}")


def test_faulty_director_no_duplicates_every_row_accounted_for(start_simulator):
    knobs = {"fail_rate": 0.1, "drop_rate": 0.05, "job_fail_rate": 0.05, "job_ms": 0}
    faulty = start_simulator(3, **knobs)
    with DirectorClient(faulty.base_url, TOKEN, retries=6, backoff=0.001) as c:
        pool, node = _backend_of(faulty)
        names = [f"ds_it_fault_{i:02d}" for i in range(40)]
        results = [_create_once(c, pool, node, _repo(c, pool, node, n)) for n in names]
        faulty.configure(fail_rate=0.0, drop_rate=0.0)
        listed = [r["name"] for r in c.list_objects(pool, node, "Repos")]
        stats = c.stats.snapshot()
    assert all(listed.count(n) == 1 for n in names)
    assert len(results) == len(names)
    assert stats["retries"] > 0
    assert stats["ambiguous_writes"] == results.count("found after ambiguity") >= 1

"""Shared test support for the simulator tests.

The test topology, an ``Api`` client bound to one node, and request bodies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import requests

from directorsync.simulator import Simulator

TOKEN = "sim-test-token-5f2a"
ACME_POOL = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"
SOLO_POOL = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
TENANTS: dict[str, Any] = {
    "tenants": {
        "acme": {
            "pool_uuid": ACME_POOL,
            "siems": {
                "search_heads": [{"name": "acme-sh", "id": "5000000000000000000000000000000a"}],
                "backends": [
                    {
                        "name": "acme-be1",
                        "id": "b000000000000000000000000000000a",
                        "ip_private": "10.1.0.1",
                    },
                    {
                        "name": "acme-be2",
                        "id": "b000000000000000000000000000000b",
                        "ip": "10.1.0.2",
                    },
                ],
                "all_in_one": [],
            },
        },
        "solo": {
            "pool_uuid": SOLO_POOL,
            "siems": {
                "all_in_one": [{"name": "solo-aio", "id": "a000000000000000000000000000000a"}]
            },
        },
    },
    "defaults": {"target": {"repos": ["backends", "all_in_one"]}},
}
ORDER_PATH = re.compile(
    r"^monitorapi/(?P<pool>[0-9a-f]{32})/(?P<node>[0-9a-f]{32})/orders/"
    r"(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})(?P<dn>/[0-9a-f]{32})?$"
)
HEX24 = re.compile(r"^[0-9a-f]{24}$")


class Api:
    """A small client bound to one node of a running simulator (tests only)."""

    def __init__(self, sim: Simulator, node: str, token: str = TOKEN) -> None:
        self.sim = sim
        self.base = sim.configapi(node)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.base}/{path}", timeout=10)

    def send(self, method: str, path: str, data: dict[str, Any] | None = None) -> requests.Response:
        body = None if method == "DELETE" and data is None else {"data": data or {}}
        return self.session.request(method, f"{self.base}/{path}", json=body, timeout=10)

    def poll(self, response: requests.Response) -> dict[str, Any]:
        """One monitor poll of the order a mutation answered with."""
        assert response.status_code == 200, response.text
        return self.session.get(
            f"{self.sim.base_url}/{response.json()['message']}", timeout=10
        ).json()

    def wait(self, response: requests.Response, polls: int = 20) -> dict[str, Any]:
        """Poll until the order is done (job_ms=0: the first poll), bounded."""
        for _ in range(polls):
            payload = self.poll(response)
            if "success" in payload["response"]:
                return payload
        raise AssertionError(f"order still running after {polls} polls: {payload}")

    def ok(self, method: str, path: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a write and assert its order succeeded; returns the response part."""
        payload = self.wait(self.send(method, path, data))
        assert payload["response"]["success"] is True, payload
        return payload["response"]

    def fails(self, method: str, path: str, data: dict[str, Any] | None = None) -> str:
        """Send a write and assert its order failed; returns the message."""
        payload = self.wait(self.send(method, path, data))
        assert payload["response"]["success"] is False, payload
        assert payload["response"]["errors"] == [payload["response"]["message"]]
        return payload["response"]["message"]

    def bad(self, method: str, path: str, data: Any = None, status: int = 400) -> str:
        """Send a write and assert it is refused synchronously; returns Director's message."""
        r = self.send(method, path, data)
        assert r.status_code == status, r.text
        assert r.json()["status"] == "Error"
        return r.json()["message"]

    def items(self, path: str) -> list[dict[str, Any]]:
        r = self.get(path)
        assert r.status_code == 200, r.text
        assert isinstance(r.json(), list)
        return r.json()

    def one(self, path: str, key: str, value: Any) -> dict[str, Any]:
        """The single item of a list whose ``key`` is ``value``."""
        found = [i for i in self.items(path) if i.get(key) == value]
        assert len(found) == 1, found
        return found[0]

    def fetch(self, path: str, data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.ok("POST", path, data)["rows"]

    def repo(self, name: str, path: str = "/opt/immune/storage/", retention: int = 30) -> str:
        self.ok(
            "POST",
            "Repos",
            {"name": name, "hiddenrepopath": [{"path": path, "retention": retention}]},
        )
        return self.one("Repos", "name", name)["id"]

    def close(self) -> None:
        self.session.close()


def rule_body(name: str, owner: str, **extra: Any) -> dict[str, Any]:
    """A minimal valid AlertRules create body."""
    return {
        "searchname": name,
        "owner": owner,
        "risk": "low",
        "repos": ["127.0.0.1:5504/_logpoint"],
        "aggregate": "max",
        "condition_option": "greaterthan",
        "condition_value": 0,
        "limit": 10,
        "timerange_minute": 5,
        **extra,
    }


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Spin until the server side makes ``condition`` true (no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0)

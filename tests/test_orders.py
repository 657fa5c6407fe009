"""Tests for directorsync.director.orders (no network: the getter is a scripted function)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable

import pytest
import requests

from directorsync.director.orders import (
    director_message,
    follow_order,
    monitor_path,
    monitor_path_from_response,
    normalise_monitor_path,
    order_id_of,
    order_state,
    retry_after,
    sync_outcome,
)
from directorsync.errors import DirectorHTTPError, OrderError, TransportError

POOL, NODE = "a9fa7661c4f84b278b136e94a86b4ea2", "506caf32de83054497d07c3c632a98cb"
OID = "950f365b-3da4-4f30-93bc-5ac3d0704698"
MONITOR = f"monitorapi/{POOL}/{NODE}/orders/{OID}"
RUNNING = {"request": {}, "response": {}}
DONE = {"request": {}, "response": {"success": True, "errors": [], "message": "Repo created"}}


def response(status: int = 200, body=None, text: str | None = None, headers=None):
    """A requests.Response with a JSON (or raw text) body."""
    r = requests.Response()
    r.status_code = status
    r.reason = "OK" if status < 400 else "Error"
    r._content = (text if text is not None else json.dumps(body)).encode()
    r._content_consumed = True
    r.raw = io.BytesIO(r._content)
    r.encoding = "utf-8"
    r.headers.update(headers or {})
    return r


class Clock:
    """A fake monotonic clock advanced by the fake sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A getter answering scripted items in order (the last one repeats)."""

    def __init__(self, items: Iterable) -> None:
        self.items = list(items)
        self.paths: list[str] = []

    def __call__(self, path: str) -> requests.Response:
        self.paths.append(path)
        item = self.items.pop(0) if len(self.items) > 1 else self.items[0]
        if isinstance(item, Exception):
            raise item
        if isinstance(item, requests.Response):
            return item
        return response(body=item)


def follow(script, clock=None, **kw):
    clock = clock or Clock()
    return follow_order(script, kw.pop("monitor", MONITOR), sleep=clock.sleep, clock=clock, **kw)


def test_success_after_running_polls():
    script = Script([RUNNING, RUNNING, DONE])
    outcome = follow(script)
    assert outcome.success is True
    assert outcome.order_id == OID
    assert outcome.monitor_path == MONITOR
    assert outcome.message == "Repo created"
    assert outcome.polls == 3
    assert outcome.branch == "url"
    assert outcome.rows is None
    assert script.paths == [MONITOR] * 3


@pytest.mark.parametrize(
    "given", [MONITOR, "/" + MONITOR, f"https://director.example/{MONITOR}", f"  {MONITOR}  "]
)
def test_monitor_path_with_or_without_leading_slash(given):
    script = Script([DONE])
    assert follow(script, monitor=given).monitor_path == MONITOR
    assert script.paths == [MONITOR]


def test_failure_text_from_errors_joined():
    failed = {"response": {"success": False, "errors": ["name taken", "bad path"], "message": "x"}}
    outcome = follow(Script([RUNNING, failed]))
    assert outcome.success is False
    assert outcome.message == "name taken; bad path"
    assert outcome.errors == ["name taken", "bad path"]


def test_failure_text_from_message_when_no_errors():
    outcome = follow(Script([{"response": {"success": False, "message": "Repo exists"}}]))
    assert (outcome.success, outcome.message) == (False, "Repo exists")


def test_non_empty_errors_without_success_is_failure():
    outcome = follow(Script([{"response": {"errors": [{"code": 3}]}}]))
    assert outcome.success is False
    assert outcome.errors == ["{'code': 3}"]


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        ({"status": "Completed"}, "success"),
        ({"status": "ok"}, "success"),
        ({"status": "SUCCESS", "response": {}}, "success"),
        ({"status": "failed", "message": "top text"}, "failure"),
        ({"status": "Error"}, "failure"),
        ({"status": "running"}, "running"),
        ({}, "running"),
        ({"response": "weird"}, "running"),
        ({"response": {"success": "true"}}, "success"),
        ({"response": {"success": None, "errors": []}}, "running"),
    ],
)
def test_order_state_rule(payload, state):
    assert order_state(payload)[0] == state


def test_top_level_failed_status_uses_top_message():
    assert order_state({"status": "failed", "message": "top text"})[1] == "top text"


def test_fetch_rows_are_returned():
    rows = [{"id": "1", "hash": "h1"}, {"id": "2", "hash": "h2"}]
    done = {"response": {"success": True, "rows": rows}}
    outcome = follow(Script([RUNNING, done]), monitor=MONITOR + "/" + NODE)
    assert outcome.rows == rows
    assert outcome.order_id == OID


def test_poll_interval_starts_fast_and_backs_off_to_max():
    clock = Clock()
    follow(Script([RUNNING] * 12 + [DONE]), clock=clock, poll_initial=0.02, poll_max=1.0)
    sleeps = clock.sleeps
    assert sleeps[0] == pytest.approx(0.02)
    assert sleeps[1] == pytest.approx(0.03)
    assert all(b >= a for a, b in zip(sleeps, sleeps[1:], strict=False))
    assert max(sleeps) == pytest.approx(1.0)
    assert len(sleeps) == 12


def test_first_poll_is_immediate():
    clock = Clock()
    outcome = follow(Script([DONE]), clock=clock)
    assert clock.sleeps == []
    assert outcome.elapsed == 0


def test_timeout_raises_order_error_naming_order_and_elapsed():
    clock = Clock()
    with pytest.raises(OrderError) as info:
        follow(Script([RUNNING]), clock=clock, timeout=5.0)
    err = info.value
    assert err.timed_out is True
    assert err.monitor_path == MONITOR
    assert OID in str(err)
    assert "5.0 s" in str(err)
    assert sum(clock.sleeps) == pytest.approx(5.0)


def test_transient_poll_failures_are_retried():
    script = Script(
        [
            requests.ConnectionError("reset"),
            requests.ReadTimeout("slow"),
            response(503, {"message": "busy"}),
            response(502, text="<html>bad gateway</html>"),
            response(429, {"message": "slow down"}, headers={"Retry-After": "2"}),
            DONE,
        ]
    )
    clock = Clock()
    outcome = follow(script, clock=clock)
    assert outcome.success and outcome.polls == 6
    assert 2.0 in clock.sleeps


def test_transient_failures_until_timeout_raise_timed_out():
    with pytest.raises(OrderError) as info:
        follow(Script([requests.ConnectionError("down")]), timeout=1.0)
    assert info.value.timed_out
    assert "no readable answer" in str(info.value)


def test_not_found_order_is_http_error():
    with pytest.raises(DirectorHTTPError) as info:
        follow(Script([response(404, {"status": "Error", "message": "order not found"})]))
    assert info.value.status == 404
    assert info.value.director_message == "order not found"


def test_tls_error_while_polling_is_transport_error():
    with pytest.raises(TransportError):
        follow(Script([requests.exceptions.SSLError("certificate verify failed")]))


@pytest.mark.parametrize("body", ["[1, 2]", "not json at all", '"text"'])
def test_non_object_body_is_protocol_error(body):
    with pytest.raises(OrderError, match="protocol error") as info:
        follow(Script([response(text=body)]))
    assert not info.value.timed_out


def test_empty_body_counts_as_running():
    outcome = follow(Script([response(text=""), DONE]))
    assert outcome.success and outcome.polls == 2


def test_monitor_path_helpers():
    assert monitor_path(POOL, NODE, OID) == MONITOR
    assert monitor_path(POOL, NODE, OID, data_node="dn") == MONITOR + "/dn"
    assert order_id_of(MONITOR + "/dn") == OID
    assert order_id_of("weird/path/xyz") == "xyz"
    assert normalise_monitor_path("Alert1.pak successfully deleted") is None
    assert normalise_monitor_path("http://x/monitorapi/p/n/orders/1") == "monitorapi/p/n/orders/1"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"status": "Success", "message": MONITOR}, (MONITOR, "url")),
        ({"status": "Success", "message": "/" + MONITOR}, (MONITOR, "url")),
        ({"message": f"https://h:443/{MONITOR}"}, (MONITOR, "url")),
        ({"status": "Success", "job": OID}, (MONITOR, "job")),
        ({"orderId": OID}, (MONITOR, "job")),
        ({"id": OID, "message": "queued"}, (MONITOR, "job")),
        ({"data": {"job": OID}}, (MONITOR, "job")),
        ({"status": "Success", "message": "Alert1.pak successfully deleted"}, None),
        ({"job": "  "}, None),
        ([1, 2], None),
        (None, None),
    ],
)
def test_monitor_path_from_response(body, expected):
    assert monitor_path_from_response(body, POOL, NODE) == expected


def test_sync_outcome():
    outcome = sync_outcome("deleted")
    assert (outcome.success, outcome.branch, outcome.message, outcome.polls) == (
        True,
        "sync",
        "deleted",
        0,
    )


def test_director_message_prefers_json_message_and_truncates():
    assert director_message(response(400, {"message": "bad repo path"})) == "bad repo path"
    assert director_message(response(400, {"errors": ["a", "b"]})) == "a; b"
    long_text = director_message(response(400, text="x" * 900))
    assert long_text.startswith("x" * 500) and len(long_text) == 501
    assert director_message(response(400, text="")) == "Error"


def test_retry_after_parsing():
    assert retry_after(response(headers={"Retry-After": "3"})) == 3.0
    assert retry_after(response(headers={"Retry-After": "-3"})) == 0.0
    assert retry_after(response(headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0
    assert retry_after(response(headers={"Retry-After": "soon"})) is None
    assert retry_after(response()) is None

"""Tests for directorsync.director.client with a fake transport (a requests adapter) and loopback sockets."""

from __future__ import annotations

import io
import json
import logging
import os
import random
import socket
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import (
    InsecureRequestWarning,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
)

from directorsync import redact
from directorsync.director.client import DirectorClient, never_sent
from directorsync.errors import (
    AmbiguousWriteError,
    DirectorError,
    DirectorHTTPError,
    OrderError,
    TransportError,
)

BASE = "https://director.test"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2VjcmV0LXNpZ25hdHVyZQ"
POOL, NODE = "a9fa7661c4f84b278b136e94a86b4ea2", "506caf32de83054497d07c3c632a98cb"
OID = "950f365b-3da4-4f30-93bc-5ac3d0704698"
MONITOR = f"monitorapi/{POOL}/{NODE}/orders/{OID}"
ACCEPTED = {"status": "Success", "message": MONITOR}
DONE = {"request": {}, "response": {"success": True, "errors": [], "message": "done"}}
RUNNING = {"request": {}, "response": {}}


# -- fake transport ------------------------------------------------------------------------


@dataclass
class Sent:
    """One request the fake transport received."""

    method: str
    path: str
    body: Any
    headers: dict
    timeout: Any
    verify: Any


@dataclass
class Reply:
    """What the fake transport answers: status, JSON body or text, headers."""

    status: int = 200
    body: Any = None
    text: str | None = None
    headers: dict = field(default_factory=dict)


class FakeDirector(BaseAdapter):
    """A transport answering each request with ``handler(method, path)``.

    The handler returns a :class:`Reply`, a JSON-able body (status 200) or an exception to raise.
    """

    def __init__(self, handler: Callable[[str, str], Any]) -> None:
        super().__init__()
        self.handler = handler
        self.sent: list[Sent] = []
        self.lock = threading.Lock()

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        path = request.path_url.lstrip("/")
        body = json.loads(request.body) if request.body else None
        with self.lock:
            self.sent.append(
                Sent(request.method, path, body, dict(request.headers), timeout, verify)
            )
        result = self.handler(request.method, path)
        if isinstance(result, BaseException):
            raise result
        reply = result if isinstance(result, Reply) else Reply(body=result)
        return _response(request, reply)

    def close(self) -> None:
        pass

    def writes(self) -> list[Sent]:
        return [s for s in self.sent if s.method != "GET"]


def _response(request, reply: Reply) -> requests.Response:
    content = (reply.text if reply.text is not None else json.dumps(reply.body)).encode()
    response = requests.Response()
    response.status_code = reply.status
    response.reason = "OK" if reply.status < 400 else "Bad"
    response._content = content
    response._content_consumed = True
    response.raw = io.BytesIO(content)
    response.encoding = "utf-8"
    response.headers.update(reply.headers)
    response.request, response.url = request, request.url
    return response


def scripted(*items: Any) -> Callable[[str, str], Any]:
    """A handler answering the items in order; the last one repeats."""
    queue = list(items)

    def handler(method: str, path: str) -> Any:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handler


def director(write_reply: Any = ACCEPTED, polls: tuple = (DONE,), get_reply: Any = None):
    """A handler: writes get ``write_reply``, monitor polls walk ``polls``, GETs ``get_reply``."""
    poll_queue = list(polls)

    def handler(method: str, path: str) -> Any:
        if path.startswith("monitorapi/"):
            return poll_queue.pop(0) if len(poll_queue) > 1 else poll_queue[0]
        return get_reply if method == "GET" else write_reply

    return handler


class Sleeper:
    """A fake ``sleep`` and clock: records each pause and moves the clock by it."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.now = 0.0

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _fresh_registry():
    redact.clear_secrets()
    yield
    redact.clear_secrets()


@pytest.fixture
def make():
    """Build a client on a fake Director; returns (client, transport, sleeper)."""
    clients: list[DirectorClient] = []

    def build(handler, **kw):
        transport = FakeDirector(handler)
        session = requests.Session()
        session.mount("https://", transport)
        sleeper = Sleeper()
        kw.setdefault("rng", random.Random(7))
        client = DirectorClient(
            BASE, TOKEN, session=session, sleep=sleeper, clock=sleeper.clock, **kw
        )
        clients.append(client)
        return client, transport, sleeper

    yield build
    for client in clients:
        client.close()


def refused() -> requests.ConnectionError:
    """What requests raises when the TCP connection is refused (nothing was sent)."""
    cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")
    return requests.ConnectionError(MaxRetryError(None, "/x", cause))


def dropped() -> requests.ConnectionError:
    """What requests raises when the server closes the connection after the request was sent."""
    cause = RemoteDisconnected("Remote end closed connection without response")
    return requests.ConnectionError(ProtocolError("Connection aborted.", cause))


# -- construction, URLs, headers -------------------------------------------------------------


def test_url_and_default_pool(make):
    client, _, _ = make(director(), pool_uuid=POOL)
    assert client.url(POOL, NODE, "/Repos") == f"{BASE}/configapi/{POOL}/{NODE}/Repos"
    assert client.url("", NODE, "Repos/RepoPaths").endswith(f"{POOL}/{NODE}/Repos/RepoPaths")
    with pytest.raises(ValueError):
        client.url("", "", "Repos")


def test_trailing_slash_on_base_url_is_ignored():
    client = DirectorClient(BASE + "/", TOKEN)
    assert client.url(POOL, NODE, "Repos") == f"{BASE}/configapi/{POOL}/{NODE}/Repos"
    client.close()


def test_headers_timeouts_and_verify_are_sent(make):
    client, transport, _ = make(director(get_reply=[]), timeout=(1.5, 9.0))
    client.get(POOL, NODE, "Repos")
    sent = transport.sent[0]
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.timeout == (1.5, 9.0)
    assert sent.verify is True or sent.verify == os.environ.get("REQUESTS_CA_BUNDLE")


def test_own_session_has_a_pool_of_64_and_is_closed():
    client = DirectorClient(BASE, TOKEN)
    adapter = client.session.get_adapter(BASE)
    assert adapter._pool_maxsize == 64
    closed = []
    client.session.close = lambda: closed.append(True)
    with client:
        pass
    assert closed == [True]


def test_injected_session_is_not_closed(make):
    client, transport, _ = make(director())
    client.close()
    assert client.session.get_adapter(BASE) is transport


def test_ca_bundle_path_is_used_for_verification(make):
    client, transport, _ = make(director(get_reply=[]), verify="/etc/ssl/ca.pem")
    client.get(POOL, NODE, "Repos")
    assert transport.sent[0].verify == "/etc/ssl/ca.pem"


def test_verify_false_warns_once_and_silences_urllib3(make, caplog, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        with caplog.at_level(logging.WARNING, logger="directorsync"):
            client, transport, _ = make(director(get_reply=[]), verify=False)
            client.get(POOL, NODE, "Repos")
            client.get(POOL, NODE, "Repos")
        warnings.warn("x", InsecureRequestWarning, stacklevel=1)  # must be ignored now
        assert any(f[0] == "ignore" and f[2] is InsecureRequestWarning for f in warnings.filters)
    tls = [r for r in caplog.records if "TLS verification is off" in r.getMessage()]
    assert len(tls) == 1 and tls[0].levelno == logging.WARNING
    assert transport.sent[0].verify is False


def test_token_never_in_repr_or_stats(make):
    client, _, _ = make(director())
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client.stats)
    assert "director.test" in repr(client)


# -- GET and list ------------------------------------------------------------------------------


def test_get_returns_json(make):
    client, _, _ = make(director(get_reply=[{"paths": ["/opt/immune/storage/"]}]))
    assert client.get(POOL, NODE, "Repos/RepoPaths") == [{"paths": ["/opt/immune/storage/"]}]


def test_get_retries_connection_errors_with_growing_jittered_backoff(make):
    client, transport, sleeper = make(
        scripted(refused(), dropped(), requests.ReadTimeout("slow"), [{"id": "1"}]),
        backoff=0.2,
        backoff_max=5.0,
    )
    assert client.list_objects(POOL, NODE, "Repos") == [{"id": "1"}]
    assert len(transport.sent) == 4
    assert len(sleeper.calls) == 3
    for attempt, pause in enumerate(sleeper.calls):
        assert 0.1 * 2**attempt <= pause <= 0.2 * 2**attempt
    assert client.stats.retries == 3
    assert client.stats.requests["GET"] == 4


def test_backoff_is_capped(make):
    client, _, sleeper = make(
        scripted(Reply(503), Reply(503), Reply(503), []), backoff=4.0, backoff_max=5.0
    )
    client.get(POOL, NODE, "Repos")
    assert max(sleeper.calls) <= 5.0


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_retries_transient_statuses(make, status):
    client, transport, _ = make(scripted(Reply(status, {"message": "busy"}), []))
    assert client.get(POOL, NODE, "Repos") == []
    assert len(transport.sent) == 2


def test_retry_after_is_honoured_and_capped(make):
    client, _, sleeper = make(
        scripted(
            Reply(429, headers={"Retry-After": "7"}), Reply(503, headers={"Retry-After": "900"}), []
        )
    )
    client.get(POOL, NODE, "Repos")
    cap = DirectorClient.RETRY_AFTER_MAX
    assert len(sleeper.calls) == 2
    assert 7.0 <= sleeper.calls[0] <= 7.0 * 1.5  # at least what was asked, spread up to half
    assert cap <= sleeper.calls[1] <= cap * 1.5
    assert client.stats.throttled == 2 and client.stats.retries == 0


def test_retry_after_answers_do_not_use_up_the_retries(make):
    """Issue 18 item 6: a Director that keeps saying 429 + Retry-After is waited out."""
    busy = [Reply(429, headers={"Retry-After": "1"}) for _ in range(8)]
    client, transport, sleeper = make(scripted(*busy, [{"id": "1"}]), retries=1)
    assert client.list_objects(POOL, NODE, "Repos") == [{"id": "1"}]
    assert len(transport.sent) == 9
    assert all(1.0 <= pause <= 1.5 for pause in sleeper.calls)
    assert client.stats.throttled == 8 and client.stats.retries == 0


def test_retry_after_waits_stop_at_the_throttle_budget(make):
    busy = [Reply(429, {"message": "slow down"}, headers={"Retry-After": "2"}) for _ in range(9)]
    client, transport, sleeper = make(scripted(*busy), retries=1, throttle_wait=5.0)
    with pytest.raises(DirectorHTTPError, match="HTTP 429: slow down") as info:
        client.get(POOL, NODE, "Repos")
    assert info.value.status == 429
    waited = sum(sleeper.calls[: client.stats.throttled])
    assert client.stats.throttled == 3 and 5.0 <= waited <= 9.0  # 2 s each, spread up to 3 s
    assert client.stats.retries == 1  # then the ordinary retries, honouring the header too
    assert len(transport.sent) == 5


def test_a_write_answered_429_with_retry_after_is_sent_again_after_the_wait(make):
    order = {"status": "Success", "message": f"monitorapi/{POOL}/{NODE}/orders/o1"}
    busy = [Reply(429, headers={"Retry-After": "1"}) for _ in range(5)]
    client, transport, sleeper = make(
        scripted(*busy, Reply(200, order), Reply(200, {"response": {"success": True}})),
        retries=0,
    )
    outcome = client.write("POST", POOL, NODE, "Repos", {"name": "r"})
    assert outcome.success
    assert len(transport.writes()) == 6
    assert client.stats.throttled == 5


def test_get_gives_up_after_retries_with_http_error(make):
    client, transport, _ = make(scripted(Reply(502, text="<html>Bad gateway</html>")), retries=2)
    with pytest.raises(DirectorHTTPError) as info:
        client.get(POOL, NODE, "Repos")
    assert info.value.status == 502
    assert "Bad gateway" in info.value.director_message
    assert len(transport.sent) == 3


def test_get_unreachable_is_transport_error(make):
    client, transport, _ = make(scripted(refused()), retries=1)
    with pytest.raises(TransportError, match="2 attempt"):
        client.get(POOL, NODE, "Repos")
    assert len(transport.sent) == 2


def test_get_500_is_not_retried(make):
    client, transport, _ = make(scripted(Reply(500, {"message": "internal"})))
    with pytest.raises(DirectorHTTPError, match="internal"):
        client.get(POOL, NODE, "Repos")
    assert len(transport.sent) == 1


def test_tls_error_is_not_retried(make):
    client, transport, _ = make(scripted(requests.exceptions.SSLError("certificate verify failed")))
    with pytest.raises(TransportError, match="CA bundle"):
        client.get(POOL, NODE, "Repos")
    assert len(transport.sent) == 1


@pytest.mark.parametrize("reply", [{"items": []}, [1, 2], "text", None])
def test_list_requires_a_bare_array_of_objects(make, reply):
    client, _, _ = make(scripted(reply))
    with pytest.raises(DirectorError, match=f"configapi/{POOL}/{NODE}/Repos"):
        client.list_objects(POOL, NODE, "Repos")


def test_get_non_json_body_is_director_error(make):
    client, _, _ = make(scripted(Reply(200, text="<html>login</html>")))
    with pytest.raises(DirectorError, match="not JSON"):
        client.get(POOL, NODE, "Repos")


def test_get_empty_body_is_none(make):
    client, _, _ = make(scripted(Reply(200, text="")))
    assert client.get(POOL, NODE, "Repos") is None


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(400, {"status": "Error", "message": "paths not allowed"}), "paths not allowed"),
        (Reply(404, text="no such node"), "no such node"),
        (Reply(422, text="y" * 800), "y" * 500 + "…"),
    ],
)
def test_http_error_carries_directors_message(make, reply, expected):
    client, _, _ = make(scripted(reply))
    with pytest.raises(DirectorHTTPError) as info:
        client.get(POOL, NODE, "Repos/abc")
    err = info.value
    assert err.director_message == expected
    assert (err.status, err.method, err.path) == (
        reply.status,
        "GET",
        f"configapi/{POOL}/{NODE}/Repos/abc",
    )
    assert expected in str(err)
    assert err.context["status"] == reply.status


# -- writes: envelope, monitor path, retry and ambiguity rules -------------------------------


@pytest.mark.parametrize(
    ("method", "data", "body"),
    [
        ("POST", {"name": "r1"}, {"data": {"name": "r1"}}),
        ("put", {"hiddenrepopath": []}, {"data": {"hiddenrepopath": []}}),
        ("DELETE", None, {"data": {}}),
        ("POST", None, {"data": {}}),
    ],
)
def test_submit_wraps_body_and_returns_monitor_path(make, method, data, body):
    client, transport, _ = make(director())
    assert client.submit(method, POOL, NODE, "Repos", data) == MONITOR
    assert transport.sent[0].method == method.upper()
    assert transport.sent[0].body == body


def test_submit_rejects_get(make):
    client, _, _ = make(director())
    with pytest.raises(ValueError):
        client.submit("GET", POOL, NODE, "Repos")


@pytest.mark.parametrize(
    "answer",
    [
        {"status": "Success", "message": "/" + MONITOR},
        {"status": "Success", "message": f"https://elsewhere:8443/{MONITOR}"},
        {"status": "Success", "job": OID},
        {"orderId": OID},
        {"data": {"id": OID}},
    ],
)
def test_submit_finds_the_order_in_every_documented_shape(make, answer):
    client, _, _ = make(director(write_reply=answer))
    assert client.submit("POST", POOL, NODE, "Repos", {}) == MONITOR


@pytest.mark.parametrize("failure", [refused(), requests.exceptions.ConnectTimeout("connect")])
def test_write_not_sent_is_retried(make, failure):
    client, transport, sleeper = make(director())
    transport.handler = _writes_then(scripted(failure, ACCEPTED))
    assert client.write("POST", POOL, NODE, "Repos", {"name": "r1"}).success
    assert len(transport.writes()) == 2
    assert len(sleeper.calls) >= 1
    assert client.stats.retries == 1


@pytest.mark.parametrize(
    "failure",
    [
        requests.ReadTimeout("read timed out"),
        dropped(),
        requests.ConnectionError(ConnectionResetError(104, "Connection reset by peer")),
        requests.ConnectionError("unclassified"),
        Reply(502, text="<html>Bad Gateway</html>"),
        Reply(504, {"message": "gateway timeout"}),
        Reply(500, text="<html>Internal Server Error</html>"),
        Reply(200, text="<html>not json</html>"),
    ],
)
def test_ambiguous_write_is_never_resent(make, failure):
    client, transport, _ = make(director())
    transport.handler = _writes_then(scripted(failure, ACCEPTED))
    with pytest.raises(AmbiguousWriteError) as info:
        client.write("POST", POOL, NODE, "Repos", {"name": "r1"})
    assert len(transport.writes()) == 1
    assert [s.method for s in transport.sent] == ["POST"]
    assert client.stats.ambiguous_writes == 1
    assert info.value.method == "POST"
    assert info.value.path == f"configapi/{POOL}/{NODE}/Repos"
    assert "natural key" in str(info.value)


def test_write_500_with_json_is_an_http_error(make):
    client, transport, _ = make(director(write_reply=Reply(500, {"message": "db is down"})))
    with pytest.raises(DirectorHTTPError) as info:
        client.write("POST", POOL, NODE, "Repos", {})
    assert info.value.director_message == "db is down"
    assert len(transport.writes()) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_write_rejected_before_acting_is_retried(make, status):
    client, transport, sleeper = make(director())
    transport.handler = _writes_then(
        scripted(Reply(status, headers={"Retry-After": "1"}), ACCEPTED)
    )
    assert client.write("PUT", POOL, NODE, "Repos/abc", {}).success
    assert len(transport.writes()) == 2
    assert 1.0 <= sleeper.calls[0] <= 1.5  # Retry-After, spread up to half of it


def test_write_rejected_too_often_is_http_error(make):
    client, transport, _ = make(director(write_reply=Reply(503, {"message": "busy"})), retries=2)
    with pytest.raises(DirectorHTTPError, match="busy"):
        client.write("POST", POOL, NODE, "Repos", {})
    assert len(transport.writes()) == 3


def test_write_400_carries_directors_message(make):
    body = {"status": "Error", "message": "Repo path /x/ is not allowed"}
    client, _, _ = make(director(write_reply=Reply(400, body)))
    with pytest.raises(DirectorHTTPError) as info:
        client.write("POST", POOL, NODE, "Repos", {"name": "r1"})
    assert info.value.status == 400
    assert info.value.director_message == "Repo path /x/ is not allowed"
    assert str(info.value) == (
        f"POST configapi/{POOL}/{NODE}/Repos failed: HTTP 400: Repo path /x/ is not allowed"
    )


def test_success_status_with_error_body_is_refused(make):
    client, _, _ = make(director(write_reply={"status": "Error", "message": "invalid data"}))
    with pytest.raises(DirectorHTTPError, match="invalid data"):
        client.write("POST", POOL, NODE, "Repos", {})


def _writes_then(write_handler):
    """A handler: writes go to ``write_handler``; monitor polls answer DONE."""

    def handler(method: str, path: str) -> Any:
        if path.startswith("monitorapi/"):
            return DONE
        return write_handler(method, path)

    return handler


# -- orders through the client ---------------------------------------------------------------


def test_write_follows_the_order(make):
    client, transport, sleeper = make(director(polls=(RUNNING, RUNNING, DONE)))
    outcome = client.write("POST", POOL, NODE, "Repos", {"name": "r1"})
    assert (outcome.success, outcome.branch, outcome.order_id, outcome.polls) == (
        True,
        "url",
        OID,
        3,
    )
    assert [s.path for s in transport.sent[1:]] == [MONITOR] * 3
    assert sleeper.calls == pytest.approx([0.02, 0.03])
    stats = client.stats.snapshot()
    assert stats["polls"] == 3 and stats["orders"] == 1
    assert stats["requests"] == {"POST": 1, "GET": 3}


def test_failed_order_raises_with_directors_text(make):
    failed = {"response": {"success": False, "errors": ["Repo r1 already exists"]}}
    client, _, _ = make(director(polls=(RUNNING, failed)))
    with pytest.raises(OrderError) as info:
        client.write("POST", POOL, NODE, "Repos", {"name": "r1"})
    err = info.value
    assert str(err) == "Repo r1 already exists"
    assert err.errors == ["Repo r1 already exists"]
    assert err.monitor_path == MONITOR
    assert err.context["method"] == "POST"
    assert err.context["order_id"] == OID
    assert client.stats.order_failures == 1


def test_failed_order_without_text(make):
    client, _, _ = make(director(polls=({"response": {"success": False}},)))
    with pytest.raises(OrderError, match=f"order {OID} failed"):
        client.write("DELETE", POOL, NODE, "Repos/abc")


def test_order_timeout_names_order_and_request(make):
    client, _, sleeper = make(director(polls=(RUNNING,)), order_timeout=3.0)
    with pytest.raises(OrderError) as info:
        client.write("POST", POOL, NODE, "Repos", {})
    assert info.value.timed_out
    assert OID in str(info.value)
    assert info.value.context["path"] == f"configapi/{POOL}/{NODE}/Repos"
    assert sum(sleeper.calls) == pytest.approx(3.0)


def test_job_branch(make):
    client, transport, _ = make(director(write_reply={"status": "Success", "job": OID}))
    outcome = client.write("POST", POOL, NODE, "DeviceGroups", {"name": "g"})
    assert outcome.branch == "job"
    assert transport.sent[1].path == MONITOR


def test_sync_branch_does_not_poll(make):
    answer = {"status": "Success", "message": "Alert1.pak successfully deleted"}
    client, transport, _ = make(director(write_reply=answer))
    outcome = client.write("DELETE", POOL, NODE, "AlertRules/Alert1.pak")
    assert (outcome.success, outcome.branch, outcome.message) == (
        True,
        "sync",
        "Alert1.pak successfully deleted",
    )
    assert len(transport.sent) == 1
    assert client.submit("DELETE", POOL, NODE, "x") == ""
    assert client.wait("").branch == "sync"


def test_wait_accepts_leading_slash_and_own_timeout(make):
    client, transport, _ = make(director(polls=(DONE,)))
    assert client.wait("/" + MONITOR, timeout=1.0).monitor_path == MONITOR
    assert transport.sent[0].path == MONITOR


def test_polls_survive_transient_failures(make):
    client, _, _ = make(director(polls=(dropped(), Reply(503), Reply(502, text="x"), DONE)))
    outcome = client.write("POST", POOL, NODE, "Repos", {})
    assert outcome.success and outcome.polls == 4


# -- fetch -----------------------------------------------------------------------------------


def test_fetch_returns_rows_and_appends_fetch(make):
    rows = [{"id": "m1", "hash": "h1"}]
    fetch_monitor = f"{MONITOR}/{NODE}"
    client, transport, _ = make(
        director(
            write_reply={"status": "Success", "message": fetch_monitor},
            polls=(RUNNING, {"response": {"success": True, "rows": rows}}),
        )
    )
    assert client.fetch(POOL, NODE, "MitreAttacks") == rows
    assert transport.sent[0].path == f"configapi/{POOL}/{NODE}/MitreAttacks/fetch"
    assert transport.sent[0].body == {"data": {}}
    assert transport.sent[1].path == fetch_monitor


def test_fetch_is_retried_like_a_read(make):
    client, transport, _ = make(director())
    transport.handler = _writes_then(scripted(requests.ReadTimeout("slow"), ACCEPTED))
    client.fetch(POOL, NODE, "AlertRules/MyAlertRules/fetch", {"active": "true"})
    assert len(transport.writes()) == 2
    assert transport.writes()[1].body == {"data": {"active": "true"}}


def test_fetch_without_rows_is_empty(make):
    client, _, _ = make(director())
    assert client.fetch(POOL, NODE, "MitreAttacks/fetch") == []


def test_fetch_failed_order_raises(make):
    failed = {"response": {"success": False, "message": "fetch failed"}}
    client, _, _ = make(director(polls=(failed,)))
    with pytest.raises(OrderError, match="fetch failed"):
        client.fetch(POOL, NODE, "MitreAttacks")


def test_fetch_sync_answer_is_an_error(make):
    client, _, _ = make(director(write_reply={"status": "Success", "message": "ok"}))
    with pytest.raises(DirectorError, match="without an order"):
        client.fetch(POOL, NODE, "MitreAttacks")


# -- redaction -------------------------------------------------------------------------------


def test_token_absent_from_logs_and_exceptions(make, caplog):
    echo = {"message": f"invalid token {TOKEN}", "password": "hunter22"}
    failed = {"response": {"success": False, "errors": [f"Authorization: Bearer {TOKEN}"]}}
    replies = {
        "configapi/p/n/A": Reply(401, echo),
        "configapi/p/n/B": Reply(200, text=f"<html>{TOKEN}</html>"),
        "configapi/p/n/C": requests.ReadTimeout(f"timed out, token={TOKEN}"),
        "configapi/p/n/D": ACCEPTED,
    }

    def handler(method: str, path: str) -> Any:
        return failed if path.startswith("monitorapi/") else replies[path]

    errors: list[Exception] = []
    with caplog.at_level(logging.DEBUG, logger="directorsync"):
        client, _, _ = make(handler)
        for method, path in [("GET", "A"), ("GET", "B"), ("POST", "C"), ("POST", "D")]:
            with pytest.raises(DirectorError) as info:
                if method == "GET":
                    client.get("p", "n", path)
                else:
                    client.write(method, "p", "n", path, {"name": "x", "api_key": TOKEN})
            errors.append(info.value)
    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(e.context) for e in errors]
    texts += [getattr(e, "director_message", "") for e in errors] + [caplog.text]
    for text in texts:
        assert TOKEN not in text
    assert "hunter22" not in caplog.text
    assert "api_key" in caplog.text  # the request body is logged, masked


def test_client_logger_redacts_even_without_handlers_filters(make, caplog):
    client, _, _ = make(director())
    with caplog.at_level(logging.DEBUG, logger="directorsync"):
        client.log.info("header was Authorization: Bearer %s", TOKEN)
    assert TOKEN not in caplog.text


# -- classification and real sockets (loopback) ----------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (refused(), True),
        (requests.exceptions.ConnectTimeout("connect"), True),
        (requests.ConnectionError(ConnectionRefusedError(111, "refused")), True),
        (dropped(), False),
        (requests.ReadTimeout("read"), False),
        (requests.ConnectionError(BrokenPipeError(32, "pipe")), False),
        (requests.ConnectionError("who knows"), False),
        (requests.exceptions.ChunkedEncodingError("cut"), False),
    ],
)
def test_never_sent_classification(exc, expected):
    assert never_sent(exc) is expected


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_connection_refused_write_is_retried_then_transport_error():
    sleeps: list[float] = []
    client = DirectorClient(
        f"http://127.0.0.1:{_closed_port()}", TOKEN, retries=2, sleep=sleeps.append
    )
    with client, pytest.raises(TransportError, match="3 attempt"):
        client.write("POST", POOL, NODE, "Repos", {"name": "r1"})
    assert len(sleeps) == 2
    assert client.stats.requests["POST"] == 3


class OneShotServer:
    """A loopback server that reads each request, then closes (``drop``) or stays silent."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.requests.append(data)
                if self.mode == "silent":
                    self.release.wait(5)

    def close(self) -> None:
        self.release.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.mark.parametrize("mode", ["drop", "silent"])
def test_real_drop_or_read_timeout_is_ambiguous_and_sent_once(mode):
    server = OneShotServer(mode)
    client = DirectorClient(server.url, TOKEN, timeout=(2.0, 0.2), sleep=lambda s: None)
    try:
        with pytest.raises(AmbiguousWriteError):
            client.write("POST", POOL, NODE, "Repos", {"name": "r1"})
    finally:
        client.close()
        server.close()
    assert len(server.requests) == 1
    assert b'{"data": {"name": "r1"}}' in server.requests[0]


def test_client_is_shared_by_threads(make):
    client, transport, _ = make(director(polls=(RUNNING, DONE)))
    results: list[bool] = []

    def work(i: int) -> None:
        results.append(client.write("POST", POOL, NODE, "Repos", {"name": f"r{i}"}).success)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 16
    assert client.stats.requests["POST"] == 16
    assert client.stats.orders == 16


# -- authentication failures ---------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_says_where_to_set_it_without_mangled_text(make, status):
    reply = Reply(status, {"status": "Error", "message": "missing or invalid bearer token"})
    client, transport, _ = make(scripted(reply))
    with pytest.raises(DirectorHTTPError) as info:
        client.get(POOL, NODE, "Repos")
    err = info.value
    assert str(err) == (
        f"GET configapi/{POOL}/{NODE}/Repos: Director refused the token (HTTP {status}): check "
        "DSYNC_DIRECTOR__TOKEN / LP_DIRECTOR_API_TOKEN or director.token; tokens expire after "
        "8 hours" + (", and the token's user needs rights on this pool" if status == 403 else "")
    )
    assert "REDACTED" not in str(err) and err.director_message in str(err)
    assert err.status == status and err.exit_code == 4
    assert len(transport.sent) == 1  # never retried


def test_refused_token_keeps_a_harmless_director_message(make):
    client, _, _ = make(scripted(Reply(401, {"message": "Token expired"})))
    with pytest.raises(DirectorHTTPError, match=r"8 hours\. Director said: Token expired$"):
        client.get(POOL, NODE, "Repos")


@pytest.mark.parametrize(
    "reply",
    [
        Reply(401, {"message": f"invalid token {TOKEN}"}),
        Reply(401, {"message": "bad Authorization: Bearer abcdef0123456789"}),
        Reply(401, text=f"<html>denied for Bearer {TOKEN}</html>"),
    ],
)
def test_refused_token_never_shows_a_credential(make, caplog, reply):
    caplog.set_level(logging.DEBUG, logger="directorsync.director.client")
    client, transport, _ = make(scripted(reply))
    with pytest.raises(DirectorHTTPError) as info:
        client.submit("POST", POOL, NODE, "Repos", {"name": "r1"})
    err = info.value
    assert "Director refused the token (HTTP 401)" in str(err)
    assert "Director said" not in str(err)
    for text in (str(err), err.director_message, repr(err.context), caplog.text):
        assert TOKEN not in text and "abcdef0123456789" not in text
    assert len(transport.writes()) == 1  # a refused write is not re-sent

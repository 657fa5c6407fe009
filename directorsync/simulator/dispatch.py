"""One request, start to end, independent of HTTP plumbing.

The path of a ``configapi``/``monitorapi`` request: token (401) → in-flight limit (429) →
pool/node (404) → route (404/405) → fault rules and random faults → latency → envelope (400) →
handler (read: answer; write: order) → log. Admin requests (``/_sim/…``) skip the log, limits
and faults.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from directorsync import jsonio
from directorsync.simulator.admin import Admin
from directorsync.simulator.engine import Director, NodeView
from directorsync.simulator.faults import NAME_KEYS, ORDER_KINDS, Decision, Target
from directorsync.simulator.monitor import FATE_FAIL, FATE_HANG, FATE_OK
from directorsync.simulator.routing import Call, Route
from directorsync.simulator.validation import ApiError, bad

JSON = "application/json"
#: Read answers from this size on are kept until the state or the knobs change.
KEEP_ANSWERS_FROM = 1 << 20
_ORDERS = Route("GET", ("orders", "{id}"), lambda call: None)
_ORDERS_DATA_NODE = Route("GET", ("orders", "{id}", "{data_node}"), _ORDERS.handler)


@dataclass
class Reply:
    """What to send back (or, with ``drop``, to not send)."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    """A compact JSON reply (the real mutation answer is 153 bytes: no spaces)."""
    body = jsonio.dumps(obj)
    return Reply(status, body, JSON, headers or {})


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    """``{"status": "Error", "message": ...}`` with ``status``."""
    return json_reply(status, {"status": "Error", "message": message}, headers)


class Dispatcher:
    """Turns (method, path, Authorization header, body) into a :class:`Reply`."""

    def __init__(self, director: Director, token: str) -> None:
        self.director = director
        self.admin = Admin(director)
        self._auth = f"Bearer {token}"
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._answers: dict[tuple, tuple[tuple, bytes]] = {}

    @property
    def inflight(self) -> int:
        """configapi/monitorapi requests being served right now."""
        return self._inflight

    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> Reply:
        """Serve one request."""
        path = urlsplit(target).path
        segments = [unquote(s) for s in path.split("/") if s]
        if segments[:1] == ["_sim"]:
            return self._admin(method, segments[1:], authorization, body)
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "pattern": self._pattern(method, segments) or path,
            "body": _loggable(body),
            "auth": bool(authorization),
            "ts": time.time(),
            "faults": [],
        }
        started = time.perf_counter()
        try:
            reply = self._api(method, path, segments, authorization, body, entry)
        except ApiError as exc:
            reply = error_reply(exc.status, exc.message, exc.headers)
        entry["status"] = None if reply.drop else reply.status
        entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        with self.director.lock:
            self.director.log.record(entry)
        return reply

    def _admin(
        self, method: str, segments: list[str], authorization: str | None, body: bytes
    ) -> Reply:
        if segments == ["health"]:
            return json_reply(200, {"status": "ok"})
        try:
            if authorization != self._auth:
                raise _unauthorized()
            return json_reply(
                200, self.admin.handle(method, segments, _parse(body) if body else {})
            )
        except ApiError as exc:
            return error_reply(exc.status, exc.message, exc.headers)

    def _api(
        self,
        method: str,
        path: str,
        segments: list[str],
        auth: str | None,
        body: bytes,
        entry: dict[str, Any],
    ) -> Reply:
        if auth != self._auth:
            raise _unauthorized()
        limit = self.director.knobs.max_inflight
        with self._inflight_lock:
            if limit and self._inflight >= limit:
                raise ApiError(
                    429, f"too many concurrent requests (max {limit})", {"Retry-After": "1"}
                )
            self._inflight += 1
        try:
            return self._routed(method, path, segments, body, entry)
        finally:
            with self._inflight_lock:
                self._inflight -= 1

    def _routed(
        self, method: str, path: str, segments: list[str], body: bytes, entry: dict[str, Any]
    ) -> Reply:
        if len(segments) < 4 or segments[0] not in ("configapi", "monitorapi"):
            raise ApiError(
                404, f"unknown path {path!r}: expected /configapi/{{pool}}/{{node}}/{{Resource}}…"
            )
        api, pool, node_id, rest = segments[0], segments[1], segments[2], segments[3:]
        node = self.director.view(pool, node_id)
        route, params = self._match(api, method, rest)
        data = _envelope(method, body) if api == "configapi" else {}
        decision = self._decide(method, path, route, node, params, data)
        entry["faults"] = decision.rules
        delay = self.director.knobs.latency_ms + decision.latency_ms
        if delay:
            time.sleep(delay / 1000.0)
        if decision.status:
            return error_reply(
                decision.status, f"simulated HTTP {decision.status} ({decision.outcome})"
            )
        if decision.outcome == "non_json":
            return Reply(200, b"<html><body>Simulated non-JSON answer</body></html>", "text/html")
        reply = self._run(api, method, route, node, params, data, decision)
        reply.drop = decision.outcome == "drop"
        return reply

    def _pattern(self, method: str, segments: list[str]) -> str | None:
        """``/configapi/{pool}/{node}/Repos/{id}`` for counts; None if the path routes nowhere."""
        if len(segments) < 4 or segments[0] not in ("configapi", "monitorapi"):
            return None
        try:
            route, _ = self._match(segments[0], method, segments[3:])
        except ApiError:
            return None
        return f"/{segments[0]}/{{pool}}/{{node}}/{route.pattern}"

    def _match(self, api: str, method: str, rest: list[str]) -> tuple[Route, dict[str, str]]:
        if api == "configapi":
            return self.director.router.match(method, rest)
        if method == "GET" and rest[0] == "orders" and len(rest) in (2, 3):
            return (_ORDERS if len(rest) == 2 else _ORDERS_DATA_NODE), {"id": rest[1]}
        raise ApiError(404, "unknown monitorapi path: expected GET orders/{id}[/{data_node}]")

    def _decide(
        self,
        method: str,
        path: str,
        route: Route,
        node: NodeView,
        params: dict[str, str],
        data: dict[str, Any],
    ) -> Decision:
        names = {str(data[k]) for k in NAME_KEYS if k in data}
        with self.director.lock:
            record = node.get(route.resource, params.get("id", "")) if "id" in params else None
            names |= {str(record[k]) for k in NAME_KEYS if record and k in record}
            target = Target(method, path, route.resource, node.info.id, names, route.creates_order)
            decision = self.director.faults.decide(target)
        for knob, outcome in (("fail_rate", "http_503"), ("drop_rate", "drop")):
            rate = getattr(self.director.knobs, knob)
            if decision.outcome is None and rate and self.director.random() < rate:
                decision.outcome = outcome
                decision.rules.append(knob)
        return decision

    def _run(
        self,
        api: str,
        method: str,
        route: Route,
        node: NodeView,
        params: dict[str, str],
        data: dict[str, Any],
        decision: Decision,
    ) -> Reply:
        with self.director.lock:
            self.director.settle()
            if api == "monitorapi":
                order = self.director.orders.get(params["id"])
                if order is None or order.node != node.info.key:
                    raise ApiError(404, f"unknown order {params['id']!r} on node {node.info.name}")
                return json_reply(200, order.payload())
            if not route.creates_order:
                return self._read(method, route, node, params, data)
            result = route.handler(Call(node, params, data))
            request = {
                "method": method,
                "path": f"configapi/{node.info.key}/{route.pattern}",
                "data": _redact(data),
            }
            order = self.director.submit(node, result, request, self._fate(decision))
            if decision.outcome == "order_fail" and decision.message:
                order.message = decision.message  # the failure text the order will end with
            if decision.outcome == "alter":
                order.alter = decision.values  # set on the written object when it completes
            self.director.settle()  # with job_ms=0 the order is done before its answer is sent
            return json_reply(200, {"status": "Success", "message": order.monitor_path()})

    def _read(
        self, method: str, route: Route, node: NodeView, params: dict[str, str], data: dict
    ) -> Reply:
        """A read's answer; a large one is kept and sent again while nothing has changed.

        Encoding a listing of 100,000 objects takes a tenth of a second; Director lists from
        its database at its own pace, the simulator as fast as it can: the same objects, the
        same knobs, the same bytes (caller holds the lock).
        """
        key = (method, node.info.key, route.pattern, tuple(sorted(params.items())))
        director = self.director
        version = (director.store.version, director.stale_version, repr(director.knobs))
        kept = self._answers.get(key)
        if kept is not None and kept[0] == version and not data:
            return Reply(200, kept[1], JSON)
        reply = json_reply(200, route.handler(Call(node, params, data)))
        if len(reply.body) >= KEEP_ANSWERS_FROM and not data:
            self._answers[key] = (version, reply.body)
        return reply

    def _fate(self, decision: Decision) -> str:
        if decision.outcome in ORDER_KINDS:
            return FATE_FAIL if decision.outcome == "order_fail" else FATE_HANG
        rate = self.director.knobs.job_fail_rate
        if rate and self.director.random() < rate:
            decision.rules.append("job_fail_rate")
            return FATE_FAIL
        return FATE_OK


def _unauthorized() -> ApiError:
    return ApiError(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise bad(f"request body is not valid JSON: {exc}") from exc


def _envelope(method: str, body: bytes) -> dict[str, Any]:
    """The ``data`` object of a POST/PUT body (required, contract §6.4); ``{}`` otherwise."""
    if method not in ("POST", "PUT"):
        return {}
    parsed = _parse(body) if body else None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("data"), dict):
        raise bad('request body must be a JSON object {"data": {...}}')
    return parsed["data"]


def _loggable(body: bytes) -> Any:
    if not body:
        return None
    try:
        return _redact(json.loads(body))
    except ValueError:
        return body.decode("utf-8", "replace")


def _redact(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: "***" if k.lower() == "password" else _redact(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_redact(v) for v in obj]
    return obj

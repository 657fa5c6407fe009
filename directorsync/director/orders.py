"""Follow a Director order (monitorapi) to its end.

Director applies every add/edit/delete/action asynchronously: the mutation answers
``{"status": "Success", "message": "monitorapi/{pool}/{node}/orders/{id}"}`` (contract §1.4) and
the outcome is read by polling that path (§1.5). This module is the one place that does it.

Decision rule, applied to each poll's JSON object:

1. ``response.success is True`` → success;
2. ``response.success is False`` or non-empty ``response.errors`` → failure, with the text of
   ``response.errors`` (joined ``"; "``) or else ``response.message``;
3. top-level ``status`` in {completed, success, ok} → success; in {failed, error} → failure;
4. anything else (including an empty body) → still running.

Polling starts fast (``poll_initial``, tens of ms) and grows by ``backoff`` up to ``poll_max``
(about a second). Transient poll failures (connection errors, timeouts, HTTP 429 and 5xx) are
retried within the overall ``timeout``; reaching it raises :class:`OrderError` with
``timed_out=True``. A body that is not a JSON object is a protocol error (:class:`OrderError`).
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from directorsync.errors import DirectorHTTPError, OrderError, TransportError
from directorsync.redact import redact_text

__all__ = [
    "OrderOutcome",
    "director_message",
    "follow_order",
    "http_getter",
    "monitor_path",
    "monitor_path_from_response",
    "normalise_monitor_path",
    "order_id_of",
    "order_state",
    "retry_after",
    "transient_failure",
    "sync_outcome",
]

log = logging.getLogger("directorsync.director.orders")

SUCCESS_STATUSES = frozenset({"completed", "success", "ok"})
FAILURE_STATUSES = frozenset({"failed", "error"})
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
_ID_KEYS = ("job", "orderId", "id")

Getter = Callable[[str], requests.Response]


@dataclass(frozen=True)
class OrderOutcome:
    """How an order ended.

    Attributes:
        success: True when Director reported success.
        order_id: the order (request) id, or ``""`` for a synchronous answer.
        monitor_path: the polled path (no leading slash), or ``""`` for a synchronous answer.
        message: Director's text (``response.errors`` joined, else ``response.message``).
        errors: ``response.errors`` as strings.
        rows: ``response.rows`` of a fetch order, else ``None``.
        polls: how many monitor requests were made.
        elapsed: seconds from the first poll to the outcome.
        branch: how the order was found: ``"url"`` (monitor path), ``"job"`` (id), ``"sync"``.
    """

    success: bool
    order_id: str
    monitor_path: str
    message: str
    errors: list[str]
    rows: list[dict] | None
    polls: int
    elapsed: float
    branch: str


#: words of a failed order's text that say the failure can pass (a job that died, a lock, a
#: node busy or restarting); any other failure text is a refusal (validation) and is final
TRANSIENT_MARKS = (
    "job failed",
    "timeout",
    "timed out",
    "temporar",
    "try again",
    "retry",
    "unavailable",
    "busy",
    "lock",
    "interrupted",
    "connection",
    "restart",
    "internal error",
    "too many",
    "gave no message",  # the client's text when Director said nothing
    "protocol error",  # the monitor answered something unreadable
)


def transient_failure(texts: list[str] | str) -> bool:
    """Whether a failed order's text says the failure can pass, so the write may be retried.

    An empty text (Director said nothing) counts as transient; a text with none of
    :data:`TRANSIENT_MARKS` is a deterministic refusal (a validation message).
    """
    joined = " ".join([texts] if isinstance(texts, str) else texts).strip().lower()
    return not joined or any(mark in joined for mark in TRANSIENT_MARKS)


def sync_outcome(message: str = "") -> OrderOutcome:
    """The outcome of a mutation Director answered synchronously (no order to follow)."""
    return OrderOutcome(True, "", "", message, [], None, 0, 0.0, "sync")


def monitor_path(pool: str, node: str, order_id: str, data_node: str | None = None) -> str:
    """Build ``monitorapi/{pool}/{node}/orders/{order_id}[/{data_node}]``."""
    path = f"monitorapi/{pool}/{node}/orders/{order_id}"
    return f"{path}/{data_node}" if data_node else path


def normalise_monitor_path(text: str) -> str | None:
    """Return the relative monitor path in ``text``, or None when it is not one.

    Accepts ``monitorapi/…``, ``/monitorapi/…`` and absolute URLs containing ``/monitorapi/``.
    """
    text = text.strip()
    stripped = text.lstrip("/")
    if stripped.startswith("monitorapi/"):
        return stripped
    if "://" in text and "/monitorapi/" in text:
        return text[text.index("/monitorapi/") + 1 :]
    return None


def order_id_of(path: str) -> str:
    """The order id in a monitor path (the segment after ``orders``, else the last one)."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    if "orders" in parts[:-1]:
        return parts[parts.index("orders") + 1]
    return parts[-1] if parts else ""


def monitor_path_from_response(body: Any, pool: str, node: str) -> tuple[str, str] | None:
    """Find the order in a mutation response (contract §1.4).

    Args:
        body: the decoded JSON answer to a POST/PUT/DELETE.
        pool: pool UUID, used when only an order id is given.
        node: logpoint identifier, used when only an order id is given.

    Returns:
        ``(monitor_path, branch)`` with branch ``"url"`` or ``"job"``, or None when the answer
        is synchronous (no order to follow).
    """
    if not isinstance(body, dict):
        return None
    message = body.get("message")
    if isinstance(message, str):
        path = normalise_monitor_path(message)
        if path:
            return path, "url"
    for scope in (body, body.get("data")):
        if not isinstance(scope, dict):
            continue
        for key in _ID_KEYS:
            value = scope.get(key)
            if isinstance(value, str) and value.strip():
                return monitor_path(pool, node, value.strip()), "job"
    return None


def _text_list(values: Any) -> list[str]:
    if not values:
        return []
    if not isinstance(values, list):
        values = [values]
    return [v if isinstance(v, str) else str(v) for v in values]


def _truthy(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def order_state(payload: dict) -> tuple[str, str, list[str]]:
    """Classify one poll's payload.

    Returns:
        ``(state, message, errors)`` where state is ``"success"``, ``"failure"`` or
        ``"running"``.
    """
    response = payload.get("response")
    response = response if isinstance(response, dict) else {}
    errors = [redact_text(e) for e in _text_list(response.get("errors"))]
    message = response.get("message")
    message = redact_text(message) if isinstance(message, str) else ""
    success = _truthy(response.get("success"))
    if success is True:
        return "success", message, errors
    if success is False or errors:
        return "failure", "; ".join(errors) or message, errors
    status = payload.get("status")
    status = status.lower() if isinstance(status, str) else ""
    if status in SUCCESS_STATUSES:
        return "success", message, errors
    if status in FAILURE_STATUSES:
        top = payload.get("message")
        return "failure", message or (redact_text(top) if isinstance(top, str) else ""), errors
    return "running", message, errors


def http_getter(
    session: requests.Session, base_url: str, timeout: float | tuple[float, float] = (5.0, 60.0)
) -> Getter:
    """A ``get(path)`` for :func:`follow_order` built from a session and a base URL."""
    base = base_url.rstrip("/")

    def get(path: str) -> requests.Response:
        return session.get(f"{base}/{path}", timeout=timeout)

    return get


def director_message(response: requests.Response, limit: int = 500) -> str:
    """Director's text in an error answer: JSON ``message`` (or ``errors``), else the body.

    The text is redacted and cut to ``limit`` characters.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    text = ""
    if isinstance(body, dict):
        message, errors = body.get("message"), _text_list(body.get("errors"))
        text = message if isinstance(message, str) and message else "; ".join(errors)
    if not text:
        text = (response.text or "").strip() or (response.reason or "")
    text = redact_text(text)
    return text if len(text) <= limit else text[:limit] + "…"


def retry_after(response: requests.Response) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or HTTP date), else None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def follow_order(
    get: Getter,
    monitor: str,
    *,
    timeout: float = 180.0,
    poll_initial: float = 0.02,
    poll_max: float = 1.0,
    backoff: float = 1.5,
    branch: str = "url",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> OrderOutcome:
    """Poll an order until it succeeds, fails, or ``timeout`` seconds have passed.

    Args:
        get: fetches a relative monitor path and returns the HTTP response (see
            :func:`http_getter`; :class:`~directorsync.director.client.DirectorClient` passes its own).
        monitor: the monitor path, with or without a leading slash, or an absolute URL.
            Build one from an order id with :func:`monitor_path`.
        timeout: overall limit in seconds.
        poll_initial: first pause between polls (the first poll is immediate).
        poll_max: longest pause between polls.
        backoff: factor applied to the pause after each poll.
        branch: recorded in the outcome (``"url"`` or ``"job"``).
        sleep: pause function (injectable for tests).
        clock: monotonic clock (injectable for tests).

    Returns:
        The outcome; ``success`` is False when Director reported a failure.

    Raises:
        OrderError: timed out (``timed_out=True``) or the monitor answered something that is
            not a JSON object.
        DirectorHTTPError: the monitor answered a non-transient HTTP error (e.g. 404).
        TransportError: TLS failure talking to the monitor.
    """
    path = normalise_monitor_path(monitor) or monitor.strip().lstrip("/")
    order_id = order_id_of(path)
    start = clock()
    delay, polls = poll_initial, 0
    while True:
        polls += 1
        payload, wait_hint = _poll_once(get, path)
        if payload is not None:
            state, message, errors = order_state(payload)
            if state != "running":
                rows = _rows(payload)
                elapsed = clock() - start
                return OrderOutcome(
                    state == "success",
                    order_id,
                    path,
                    message,
                    errors,
                    rows,
                    polls,
                    elapsed,
                    branch,
                )
        remaining = start + timeout - clock()
        if remaining <= 0:
            raise _timed_out(path, order_id, polls, clock() - start, payload)
        sleep(min(max(delay, wait_hint or 0.0), remaining))
        delay = min(poll_max, delay * backoff)


def _poll_once(get: Getter, path: str) -> tuple[dict | None, float | None]:
    """One monitor request: ``(payload, None)``, or ``(None, retry_after)`` when transient."""
    try:
        response = get(path)
    except requests.exceptions.SSLError as exc:
        raise TransportError(f"TLS error polling {path}: {redact_text(str(exc))}") from exc
    except (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.ChunkedEncodingError,
    ) as exc:
        log.debug("poll %s failed (%s); retrying", path, type(exc).__name__)
        return None, None
    with response:
        if response.status_code in TRANSIENT_STATUSES:
            log.debug("poll %s answered HTTP %s; retrying", path, response.status_code)
            return None, retry_after(response)
        if response.status_code >= 400:
            text = director_message(response)
            raise DirectorHTTPError(
                f"GET {path} failed: HTTP {response.status_code}: {text}",
                status=response.status_code,
                method="GET",
                path=path,
                director_message=text,
            )
        return _payload(response, path), None


def _payload(response: requests.Response, path: str) -> dict:
    text = response.text
    if not text.strip():
        return {}
    try:
        body = response.json()
    except ValueError:
        body = _NOT_JSON
    if not isinstance(body, dict):
        kind = "non-JSON text" if body is _NOT_JSON else f"a JSON {type(body).__name__}"
        preview = redact_text(text[:200])
        raise OrderError(
            f"protocol error: monitor {path} answered {kind}, not a JSON object: {preview!r}",
            monitor_path=path,
        )
    return body


_NOT_JSON = object()


def _rows(payload: dict) -> list[dict] | None:
    response = payload.get("response")
    rows = response.get("rows") if isinstance(response, dict) else None
    return rows if isinstance(rows, list) else None


def _timed_out(
    path: str, order_id: str, polls: int, elapsed: float, last: dict | None
) -> OrderError:
    last_text = redact_text(str(last))[:200] if last else "no readable answer"
    return OrderError(
        f"order {order_id} did not finish within {elapsed:.1f} s ({polls} polls of {path}; "
        f"last answer: {last_text}). Director may still apply it: re-list before sending again.",
        monitor_path=path,
        timed_out=True,
        elapsed=round(elapsed, 3),
    )

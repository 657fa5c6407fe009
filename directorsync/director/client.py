"""HTTP client for Director's configapi and monitorapi.

One :class:`DirectorClient` per Director (base URL + token), shared by every worker thread of a
run: a pooled :class:`requests.Session` (requests does not promise thread safety, but sharing a
session whose headers/adapters are not changed after construction is the common, working
practice; the client never changes them after ``__init__``).

Retry rules
-----------
Reads (GET, and POST ``…/fetch`` which changes nothing) are retried up to ``retries`` times
(GET: ``list_retries``) on connection errors, timeouts and HTTP 429/502/503/504, with exponential
backoff plus jitter (``backoff * 2**attempt``, capped at ``backoff_max``, times a random factor in
[0.5, 1]).

``Retry-After`` is honoured by every request (reads, writes, order polls): an answer 429, or 503
with the header, is waited out as Director asks (plus up to half again, at random; each wait
capped at :attr:`DirectorClient.RETRY_AFTER_MAX`) without using up ``retries``, until the
request has waited ``throttle_wait`` seconds in all (``director/pacing.py``). Each such answer
also cuts the node's write window (:attr:`DirectorClient.pacing`).

Writes (POST/PUT/DELETE) are re-sent **only when Director provably did not act on them**:

* the connection could not be made (refused, DNS failure, connect timeout), or
* Director answered 429 or 503 (rejected before acting).

When the outcome is unknown, the write is never re-sent; :class:`AmbiguousWriteError` is raised
and the caller re-lists the resource and looks the object up by natural key:

* read timeout, connection dropped/reset after the request was sent;
* HTTP 502/504 (a gateway gave up; Director may have acted);
* HTTP 500 whose body is not JSON (a proxy's page), or a 2xx body that cannot be read.

HTTP 500 with a JSON body, and every other status >= 400, is Director's own refusal:
:class:`DirectorHTTPError` (not applied) with Director's message. HTTP 401/403 say that
Director refused the token and where to set it (Director's text only when it holds nothing that
looks like a credential). TLS errors raise :class:`TransportError` at once (retrying does not fix
a certificate).

The token is set once on the session, registered with :mod:`directorsync.redact` and never
appears in ``repr()``, log lines or exception messages.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import requests
import urllib3
from urllib3.exceptions import InsecureRequestWarning

from directorsync import jsonio
from directorsync.director.listing import ReceivedListing
from directorsync.director.orders import (
    OrderOutcome,
    director_message,
    follow_order,
    monitor_path_from_response,
    retry_after,
    sync_outcome,
)
from directorsync.director.pacing import THROTTLE_STATUSES, Pacing, Throttle
from directorsync.director.transport import (
    AUTH_STATUSES,
    READ_RETRY_STATUSES,
    WRITE_AMBIGUOUS_STATUSES,
    WRITE_RETRY_STATUSES,
    Answer,
    ClientStats,
    auth_message,
    is_blank,
    is_json,
    is_tls,
    log_preview,
    never_sent,
    pooled_session,
    read_body,
    tls_message,
    unreachable_reason,
)
from directorsync.errors import (
    AmbiguousWriteError,
    DirectorError,
    DirectorHTTPError,
    OrderError,
    TransportError,
    shorten,
)
from directorsync.redact import (
    DATA_MASKED,
    RedactingFilter,
    redact_data,
    redact_text,
    register_secret,
)

__all__ = ["ClientStats", "DirectorClient"]


class _Submitted(NamedTuple):
    monitor_path: str
    branch: str
    message: str


class DirectorClient:
    """Talks to one Director: lists, reads, writes and follows orders.

    Args:
        base_url: ``https://<director>`` (a trailing ``/`` is ignored).
        token: the API bearer token (registered for redaction).
        pool_uuid: default pool, used when a call passes ``pool=""``.
        session: a ready session (tests mount fake adapters on it); the client sets its
            headers and ``verify`` but mounts no adapter and does not close it.
        verify: True (default), a CA bundle path, or False (logged as a warning).
        timeout: ``(connect, read)`` seconds per request.
        retries: how many times a retryable request is re-sent.
        list_retries: the same for a GET (a listing); default ``retries``.
        throttle_wait: seconds one request may wait on ``Retry-After`` in all.
        backoff: first retry pause in seconds (doubles per attempt, with jitter).
        backoff_max: longest retry pause.
        order_timeout: default overall limit for following an order.
        poll_initial: first pause between order polls.
        poll_max: longest pause between order polls.
        logger: where to log (default ``directorsync.director.client``).
        sleep: pause function (injectable for tests).
        clock: monotonic clock (injectable for tests).
        rng: random source for jitter (injectable for tests).
    """

    RETRY_AFTER_MAX = 60.0
    POOL_MAXSIZE = 64

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        pool_uuid: str | None = None,
        session: requests.Session | None = None,
        verify: bool | str = True,
        timeout: tuple[float, float] = (5.0, 60.0),
        retries: int = 3,
        list_retries: int | None = None,
        throttle_wait: float = 300.0,
        backoff: float = 0.2,
        backoff_max: float = 5.0,
        order_timeout: float = 180.0,
        poll_initial: float = 0.02,
        poll_max: float = 1.0,
        logger: logging.Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.pool_uuid = pool_uuid
        self.timeout, self.retries = timeout, retries
        self.list_retries = retries if list_retries is None else list_retries
        self.backoff, self.backoff_max = backoff, backoff_max
        self.order_timeout, self.poll_initial, self.poll_max = order_timeout, poll_initial, poll_max
        self.log = logger or logging.getLogger("directorsync.director.client")
        if not any(isinstance(f, RedactingFilter) for f in self.log.filters):
            self.log.addFilter(RedactingFilter())
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()
        self.stats = ClientStats()
        self.throttle = Throttle(throttle_wait, self.RETRY_AFTER_MAX, self._rng)
        self.pacing = Pacing()  # apply's write windows per node, cut by 429/503
        register_secret(token)
        self._owns_session = session is None
        self.session = session or pooled_session(self.POOL_MAXSIZE)
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )
        # Passed on every request too: with trust_env, requests lets REQUESTS_CA_BUNDLE
        # override session.verify (even verify=False), but not a per-request value.
        self.verify = verify
        self.session.verify = verify
        if verify is False:
            urllib3.disable_warnings(InsecureRequestWarning)
            self.log.warning(
                "TLS verification is off for %s: anyone on the path can read the token. "
                "Pass a CA bundle path instead (verify=/path/to/ca.pem).",
                self.base_url,
            )

    def __repr__(self) -> str:
        return f"DirectorClient(base_url={self.base_url!r}, verify={self.verify!r})"

    def __enter__(self) -> DirectorClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session's pooled connections (only if the client created the session)."""
        if self._owns_session:
            self.session.close()

    # -- URLs -------------------------------------------------------------------------------

    def url(self, pool: str, node: str, path: str) -> str:
        """``{base}/configapi/{pool}/{node}/{path}``."""
        return f"{self.base_url}/{self._rel(pool, node, path)}"

    def _rel(self, pool: str, node: str, path: str) -> str:
        pool = pool or self.pool_uuid or ""
        if not pool or not node:
            raise ValueError("pool and node are required (pool_uuid not set on the client)")
        return f"configapi/{pool}/{node}/{path.lstrip('/')}"

    # -- public calls -----------------------------------------------------------------------

    def get(self, pool: str, node: str, path: str) -> Any:
        """GET ``configapi/{pool}/{node}/{path}`` and return the decoded JSON (None if empty).

        Raises:
            DirectorHTTPError: status >= 400 (after retries for 429/502/503/504).
            TransportError: Director could not be reached after retries.
            DirectorError: the body is not JSON.
        """
        rel = self._rel(pool, node, path)
        return self._decode(self._send("GET", rel, body=None, safe=True), "GET", rel, safe=True)

    def list_objects(self, pool: str, node: str, path: str) -> list[dict]:
        """GET a list endpoint, which must answer a bare JSON array of objects (contract §1.6)."""
        return self.receive_list(pool, node, path)()

    def receive_list(self, pool: str, node: str, path: str) -> Callable[[], list[dict]]:
        """GET a list endpoint now; the returned function decodes and checks the body.

        Receiving releases the interpreter lock while bytes arrive; decoding a large listing
        holds it. Splitting the two lets background threads receive while the caller's thread
        decodes when it needs the data (:meth:`Inventory.prefetch`).
        """
        return self.receive_listing(pool, node, path).items

    def receive_listing(self, pool: str, node: str, path: str) -> ReceivedListing:
        """GET a list endpoint now; the answer decodes later, whole or a few fields of it."""
        rel = self._rel(pool, node, path)
        answer = self._send("GET", rel, body=None, safe=True)
        return ReceivedListing(
            answer.body, lambda: self._check_list(rel, self._decode(answer, "GET", rel, safe=True))
        )

    def _check_list(self, rel: str, items: Any) -> list[dict]:
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            kind = type(items).__name__
            raise DirectorError(
                f"GET {rel}: expected a JSON array of objects, got {kind}: "
                f"{redact_text(str(items))[:200]!r}",
                method="GET",
                path=rel,
            )
        return items

    def submit(self, method: str, pool: str, node: str, path: str, data: dict | None = None) -> str:
        """Send a write (body ``{"data": data}``) and return the monitor path of its order.

        Returns ``""`` when Director answered synchronously; :meth:`wait` accepts it. See the
        module docstring for what is retried and what raises :class:`AmbiguousWriteError`.
        """
        return self._submit(method, pool, node, path, data).monitor_path

    def wait(self, monitor: str, *, timeout: float | None = None) -> OrderOutcome:
        """Follow an order (monitor path, or ``""`` for a synchronous answer) to its end.

        Returns:
            The outcome; ``success`` is False when Director reported a failure.

        Raises:
            OrderError: timed out, or the monitor answered something unreadable.
        """
        if not monitor:
            return sync_outcome()
        outcome = follow_order(
            self._poll,
            monitor,
            timeout=self.order_timeout if timeout is None else timeout,
            poll_initial=self.poll_initial,
            poll_max=self.poll_max,
            sleep=self._sleep,
            clock=self._clock,
        )
        self.stats.add("orders")
        if not outcome.success:
            self.stats.add("order_failures")
        self.log.debug(
            "order %s %s after %d polls in %.3f s%s",
            outcome.order_id,
            "succeeded" if outcome.success else "failed",
            outcome.polls,
            outcome.elapsed,
            f": {outcome.message}" if outcome.message else "",
        )
        return outcome

    def write(
        self, method: str, pool: str, node: str, path: str, data: dict | None = None
    ) -> OrderOutcome:
        """Send a write and follow its order (``DELETE`` included: Trash, body ``{"data": {}}``).

        Raises:
            OrderError: the order failed (message = Director's text) or timed out.
            AmbiguousWriteError: the outcome is unknown; re-list before sending again.
            DirectorHTTPError: Director refused the request.
            TransportError: Director could not be reached (nothing was sent).
        """
        submitted = self._submit(method, pool, node, path, data)
        rel = self._rel(pool, node, path)
        return self._finish(submitted, method.upper(), rel)

    def fetch(self, pool: str, node: str, path: str, data: dict | None = None) -> list[dict]:
        """POST a fetch action (``…/fetch`` appended if missing), wait, return ``response.rows``.

        A fetch changes nothing on Director, so it is retried like a GET — a failed fetch order
        included.
        """
        path = path.rstrip("/")
        if not path.endswith("fetch"):
            path += "/fetch"
        rel = self._rel(pool, node, path)
        for attempt in range(self.retries + 1):
            try:
                return self._fetch_once(pool, node, path, data, rel)
            except OrderError as exc:
                if exc.timed_out or attempt >= self.retries:
                    raise
                self._pause(attempt, None, "POST", rel, f"fetch order failed: {exc}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _fetch_once(
        self, pool: str, node: str, path: str, data: dict | None, rel: str
    ) -> list[dict]:
        submitted = self._submit("POST", pool, node, path, data, safe=True)
        if submitted.branch == "sync":
            raise DirectorError(
                f"POST {rel}: Director answered without an order to read rows from "
                f"({submitted.message or 'no message'})",
                method="POST",
                path=rel,
            )
        outcome = self._finish(submitted, "POST", rel)
        if outcome.rows is None:
            self.log.warning("POST %s: order %s returned no rows", rel, outcome.order_id)
            return []
        return outcome.rows

    # -- orders -----------------------------------------------------------------------------

    def _submit(
        self, method: str, pool: str, node: str, path: str, data: dict | None, safe: bool = False
    ) -> _Submitted:
        method = method.upper()
        if method not in ("POST", "PUT", "DELETE"):
            raise ValueError(f"submit() sends POST, PUT or DELETE, not {method}")
        rel = self._rel(pool, node, path)
        body = {"data": {} if data is None else data}
        sent = self._send(method, rel, body=body, safe=safe)
        answer = self._decode(sent, method, rel, safe=safe)
        if isinstance(answer, dict) and str(answer.get("status", "")).lower() in (
            "error",
            "failed",
            "failure",
        ):
            text = redact_text(str(answer.get("message") or answer))[:500]
            raise DirectorHTTPError(
                f"{method} {rel} refused: {text}",
                status=sent.response.status_code,
                method=method,
                path=rel,
                director_message=text,
            )
        found = monitor_path_from_response(answer, pool or self.pool_uuid or "", node)
        if found:
            return _Submitted(found[0], found[1], "")
        message = answer.get("message") if isinstance(answer, dict) else None
        return _Submitted("", "sync", message if isinstance(message, str) else "")

    def _finish(self, submitted: _Submitted, method: str, rel: str) -> OrderOutcome:
        if submitted.branch == "sync":
            return sync_outcome(submitted.message)
        try:
            outcome = self.wait(submitted.monitor_path)
        except OrderError as exc:
            exc.context.update(method=method, path=rel)
            raise
        outcome = dataclasses.replace(outcome, branch=submitted.branch)
        if not outcome.success:
            raise OrderError(
                outcome.message or f"order {outcome.order_id} failed (Director gave no message)",
                monitor_path=outcome.monitor_path,
                errors=outcome.errors,
                method=method,
                path=rel,
                order_id=outcome.order_id,
            )
        return outcome

    def _poll(self, path: str) -> requests.Response:
        self.stats.add("polls")
        self.stats.add("requests", method="GET")
        url = f"{self.base_url}/{path}"
        response = self.session.get(url, timeout=self.timeout, verify=self.verify)
        if response.status_code in THROTTLE_STATUSES:  # follow_order waits its Retry-After
            self.pacing.throttled(path)
        return response

    # -- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        rel: str,
        *,
        body: dict | None,
        safe: bool,
    ) -> Answer:
        """Send with the retry rules; return an answer with status < 400 or raise."""
        url = f"{self.base_url}/{rel}"
        retry_statuses = READ_RETRY_STATUSES if safe else WRITE_RETRY_STATUSES
        retries = self.list_retries if method == "GET" else self.retries
        attempt, waited = 0, 0.0
        while True:
            answer, exc = self._attempt(method, url, rel, body)
            if exc is not None:
                retryable = safe or never_sent(exc)
                if retryable and attempt < retries and not is_tls(exc):
                    self._pause(attempt, None, method, rel, type(exc).__name__)
                    attempt += 1
                    continue
                raise self._exception_error(method, rel, exc, safe, attempt + 1)
            assert answer is not None
            response = answer.response
            status = response.status_code
            hint = retry_after(response) if status in retry_statuses else None
            if status in THROTTLE_STATUSES:
                self.pacing.throttled(rel)
                delay = None if hint is None else self.throttle.delay(hint, waited)
                if delay is not None:  # Director asked to come back later: not a retry
                    response.close()
                    waited += delay
                    self.stats.add("throttled")
                    self.log.debug("%s %s: HTTP %s, again in %.2f s", method, rel, status, delay)
                    self._sleep(delay)
                    continue
            if status in retry_statuses and attempt < retries:
                response.close()
                self._pause(attempt, hint, method, rel, f"HTTP {response.status_code}")
                attempt += 1
                continue
            if response.status_code >= 400:
                raise self._status_error(method, rel, response, safe)
            return answer

    def _attempt(
        self,
        method: str,
        url: str,
        rel: str,
        body: dict | None,
    ) -> tuple[Answer | None, requests.RequestException | None]:
        self.stats.add("requests", method=method)
        if body is not None and self.log.isEnabledFor(logging.DEBUG):
            shown = log_preview(redact_data(body))  # as sent: only secret fields and values
            self.log.debug("%s %s body=%s", method, rel, shown, extra={DATA_MASKED: True})
        start = self._clock()
        try:
            response = self.session.request(
                method, url, json=body, timeout=self.timeout, verify=self.verify, stream=True
            )
            answer = Answer(response, read_body(response))
        except requests.RequestException as exc:
            ms = (self._clock() - start) * 1000
            self.log.debug("%s %s -> %s after %.0f ms", method, rel, type(exc).__name__, ms)
            return None, exc
        ms = (self._clock() - start) * 1000
        self.log.debug("%s %s -> HTTP %s in %.0f ms", method, rel, response.status_code, ms)
        return answer, None

    def _pause(self, attempt: int, hint: float | None, method: str, rel: str, why: str) -> None:
        if hint is not None:
            delay = min(hint, self.RETRY_AFTER_MAX)
        else:
            delay = min(self.backoff_max, self.backoff * 2**attempt) * self._rng.uniform(0.5, 1.0)
        self.stats.add("retries")
        self.log.debug("%s %s: %s, retry %d in %.2f s", method, rel, why, attempt + 1, delay)
        self._sleep(delay)

    def _decode(self, answer: Answer, method: str, rel: str, safe: bool) -> Any:
        response, content = answer
        response.close()
        if is_blank(content):
            return None
        try:
            return jsonio.loads(content)
        except ValueError as exc:
            preview = redact_text(content[:200].decode("utf-8", "replace"))
            if safe:
                raise DirectorError(
                    f"{method} {rel}: HTTP {response.status_code} body is not JSON: {preview!r}",
                    method=method,
                    path=rel,
                ) from exc
            raise self._ambiguous(method, rel, f"unreadable answer {preview!r}") from exc

    def _exception_error(
        self, method: str, rel: str, exc: requests.RequestException, safe: bool, attempts: int
    ) -> DirectorError:
        reason = shorten(redact_text(f"{type(exc).__name__}: {exc}"), 300)
        if is_tls(exc):
            return TransportError(
                tls_message(method, rel, self.base_url, exc, reason), method=method, path=rel
            )
        if safe or never_sent(exc):
            cause = unreachable_reason(exc)
            if cause is None:
                return TransportError(
                    f"{method} {rel}: no answer from Director after {attempts} attempt(s): {reason}",
                    method=method,
                    path=rel,
                )
            return TransportError(
                f"{method} {rel}: cannot reach Director at {self.base_url}: {cause} "
                f"({attempts} attempt(s)). Check director.base_url (--url, "
                "DSYNC_DIRECTOR__BASE_URL or LP_DIRECTOR_URL) and that Director — or "
                "`directorsync simulator` — is running and reachable from here.",
                method=method,
                path=rel,
            )
        return self._ambiguous(method, rel, reason)

    def _status_error(
        self, method: str, rel: str, response: requests.Response, safe: bool
    ) -> DirectorError:
        with response:
            status, text = response.status_code, director_message(response)
            json_body = is_json(response)
        if not safe and (status in WRITE_AMBIGUOUS_STATUSES or (status == 500 and not json_body)):
            return self._ambiguous(method, rel, f"HTTP {status}: {text}")
        if status in AUTH_STATUSES:  # rows of an apply report show director_message
            text = auth_message(status, response)
            return DirectorHTTPError(
                f"{method} {rel}: {text}",
                status=status,
                method=method,
                path=rel,
                director_message=text,
            )
        return DirectorHTTPError(
            f"{method} {rel} failed: HTTP {status}: {text}",
            status=status,
            method=method,
            path=rel,
            director_message=text,
        )

    def _ambiguous(self, method: str, rel: str, reason: str) -> AmbiguousWriteError:
        self.stats.add("ambiguous_writes")
        self.log.info("%s %s: outcome unknown (%s); not re-sent", method, rel, reason)
        return AmbiguousWriteError(
            f"{method} {rel}: outcome unknown ({reason}). The request may have been applied: "
            "look the object up by its natural key before sending it again.",
            method=method,
            path=rel,
        )

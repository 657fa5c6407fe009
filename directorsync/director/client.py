"""HTTP client for Director's configapi and monitorapi.

One :class:`DirectorClient` per Director (base URL + token), shared by every worker thread of a
run: a pooled :class:`requests.Session` (requests does not promise thread safety, but sharing a
session whose headers/adapters are not changed after construction is the common, working
practice; the client never changes them after ``__init__``).

Retry rules
-----------
Reads (GET, and POST ``…/fetch`` which changes nothing) are retried up to ``retries`` times on
connection errors, timeouts and HTTP 429/502/503/504, with exponential backoff plus jitter
(``backoff * 2**attempt``, capped at ``backoff_max``, times a random factor in [0.5, 1]);
``Retry-After`` is honoured (capped at :attr:`DirectorClient.RETRY_AFTER_MAX`).

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
import errno
import http.client
import json
import logging
import mmap
import os
import random
import socket
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from http.client import RemoteDisconnected
from typing import Any, NamedTuple

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError as Urllib3ConnectTimeout
from urllib3.exceptions import (
    InsecureRequestWarning,
    NameResolutionError,
    ProtocolError,
)

from directorsync import decoder, jsonio
from directorsync.director.orders import (
    OrderOutcome,
    director_message,
    follow_order,
    monitor_path_from_response,
    retry_after,
    sync_outcome,
)
from directorsync.errors import (
    AmbiguousWriteError,
    DirectorError,
    DirectorHTTPError,
    OrderError,
    TransportError,
)
from directorsync.redact import RedactingFilter, redact_obj, redact_text, register_secret

__all__ = ["ClientStats", "DirectorClient"]

READ_RETRY_STATUSES = frozenset({429, 502, 503, 504})
WRITE_RETRY_STATUSES = frozenset({429, 503})
WRITE_AMBIGUOUS_STATUSES = frozenset({502, 504})
AUTH_STATUSES = frozenset({401, 403})
_CONNECT_PHASE = (Urllib3ConnectTimeout, NameResolutionError)  # includes NewConnectionError
_NOT_SENT = (ConnectionRefusedError, socket.gaierror)
_MAYBE_SENT = (ProtocolError, RemoteDisconnected, ConnectionResetError, BrokenPipeError)
_LOG_PREVIEW = 2000
BODY_CHUNK = 1 << 20  # response bodies are read in 1 MB chunks
BIG_BODY = 1 << 20  # bodies from this size on are received one at a time
_receiving = threading.Lock()


def _read_body(
    response: requests.Response, on_large: Callable[[], None] | None = None
) -> bytes | mmap.mmap:
    """The whole body; large ones one at a time (threads stalled on each other's reads and
    decoding otherwise deliver every listing late instead of one early).

    ``on_large`` is called, before the body is read, when its announced size is one that goes
    to the decoding helper.
    """
    try:
        size = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        size = 0
    if response.status_code >= 300:  # an error's text: read as bytes (its message is shown)
        return b"".join(response.iter_content(BODY_CHUNK)) or b""
    if on_large is not None and size >= decoder.MIN_BYTES:
        on_large()
    if size < BIG_BODY:
        return b"".join(response.iter_content(BODY_CHUNK)) or b""
    with _receiving:
        body = _read_into(response, size)
        if body is not None:
            return body
        return b"".join(response.iter_content(BODY_CHUNK)) or b""


def _read_into(response: requests.Response, size: int) -> mmap.mmap | None:
    """A large plain body read by the socket straight into memory of its own.

    The socket fills the pages as they arrive, without the interpreter lock (a body read in
    chunks and joined is copied twice under it, stalling the planning thread for a fifth of
    a second per listing). None when the body is not sent as is (compressed, chunked) or the
    response cannot be read this way: the caller then reads it in chunks.
    """
    raw = response.raw
    fp = getattr(raw, "_fp", None)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if fp is None or not hasattr(fp, "readinto") or encoding != "identity" or raw.chunked:
        return None
    body = _body_buffer(size)
    view, got = memoryview(body), 0
    try:
        while got < size:
            n = fp.readinto(view[got:])
            if not n:
                raise requests.exceptions.ChunkedEncodingError(
                    f"the connection closed after {got:,} of {size:,} bytes"
                )
            got += n
    except (OSError, http.client.HTTPException) as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    finally:
        view.release()
    raw.release_conn()  # read to its end: the connection serves the next request
    return body


class ClientStats:
    """Thread-safe counters for reports and benchmarks.

    Attributes:
        requests: requests sent, per HTTP method (monitor polls included, as GET).
        retries: requests re-sent after a transient failure.
        ambiguous_writes: writes whose outcome was unknown (AmbiguousWriteError).
        polls: monitor requests.
        orders: orders followed to an outcome; ``order_failures`` of them failed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.retries = 0
        self.ambiguous_writes = 0
        self.polls = 0
        self.orders = 0
        self.order_failures = 0

    def add(self, field: str, n: int = 1, method: str | None = None) -> None:
        """Increment ``field`` (or ``requests[method]`` when field is ``"requests"``)."""
        with self._lock:
            if field == "requests":
                self.requests[method or "?"] += n
            else:
                setattr(self, field, getattr(self, field) + n)

    def snapshot(self) -> dict[str, Any]:
        """A plain-dict copy, e.g. for a JSON report."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "retries": self.retries,
                "ambiguous_writes": self.ambiguous_writes,
                "polls": self.polls,
                "orders": self.orders,
                "order_failures": self.order_failures,
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.snapshot()})"


class _Submitted(NamedTuple):
    monitor_path: str
    branch: str
    message: str


def _chain(exc: BaseException) -> list[BaseException]:
    """Every exception reachable from ``exc`` (args, cause, context, urllib3 ``reason``)."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend(item.args)
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
    return seen


def _unreachable(exc: BaseException) -> str | None:
    """Why no connection could be made, in a few words (None: not a connection failure)."""
    chain = _chain(exc)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
        isinstance(e, NameResolutionError) for e in chain
    ):
        return "its host name does not resolve"
    if any(isinstance(e, Urllib3ConnectTimeout) for e in chain):
        return "connecting timed out"
    if any(isinstance(e, (OSError,)) and getattr(e, "errno", None) in _NO_ROUTE for e in chain):
        return "no route to the host"
    return None


_NO_ROUTE = {errno.EHOSTUNREACH, errno.ENETUNREACH}


def never_sent(exc: BaseException) -> bool:
    """True when a requests exception proves the request did not reach the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.Timeout):
        return False
    chain = _chain(exc)
    if any(isinstance(e, _CONNECT_PHASE) for e in chain):
        return True
    if any(isinstance(e, _MAYBE_SENT) for e in chain):
        return False
    return any(isinstance(e, _NOT_SENT) for e in chain)


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
        self.backoff, self.backoff_max = backoff, backoff_max
        self.order_timeout, self.poll_initial, self.poll_max = order_timeout, poll_initial, poll_max
        self.log = logger or logging.getLogger("directorsync.director.client")
        if not any(isinstance(f, RedactingFilter) for f in self.log.filters):
            self.log.addFilter(RedactingFilter())
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()
        self.stats = ClientStats()
        register_secret(token)
        self._owns_session = session is None
        self.session = session or self._new_session()
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

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=self.POOL_MAXSIZE, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

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
        response = self._send("GET", rel, body=None, safe=True)
        return self._decode(response, "GET", rel, safe=True)

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

    def receive_listing(
        self, pool: str, node: str, path: str, *, columns_wanted: bool = False
    ) -> ReceivedListing:
        """GET a list endpoint now; the answer decodes later, whole or a few fields of it.

        ``columns_wanted``: the caller will ask for some columns: when the answer announces a
        large body, the decoding helper is started while the body arrives.
        """
        rel = self._rel(pool, node, path)
        warm = decoder.shared().warm if columns_wanted else None
        return ReceivedListing(
            self, rel, self._send("GET", rel, body=None, safe=True, on_large=warm)
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
        """Send a write and follow its order.

        Raises:
            OrderError: the order failed (message = Director's text) or timed out.
            AmbiguousWriteError: the outcome is unknown; re-list before sending again.
            DirectorHTTPError: Director refused the request.
            TransportError: Director could not be reached (nothing was sent).
        """
        submitted = self._submit(method, pool, node, path, data)
        rel = self._rel(pool, node, path)
        return self._finish(submitted, method.upper(), rel)

    def delete(self, pool: str, node: str, path: str) -> OrderOutcome:
        """Trash an object (``DELETE {Resource}/{id}``) and follow its order, like :meth:`write`.

        The body is ``{"data": {}}``, as for every action without parameters (contract §1.3).

        Raises:
            OrderError: the order failed: Director's text (e.g. the object is still in use).
            DirectorHTTPError: refused at once (404: no object with that id).
            AmbiguousWriteError: the outcome is unknown; list again before deciding.
            TransportError: Director could not be reached (nothing was sent).
        """
        return self.write("DELETE", pool, node, path)

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
        response = self._send(method, rel, body=body, safe=safe)
        answer = self._decode(response, method, rel, safe=safe)
        if isinstance(answer, dict) and str(answer.get("status", "")).lower() in (
            "error",
            "failed",
            "failure",
        ):
            text = redact_text(str(answer.get("message") or answer))[:500]
            raise DirectorHTTPError(
                f"{method} {rel} refused: {text}",
                status=response.status_code,
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
        return self.session.get(url, timeout=self.timeout, verify=self.verify)

    # -- transport --------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        rel: str,
        *,
        body: dict | None,
        safe: bool,
        on_large: Callable[[], None] | None = None,
    ) -> requests.Response:
        """Send with the retry rules; return a response with status < 400 or raise."""
        url = f"{self.base_url}/{rel}"
        retry_statuses = READ_RETRY_STATUSES if safe else WRITE_RETRY_STATUSES
        attempt = 0
        while True:
            response, exc = self._attempt(method, url, rel, body, on_large)
            if exc is not None:
                retryable = safe or never_sent(exc)
                if retryable and attempt < self.retries and not _is_tls(exc):
                    self._pause(attempt, None, method, rel, type(exc).__name__)
                    attempt += 1
                    continue
                raise self._exception_error(method, rel, exc, safe, attempt + 1)
            assert response is not None
            if response.status_code in retry_statuses and attempt < self.retries:
                hint = retry_after(response)
                response.close()
                self._pause(attempt, hint, method, rel, f"HTTP {response.status_code}")
                attempt += 1
                continue
            if response.status_code >= 400:
                raise self._status_error(method, rel, response, safe)
            return response

    def _attempt(
        self,
        method: str,
        url: str,
        rel: str,
        body: dict | None,
        on_large: Callable[[], None] | None = None,
    ) -> tuple[requests.Response | None, requests.RequestException | None]:
        self.stats.add("requests", method=method)
        if body is not None and self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("%s %s body=%s", method, rel, _preview(redact_obj(body)))
        start = self._clock()
        try:
            response = self.session.request(
                method, url, json=body, timeout=self.timeout, verify=self.verify, stream=True
            )
            # read the body here (errors are retried like any transport error), in 1 MB chunks:
            # requests' default 10 kB chunks cost one interpreter-lock hand-off each, which
            # stalls concurrent listings of tens of megabytes behind each other's decoding
            response._content = _read_body(response, on_large)
        except requests.RequestException as exc:
            ms = (self._clock() - start) * 1000
            self.log.debug("%s %s -> %s after %.0f ms", method, rel, type(exc).__name__, ms)
            return None, exc
        ms = (self._clock() - start) * 1000
        self.log.debug("%s %s -> HTTP %s in %.0f ms", method, rel, response.status_code, ms)
        return response, None

    def _pause(self, attempt: int, hint: float | None, method: str, rel: str, why: str) -> None:
        if hint is not None:
            delay = min(hint, self.RETRY_AFTER_MAX)
        else:
            delay = min(self.backoff_max, self.backoff * 2**attempt) * self._rng.uniform(0.5, 1.0)
        self.stats.add("retries")
        self.log.debug(
            "%s %s: %s, retry %d/%d in %.2f s", method, rel, why, attempt + 1, self.retries, delay
        )
        self._sleep(delay)

    def _decode(self, response: requests.Response, method: str, rel: str, safe: bool) -> Any:
        with response:
            content = response.content
        if _blank(content):
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
        reason = redact_text(f"{type(exc).__name__}: {exc}")[:300]
        if _is_tls(exc):
            return TransportError(
                f"{method} {rel}: TLS error ({reason}). Check the CA bundle (verify=...).",
                method=method,
                path=rel,
            )
        if safe or never_sent(exc):
            cause = _unreachable(exc)
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
            json_body = _is_json(response)
        if not safe and (status in WRITE_AMBIGUOUS_STATUSES or (status == 500 and not json_body)):
            return self._ambiguous(method, rel, f"HTTP {status}: {text}")
        if status in AUTH_STATUSES:  # rows of an apply report show director_message
            text = _auth_message(status, response)
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


class ReceivedListing:
    """A list endpoint's answer, received and not yet decoded.

    :meth:`items` decodes every object; :meth:`columns` only the named fields, column by column
    (several times faster on a large listing). Both check that the body is a JSON array of
    objects (contract §1.6) and may be called several times.
    """

    def __init__(self, client: DirectorClient, rel: str, response: requests.Response) -> None:
        self._client, self._rel, self._response = client, rel, response
        self._started: dict[tuple[str, ...], Future] = {}

    def start_columns(self, fields: list[str], unnest: dict[str, list[str]] | None = None) -> None:
        """Start decoding ``fields`` in the decoding helper now, for a later :meth:`columns`.

        Only large listings go to the helper (:data:`directorsync.decoder.MIN_BYTES`); others
        are decoded when asked. ``unnest`` (``{field: [keys]}``) names object fields that come
        back as one column per key (:class:`directorsync.decoder.Unnested`), those keys only.
        """
        content = self._response.content
        if len(content) >= decoder.MIN_BYTES:
            self._started[tuple(fields)] = decoder.shared().submit(content, fields, unnest)

    def items(self) -> list[dict]:
        client, rel = self._client, self._rel
        return client._check_list(rel, client._decode(self._response, "GET", rel, safe=True))

    def columns(self, fields: list[str]) -> dict[str, Any]:
        """``{field: [value per object]}`` of the fields at least one object has.

        A column decoded by the helper may be an object array, and an ``unnest`` field an
        :class:`~directorsync.decoder.Unnested` (see :meth:`start_columns`).
        """
        with self._response as response:
            content = response.content
        if _blank(content):
            return self._client._check_list(self._rel, None)
        started = self._started.pop(tuple(fields), None)
        if started is not None:
            try:
                return decoder.decode_columns(started)
            except decoder.DecoderUnavailable:
                pass  # decoded here instead (with this process's own error messages)
        try:
            return jsonio.loads_columns(content, fields)
        except ValueError:  # not JSON, or not an array of objects: the full decode says which
            return jsonio.columns_of(self.items(), fields)


class SharedBody(mmap.mmap):
    """A received body in memory another process of this user may map (``/proc/<pid>/fd/<fd>``:
    the decoding helper reads it there instead of through a pipe)."""

    fd: int


def _body_buffer(size: int) -> mmap.mmap:
    """Memory for a large body: a shareable memfd mapping on Linux, private memory elsewhere."""
    if hasattr(os, "memfd_create") and sys.platform.startswith("linux"):
        try:
            fd = os.memfd_create("directorsync-listing", os.MFD_CLOEXEC)
        except OSError:
            return mmap.mmap(-1, size)
        try:
            os.ftruncate(fd, size)
            body = SharedBody(fd, size)
        except OSError:
            os.close(fd)
            return mmap.mmap(-1, size)
        body.fd = fd
        weakref.finalize(body, os.close, fd)
        return body
    return mmap.mmap(-1, size)


def _blank(content: bytes | mmap.mmap) -> bool:
    """No body, or white space only (a large body is not copied to tell)."""
    if not len(content):
        return True
    if content[:64].strip():
        return False
    return not bytes(content).strip()


def _auth_message(status: int, response: requests.Response) -> str:
    """What to do when Director refuses the token, with Director's text when it is harmless.

    Director's text is left out when redaction would change it (it may hold a credential,
    or reads like one: ``invalid bearer token``), and when it is not a short line.
    """
    message = (
        f"Director refused the token (HTTP {status}): check DSYNC_DIRECTOR__TOKEN / "
        "LP_DIRECTOR_API_TOKEN or director.token; tokens expire after 8 hours"
    )
    if status == 403:
        message += ", and the token's user needs rights on this pool"
    said = _raw_director_text(response)
    if said and len(said) <= 200 and "\n" not in said and redact_text(said) == said:
        message += f". Director said: {said}"
    return message


def _raw_director_text(response: requests.Response) -> str:
    """The JSON ``message`` of an answer, else its body (not redacted: check before use)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message.strip():
        return message.strip()
    return (response.text or "").strip()


def _is_tls(exc: BaseException) -> bool:
    return isinstance(exc, requests.exceptions.SSLError)


def _is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def _preview(obj: Any) -> str:
    text = json.dumps(obj, default=str, ensure_ascii=False)
    return text if len(text) <= _LOG_PREVIEW else text[:_LOG_PREVIEW] + "…"

"""The HTTP transport under :class:`~directorsync.director.client.DirectorClient`.

Reading response bodies (in large chunks, large ones one at a time), telling from a
requests exception whether a request reached Director (:func:`never_sent`) and why not
(:func:`unreachable_reason`), the messages for refused tokens, and the client's counters
(:class:`ClientStats`).
"""

from __future__ import annotations

import errno
import json
import socket
import threading
from collections import Counter
from http.client import RemoteDisconnected
from typing import Any, NamedTuple

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError as Urllib3ConnectTimeout
from urllib3.exceptions import NameResolutionError, ProtocolError

from directorsync.redact import redact_text

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


class Answer(NamedTuple):
    """A response and its whole body.

    The body is read when the response arrives, so that reading errors are retried like any
    transport error.
    """

    response: requests.Response
    body: bytes


def read_body(response: requests.Response) -> bytes:
    """The whole body, in 1 MB chunks; large ones one at a time.

    requests' default 10 kB chunks cost one interpreter-lock hand-off each, which stalls
    concurrent listings of tens of megabytes behind each other; and threads stalled on each
    other's reads deliver every listing late instead of one early.
    """
    if response.status_code >= 300:  # an error's text: requests keeps it (its message is shown)
        return response.content or b""
    try:
        size = int(response.headers.get("Content-Length") or 0)
    except ValueError:
        size = 0
    if size < BIG_BODY:
        return b"".join(response.iter_content(BODY_CHUNK))
    with _receiving:
        return b"".join(response.iter_content(BODY_CHUNK))


class ClientStats:
    """Thread-safe counters for reports and benchmarks.

    Attributes:
        requests: requests sent, per HTTP method (monitor polls included, as GET).
        retries: requests re-sent after a transient failure.
        throttled: answers 429/503 waited out as their ``Retry-After`` asked (not retries).
        ambiguous_writes: writes whose outcome was unknown (AmbiguousWriteError).
        polls: monitor requests.
        orders: orders followed to an outcome; ``order_failures`` of them failed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.retries = 0
        self.throttled = 0
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
                "throttled": self.throttled,
                "ambiguous_writes": self.ambiguous_writes,
                "polls": self.polls,
                "orders": self.orders,
                "order_failures": self.order_failures,
            }

    def __repr__(self) -> str:
        return f"ClientStats({self.snapshot()})"


def exception_chain(exc: BaseException) -> list[BaseException]:
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


def unreachable_reason(exc: BaseException) -> str | None:
    """Why no connection could be made, in a few words (None: not a connection failure)."""
    chain = exception_chain(exc)
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
    chain = exception_chain(exc)
    if any(isinstance(e, _CONNECT_PHASE) for e in chain):
        return True
    if any(isinstance(e, _MAYBE_SENT) for e in chain):
        return False
    return any(isinstance(e, _NOT_SENT) for e in chain)


def is_blank(content: bytes) -> bool:
    """No body, or white space only."""
    return not content[:64].strip() and not content.strip()


def auth_message(status: int, response: requests.Response) -> str:
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
    said = raw_director_text(response)
    if said and len(said) <= 200 and "\n" not in said and redact_text(said) == said:
        message += f". Director said: {said}"
    return message


def raw_director_text(response: requests.Response) -> str:
    """The JSON ``message`` of an answer, else its body (not redacted: check before use)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message.strip():
        return message.strip()
    return (response.text or "").strip()


def is_tls(exc: BaseException) -> bool:
    """Whether a transport error is a TLS failure (handshake, certificate)."""
    return isinstance(exc, requests.exceptions.SSLError)


#: what OpenSSL says when the server answers a TLS hello in plain HTTP
PLAIN_HTTP_MARKS = ("WRONG_VERSION_NUMBER", "wrong version number", "http request")


def tls_message(method: str, rel: str, base_url: str, exc: BaseException, reason: str) -> str:
    """A TLS failure's line: a plain-HTTP server said so, else the (shortened) reason."""
    if any(m in str(exc) for m in PLAIN_HTTP_MARKS):
        plain = "http://" + base_url.split("://", 1)[-1]
        return (
            f"{method} {rel}: {redact_text(base_url)} does not speak TLS (the server answered "
            f"in plain text): use {redact_text(plain)} in director.base_url, or enable HTTPS on "
            "the server"
        )
    return (
        f"{method} {rel}: TLS error ({reason}). Check the CA bundle (director.ca_bundle) or "
        "director.verify_tls."
    )


def is_json(response: requests.Response) -> bool:
    """Whether a response's body parses as JSON."""
    try:
        response.json()
    except ValueError:
        return False
    return True


def log_preview(obj: Any) -> str:
    """A value as JSON text for a log line, cut after ``_LOG_PREVIEW`` characters."""
    text = json.dumps(obj, default=str, ensure_ascii=False)
    return text if len(text) <= _LOG_PREVIEW else text[:_LOG_PREVIEW] + "…"


def pooled_session(pool_maxsize: int) -> requests.Session:
    """A session whose connection pools keep ``pool_maxsize`` connections.

    urllib3 does not retry: the client retries by its own rules.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

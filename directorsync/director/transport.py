"""The HTTP transport under :class:`~directorsync.director.client.DirectorClient`.

Reading response bodies (large ones straight from the socket, one at a time), telling from a
requests exception whether a request reached Director (:func:`never_sent`) and why not
(:func:`unreachable_reason`), the messages for refused tokens, and the client's counters
(:class:`ClientStats`).
"""

from __future__ import annotations

import errno
import http.client
import json
import mmap
import os
import socket
import sys
import threading
import weakref
from collections import Counter
from collections.abc import Callable
from http.client import RemoteDisconnected
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError as Urllib3ConnectTimeout
from urllib3.exceptions import NameResolutionError, ProtocolError

from directorsync import decoder
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


def read_body(
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
        body = read_into(response, size)
        if body is not None:
            return body
        return b"".join(response.iter_content(BODY_CHUNK)) or b""


def read_into(response: requests.Response, size: int) -> mmap.mmap | None:
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
    body = body_buffer(size)
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


class SharedBody(mmap.mmap):
    """A received body in memory another process of this user may map (``/proc/<pid>/fd/<fd>``:
    the decoding helper reads it there instead of through a pipe)."""

    fd: int


def body_buffer(size: int) -> mmap.mmap:
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


def is_blank(content: bytes | mmap.mmap) -> bool:
    """No body, or white space only (a large body is not copied to tell)."""
    if not len(content):
        return True
    if content[:64].strip():
        return False
    return not bytes(content).strip()


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
    return isinstance(exc, requests.exceptions.SSLError)


def is_json(response: requests.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def log_preview(obj: Any) -> str:
    text = json.dumps(obj, default=str, ensure_ascii=False)
    return text if len(text) <= _LOG_PREVIEW else text[:_LOG_PREVIEW] + "…"


def pooled_session(pool_maxsize: int) -> requests.Session:
    """A session whose connection pools keep ``pool_maxsize`` connections (no urllib3 retries:
    the client retries by its own rules)."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session

"""Pacing against a Director that says "too many requests".

Two things, used by :class:`~directorsync.director.client.DirectorClient` and by apply:

* :class:`Throttle` — how long to wait after an answer that carries ``Retry-After`` (HTTP 429,
  or 503 with the header): at least what Director asked for, plus up to half of it at random so
  that clients told the same thing do not all come back at the same instant. Such waits do not
  use up the request's ``retries``; they stop when the request has waited ``budget`` seconds in
  all (``director.throttle_wait_sec``).
* :class:`WriteWindow` — the writes in flight on one node, adapted AIMD-style: it starts at
  ``app.concurrency``, halves (at most once per ``hold`` seconds, so that one burst of 429s
  counts once) when Director answers 429 or 503 on that node — to a write, a listing or an
  order poll — and grows by one slot per window's worth of rows finished without one, never
  above ``app.concurrency``.

:class:`Pacing` holds a client's windows by node; the client reports throttled answers to it
(:meth:`Pacing.throttled`) and apply takes its per-node window from it (:func:`write_window`).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

#: answers that mean "not now": Director did not act on the request
THROTTLE_STATUSES = frozenset({429, 503})


class Throttle:
    """Waits asked for by ``Retry-After``, within a budget per request.

    Args:
        budget: seconds one request may spend waiting on ``Retry-After`` in all.
        cap: the longest single wait (a ``Retry-After`` of an hour is waited ``cap``).
        rng: random source of the spread.
    """

    def __init__(self, budget: float = 300.0, cap: float = 60.0, rng: random.Random | None = None):
        self.budget, self.cap = budget, cap
        self._rng = rng or random.Random()

    def delay(self, hint: float, waited: float) -> float | None:
        """The pause before the next attempt, or None when the budget is spent.

        Args:
            hint: the ``Retry-After`` seconds of the answer.
            waited: what this request already waited on ``Retry-After``.
        """
        if waited >= self.budget:
            return None
        base = min(max(hint, 0.0), self.cap)
        return base + (base * self._rng.uniform(0.0, 0.5) if base else self._rng.uniform(0, 0.05))


class WriteWindow:
    """A per-node gate for writes whose size adapts (additive increase, multiplicative decrease).

    Used as a context manager around one row's writes (``with window: …``). A row that ends
    without an exception counts as a success.

    Args:
        limit: the largest window (``app.concurrency``); also the first.
        hold: after a cut, further throttle signals within this many seconds are the same burst.
        clock: monotonic clock (injectable for tests).
    """

    def __init__(
        self, limit: int, hold: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = max(1, int(limit))
        self.size = self.limit
        self.in_flight = 0
        self.cuts = 0
        self.smallest = self.size
        self._hold, self._clock = hold, clock
        self._last_cut: float | None = None
        self._credit = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        """Wait for a free slot in the window."""
        with self._cond:
            while self.in_flight >= self.size:
                self._cond.wait()
            self.in_flight += 1

    def release(self, success: bool = True) -> None:
        """Free a slot; a success earns credit, a full window of credit one more slot."""
        with self._cond:
            self.in_flight -= 1
            if success and self.size < self.limit:
                self._credit += 1
                if self._credit >= self.size:
                    self._credit = 0
                    self.size += 1
            self._cond.notify_all()

    def cut(self) -> bool:
        """Halve the window (not below one) unless it was cut less than ``hold`` seconds ago."""
        with self._cond:
            now = self._clock()
            if self._last_cut is not None and now - self._last_cut < self._hold:
                return False
            self._last_cut = now
            self.size = max(1, self.size // 2)
            self.smallest = min(self.smallest, self.size)
            self.cuts += 1
            self._credit = 0
            return True

    def __enter__(self) -> WriteWindow:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release(success=exc_type is None)

    def __repr__(self) -> str:
        return f"WriteWindow(size={self.size}, limit={self.limit}, in_flight={self.in_flight})"


class Pacing:
    """A client's write windows, by node; throttled answers cut the node's window."""

    def __init__(self, hold: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._windows: dict[str, WriteWindow] = {}
        self._lock = threading.Lock()
        self._hold, self._clock = hold, clock

    def window(self, node: str, limit: int) -> WriteWindow:
        """The node's window (made with ``limit`` on first use; a new limit starts it again)."""
        with self._lock:
            window = self._windows.get(node)
            if window is None or window.limit != max(1, int(limit)):
                window = WriteWindow(limit, self._hold, self._clock)
                self._windows[node] = window
            return window

    def throttled(self, rel: str) -> None:
        """Director answered 429/503 to ``rel`` (``configapi|monitorapi/{pool}/{node}/…``)."""
        node = node_of(rel)
        with self._lock:
            window = self._windows.get(node) if node else None
        if window is not None:
            window.cut()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{node: {size, limit, smallest, cuts}}`` for reports and benchmarks."""
        with self._lock:
            return {
                node: {"size": w.size, "limit": w.limit, "smallest": w.smallest, "cuts": w.cuts}
                for node, w in self._windows.items()
            }


def node_of(rel: str) -> str | None:
    """The node of a ``configapi/{pool}/{node}/…`` or ``monitorapi/…`` path."""
    parts = rel.lstrip("/").split("/")
    if len(parts) >= 3 and parts[0] in ("configapi", "monitorapi"):
        return parts[2]
    return None


def write_window(client: Any, node: str, limit: int) -> WriteWindow:
    """The write window of ``node`` on ``client`` (a lone one if the client has no pacing)."""
    pacing = getattr(client, "pacing", None)
    if isinstance(pacing, Pacing):
        return pacing.window(node, limit)
    return WriteWindow(limit)

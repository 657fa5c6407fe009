"""The request log (contract §6.25): every configapi/monitorapi request, and counts per route.

Admin requests (``/_sim/…``) are not logged, so that tests see only client traffic. The log
keeps the last :data:`MAX_ENTRIES` entries; counts are kept for every request since the last
reset.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

MAX_ENTRIES = 100_000


class RequestLog:
    """Log entries plus counts per ``"METHOD pattern"`` and per ``"METHOD path"``."""

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._by_pattern: Counter[str] = Counter()
        self._by_path: Counter[str] = Counter()
        self._seq = 0

    def record(self, entry: dict[str, Any]) -> None:
        """Add one entry (``method``, ``path``, ``pattern``, ``body``, ``auth``, ``ts``, ``status``…)."""
        self._seq += 1
        self._entries.append({"seq": self._seq, **entry})
        self._by_pattern[f"{entry['method']} {entry['pattern']}"] += 1
        self._by_path[f"{entry['method']} {entry['path']}"] += 1

    def entries(self) -> list[dict[str, Any]]:
        """The logged entries, oldest first."""
        return list(self._entries)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{"by_pattern": {...}, "by_path": {...}}``."""
        return {"by_pattern": dict(self._by_pattern), "by_path": dict(self._by_path)}

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
        self._by_pattern.clear()
        self._by_path.clear()
        self._seq = 0

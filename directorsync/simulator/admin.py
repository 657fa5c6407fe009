"""The test-only admin API under ``/_sim/`` (same Bearer token; ``/_sim/health`` is open).

=========================  ==============================================================
``GET  /_sim/health``      ``{"status": "ok"}`` (no token needed: readiness probe)
``GET  /_sim/requests``    the request log (method, path, pattern, body, auth, ts, status…)
``GET  /_sim/counts``      ``{"by_pattern": {"POST /configapi/{pool}/{node}/Repos": n}, "by_path": …}``
``POST /_sim/reset``       back to the seeded state; log, faults and clock cleared
``GET  /_sim/state``       dump of every node's objects, the orders, faults and knobs
``GET  /_sim/faults``      the fault rules and how often each fired
``POST /_sim/faults``      add a rule (see :mod:`directorsync.simulator.faults`)
``DELETE /_sim/faults``    remove every rule
``GET  /_sim/config``      the knobs
``POST /_sim/config``      change knobs: ``{"job_ms": 500, "fail_rate": 0.1}``
``POST /_sim/clock``       ``{"advance_ms": N}``: move the clock forward (orders fall due)
=========================  ==============================================================

Bodies are plain JSON objects (no ``data`` envelope). The same operations are the Python
helpers of :class:`~directorsync.simulator.Simulator`.
"""

from __future__ import annotations

from typing import Any

from directorsync.simulator.engine import Director
from directorsync.simulator.validation import ApiError, bad


class Admin:
    """The admin operations, shared by the HTTP API and the Python helpers."""

    def __init__(self, director: Director) -> None:
        self.director = director

    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first."""
        with self.director.lock:
            return self.director.log.entries()

    def counts(self) -> dict[str, dict[str, int]]:
        """Request counts per pattern and per exact path."""
        with self.director.lock:
            return self.director.log.counts()

    def reset(self) -> dict[str, Any]:
        """Back to the seeded state."""
        self.director.reset()
        return {"status": "Success", "message": "simulator reset to its seeded state"}

    def state(self) -> dict[str, Any]:
        """Everything the simulator holds."""
        return self.director.dump()

    def faults(self) -> list[dict[str, Any]]:
        """The active fault rules."""
        with self.director.lock:
            return self.director.faults.as_list()

    def add_fault(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Add a fault rule; returns it."""
        with self.director.lock:
            rule = self.director.faults.add(spec, self.director.topology)
            return self.director.faults.as_list()[self.director.faults.rules.index(rule)]

    def clear_faults(self) -> dict[str, Any]:
        """Remove every fault rule."""
        with self.director.lock:
            self.director.faults.clear()
        return {"status": "Success", "message": "fault rules cleared"}

    def config(self) -> dict[str, Any]:
        """The knobs."""
        return self.director.knobs.as_dict()

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change knobs (a changed ``rng_seed`` re-seeds the generator); returns all knobs."""
        with self.director.lock:
            self.director.knobs.update(changes)
            if "rng_seed" in changes:
                self.director.rng.seed(self.director.knobs.rng_seed)
            return self.director.knobs.as_dict()

    def advance(self, ms: float) -> dict[str, Any]:
        """Move the clock forward by ``ms`` milliseconds."""
        self.director.advance(ms)
        return {"status": "Success", "message": f"clock advanced by {ms} ms"}

    def handle(self, method: str, segments: list[str], body: Any) -> Any:
        """Serve ``/_sim/<segments>``; returns the JSON answer.

        Raises:
            ApiError: 404 unknown endpoint, 400 bad body.
        """
        endpoint = (method, "/".join(segments))
        if endpoint == ("POST", "faults"):
            return self.add_fault(_object(body))
        if endpoint == ("POST", "config"):
            return self.configure(_object(body))
        if endpoint == ("POST", "clock"):
            ms = _object(body).get("advance_ms")
            if isinstance(ms, bool) or not isinstance(ms, int | float) or ms < 0:
                raise bad("advance_ms: expected a non-negative number of milliseconds")
            return self.advance(ms)
        simple = {
            ("GET", "requests"): self.requests,
            ("GET", "counts"): self.counts,
            ("POST", "reset"): self.reset,
            ("GET", "state"): self.state,
            ("GET", "faults"): self.faults,
            ("DELETE", "faults"): self.clear_faults,
            ("GET", "config"): self.config,
        }
        if endpoint not in simple:
            raise ApiError(404, f"unknown admin endpoint {method} /_sim/{endpoint[1]}")
        return simple[endpoint]()


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad("expected a JSON object body")
    return body

"""Run-time knobs of the simulator: latency, order duration, random faults, lenient switches.

Every knob is off by default, so that a default simulator is fast and faithful to the documented
shapes. Knobs can be set at start (``Simulator(**knobs)``, CLI flags) and changed while running
(``POST /_sim/config``, ``sim.configure(**knobs)``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from directorsync.simulator.validation import bad


@dataclass
class Knobs:
    """The simulator's knobs.

    Attributes:
        latency_ms: delay added before every configapi/monitorapi answer.
        job_ms: how long an order runs (0: it completes before its first poll returns).
        fail_rate: probability of a 5xx JSON answer; nothing is applied.
        drop_rate: probability that the connection is closed before any answer byte is sent;
            the request *is* handled (a write's order is created and will complete).
        job_fail_rate: probability that an accepted write's order ends failed; nothing applied.
        max_inflight: concurrent configapi/monitorapi requests allowed (0: unlimited); beyond
            that, 429 with ``Retry-After``.
        rng_seed: seed of the random generator behind ids and random faults (None: random).
        lenient_devicegroup_empty_name: accept ``PUT DeviceGroups/{id}`` with ``name: ""`` and
            keep the old name (v2 always sends an empty name, contract §2.7).
        plugins_with_uuid: add ``uuid`` and ``processpolicy`` to ``GET Devices/{id}/plugins``
            items (beyond the documented shape, contract §2.6).
        np_read_compiled_normalizer: echo ``compiled_normalizer`` in NormalizationPolicy reads
            (beyond the documented read shape, contract §2.2 and §6.16).
        stale_listings: listings that have a RefreshList endpoint of their own (``GET Lists``,
            ``Users``, ``UserGroups``, ``EnrichmentSource``) lag behind writes: they return the
            objects written since the last ``POST …/refreshlist`` as they were before those
            writes (created ones absent, deleted ones still there) until the refresh's order
            completes (doc §3.1). ``GET …/{id}`` stays current.
    """

    latency_ms: int = 0
    job_ms: int = 0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    job_fail_rate: float = 0.0
    max_inflight: int = 0
    rng_seed: int | None = None
    lenient_devicegroup_empty_name: bool = False
    plugins_with_uuid: bool = False
    np_read_compiled_normalizer: bool = False
    stale_listings: bool = False

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` after checking names, types and ranges (all or nothing).

        Raises:
            ApiError: 400 naming the unknown knob or the bad value.
        """
        checked = {name: _check(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        """The knobs as a JSON-able dict."""
        return asdict(self)


_TYPES = {f.name: f.type for f in fields(Knobs)}
_RATES = ("fail_rate", "drop_rate", "job_fail_rate")


def _check(name: str, value: Any) -> Any:
    if name not in _TYPES:
        raise bad(f"unknown knob {name!r}; known: {', '.join(_TYPES)}")
    kind = _TYPES[name]
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad(f"{name}: expected true or false, got {value!r}")
        return value
    if value is None and "None" in kind:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"{name}: expected a number, got {value!r}")
    if name in _RATES:
        if not 0.0 <= value <= 1.0:
            raise bad(f"{name}: expected a probability between 0 and 1, got {value!r}")
        return float(value)
    if value < 0 or value != int(value):
        raise bad(f"{name}: expected a non-negative integer, got {value!r}")
    return int(value)

"""Every write an apply sends goes through a :class:`WriteGuard`.

The guard:

- refuses to send once the run is stopping (cancel, Ctrl-C, SIGTERM): the row ends SKIP
  ``cancelled``; orders already accepted are followed to their end by their own threads;
- journals each write in the ledger before it leaves (intent), when Director accepts it (its
  order) and, through the run's tracker, when it ends (outcome);
- on ``--resume``, replays the interrupted run's journal: outcomes known are carried, accepted
  orders are followed instead of sent again, writes with an unknown answer are looked up by
  natural key before anything is sent;
- judges a create that finds its object already on Director (:func:`already_present`): the same
  values → UNCHANGED "already present as desired", different values → ERROR naming the fields;
  CREATED only when this run's own request may have made it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from directorsync.diff import compare_fields, differs_mask
from directorsync.director.orders import OrderOutcome
from directorsync.errors import AmbiguousWriteError, OrderError
from directorsync.ledger.journal import record_accepted, record_intent, record_outcome, row_key
from directorsync.profile.model import Profile
from directorsync.vocabulary import ALREADY_PRESENT, CANCELLED_REASON

_WHOLE_FIELD = re.compile(r"^\$\{([A-Za-z0-9_]+)(\|[^}]*)?\}$")


class RowSettled(Exception):
    """A row whose status is decided without (another) write: ``status`` and ``reason``."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class StopSignal:
    """How a run is asked to stop: ``soft`` (no new write) then, maybe, ``hard`` (at once)."""

    def __init__(self) -> None:
        self.soft = threading.Event()
        self.hard = threading.Event()
        self.why = ""
        self.exit_code = 130
        self.at: float | None = None

    def request(self, why: str, exit_code: int = 130) -> bool:
        """Ask to stop; True the first time."""
        if self.soft.is_set():
            return False
        self.why, self.exit_code = why, exit_code
        self.at = time.monotonic()
        self.soft.set()
        return True

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked."""
        return self.soft.is_set()


class WriteGuard:
    """Sends one row's write for :mod:`directorsync.apply` (see the module docstring).

    Args:
        client: the Director client (``submit`` + ``wait``).
        pool: the tenant's pool UUID.
        ledger: where the journal goes (None: no journal).
        run_id: this run's id in the ledger.
        stop: the run's stop signal (None: never stops).
        previous: the interrupted run's journal (``--resume``), row key → entry.
        previous_run: that run's id.
        profiles: the profiles (to compare a create's values with an object found present).
    """

    def __init__(
        self,
        client: Any,
        pool: str,
        *,
        ledger: Any = None,
        run_id: str | None = None,
        stop: StopSignal | None = None,
        previous: dict[str, dict[str, Any]] | None = None,
        previous_run: str | None = None,
        profiles: dict[str, Profile] | None = None,
    ) -> None:
        self.client, self.pool = client, pool
        self.profiles = profiles or {}
        self.ledger, self.run_id = ledger, run_id
        self.stop = stop or StopSignal()
        self.previous = dict(previous or {})
        self.previous_run = previous_run
        self.lock = threading.Lock()
        self.unanswered: set[str] = set()  # rows a request of ours may have created
        self.last_send: float | None = None  # monotonic time of the last request sent
        self.sent: set[str] = set()  # rows whose write left (journaled intent)

    def check(self, row: dict[str, Any]) -> None:
        """Refuse a row once the run is stopping; settle rows the interrupted run finished."""
        entry = self._previous(row, peek=True)
        if entry and entry["phase"] == "done" and (entry["attempts"] or entry["carried_from"]):
            self._previous(row)
            origin = entry["carried_from"] or self.previous_run
            reason = _carried_reason(entry, origin)
            if self.ledger is not None and self.run_id:
                record_outcome(self.ledger, self.run_id, [(row, entry["status"], reason, origin)])
            raise RowSettled(entry["status"], reason)
        if self.stop.stopping:
            raise RowSettled("SKIP", CANCELLED_REASON)

    def write(
        self,
        row: dict[str, Any],
        node_id: str,
        path: str,
        payload: dict[str, Any],
        find: Callable[[], dict[str, Any] | None],
    ) -> tuple[OrderOutcome, str | None]:
        """Send (or resume) one write and follow its order: ``(outcome, note)``.

        Raises:
            RowSettled: the run is stopping, or the row was settled by the interrupted run.
            OrderError, AmbiguousWriteError, DirectorHTTPError, TransportError: as
                :meth:`DirectorClient.write`.
        """
        entry = self._previous(row)
        rk = _rk(row)
        if entry and entry["phase"] == "accepted" and entry["monitor_path"]:
            self._journal(record_intent, row, path)
            self._journal(record_accepted, row, entry["monitor_path"])
            with self.lock:
                self.sent.add(rk)
            outcome = self._follow(entry["monitor_path"], row, path)
            return (
                outcome,
                f"order {entry['order_id']} sent by run {self.previous_run}, followed to its end",
            )
        if entry and row["method"] == "POST":  # sent before, answer unknown: look first
            with self.lock:
                self.unanswered.add(rk)
            remote = find()
            if remote is not None:
                raise already_present_row(
                    row, payload, remote, self.profile_of(row), ours=False, origin=self.previous_run
                )
        if self.stop.stopping:
            raise RowSettled("SKIP", CANCELLED_REASON)
        self._journal(record_intent, row, path)
        with self.lock:
            self.sent.add(rk)
        self.last_send = time.monotonic()
        try:
            monitor = self.client.submit(row["method"], self.pool, node_id, path, payload)
        except AmbiguousWriteError:
            with self.lock:
                self.unanswered.add(rk)
            raise
        self._journal(record_accepted, row, monitor)
        return self._follow(monitor, row, path), None

    def profile_of(self, row: dict[str, Any]) -> Profile | None:
        """The profile of a row's resource (None when the run has none for it)."""
        return self.profiles.get(row["resource"])

    def maybe_ours(self, row: dict[str, Any]) -> bool:
        """Whether a request of this run (or of the run it resumes) may have created the object.

        That is a request without an answer, or one that timed out.
        """
        with self.lock:
            return _rk(row) in self.unanswered

    def _follow(self, monitor: str, row: dict[str, Any], path: str) -> OrderOutcome:
        try:
            outcome = self.client.wait(monitor)
        except OrderError as exc:
            if exc.timed_out:
                with self.lock:
                    self.unanswered.add(_rk(row))
            raise
        if not outcome.success:
            raise OrderError(
                outcome.message or f"order {outcome.order_id} failed (Director gave no message)",
                monitor_path=outcome.monitor_path,
                errors=outcome.errors,
                method=row["method"],
                path=path,
                order_id=outcome.order_id,
            )
        return outcome

    def _previous(self, row: dict[str, Any], peek: bool = False) -> dict[str, Any] | None:
        if not self.previous:
            return None
        with self.lock:
            rk = _rk(row)
            return self.previous.get(rk) if peek else self.previous.pop(rk, None)

    def _journal(self, record: Callable[..., None], row: dict[str, Any], value: str) -> None:
        if self.ledger is not None and self.run_id:
            record(self.ledger, self.run_id, row, value)


def _rk(row: dict[str, Any]) -> str:
    return row_key(row["resource"], row["node_id"], row["key"])


def _carried_reason(entry: dict[str, Any], origin: str | None) -> str:
    done = {"CREATED": "created", "UPDATED": "updated"}.get(entry["status"])
    if done:
        return f"{done} by run {origin} before it stopped"
    return entry["reason"] or f"{entry['status']} in run {origin}"


def payload_fields(profile: Profile) -> dict[str, str]:
    """Compared field → the top-level key of the create payload that carries it."""
    template = profile.payload.get("create") or {}
    found = {}
    for key, value in template.items():
        match = _WHOLE_FIELD.match(value) if isinstance(value, str) else None
        if match:
            found[match.group(1)] = key
    return {f: found[f] for f in compare_fields(profile) if f in found}


def differing_fields(
    profile: Profile, payload: dict[str, Any], remote: dict[str, Any]
) -> list[str]:
    """The compared fields whose value in ``payload`` differs from the remote object's."""
    differing = []
    for field, key in payload_fields(profile).items():
        if key not in payload:
            continue
        after = pd.Series([payload[key]], dtype=object)
        before = pd.Series([remote.get(field)], dtype=object)
        if bool(differs_mask(after, before, field, profile).iloc[0]):
            differing.append(field)
    return differing


def already_present(
    profile: Profile,
    payload: dict[str, Any],
    remote: dict[str, Any],
    *,
    ours: bool,
    origin: str | None = None,
) -> RowSettled:
    """The verdict on a create whose object is already on Director (raise it)."""
    differing = differing_fields(profile, payload, remote)
    if differing:
        return RowSettled(
            "ERROR",
            "already present on Director with different values: "
            + ", ".join(differing)
            + " (created by someone else; plan again to update it)",
        )
    if ours:
        return RowSettled("CREATED", "created (already present after an unanswered request)")
    suffix = f" (run {origin} sent it before it stopped)" if origin else ""
    return RowSettled("UNCHANGED", ALREADY_PRESENT + suffix)


def already_present_row(
    row: dict[str, Any],
    payload: dict[str, Any],
    remote: dict[str, Any],
    profile: Profile | None,
    *,
    ours: bool,
    origin: str | None = None,
) -> RowSettled:
    """:func:`already_present` for a row; UNCHANGED when the run has no profile for it."""
    if profile is None:
        return RowSettled("UNCHANGED", ALREADY_PRESENT)
    return already_present(profile, payload, remote, ours=ours, origin=origin)

"""Schedules: the service starts runs itself at cron times, with trigger ``scheduled``.

The config's ``schedules`` section lists them (:class:`~directorsync.config.ScheduleSettings`)::

    schedules:
      - {name: nightly-drift, cron: "0 2 * * *", tenants: all, kind: drift}
      - {name: core-apply, cron: "30 6 * * 1-5", tenants: [core], kind: apply,
         timezone: Europe/Copenhagen}

Cron expressions are read by croniter (five fields, in the schedule's time zone). At each due
time the :class:`Scheduler` calls its trigger once per tenant (``all``: every tenant of the
tenants file at that moment). A tenant whose run from the same schedule is still running when
the next time comes is skipped: the skip is recorded on that running run in the ledger as a
``sync.warning`` event (``data.skipped`` true, the schedule and the due time) and kept in the
scheduler's own list of firings. Times missed while the service was down or busy are not caught
up one by one: the next tick fires once and looks for the following time from then.

What each kind starts (:data:`KIND_RUNS`): ``plan`` a plan that writes nothing, ``apply`` an
apply, and ``drift`` — until the drift command exists — the same plan as ``plan`` (its rows
show what differs between the workbook and Director).

Time comes from a clock (``clock()`` → an aware datetime), so tests move it instead of waiting:
:meth:`Scheduler.tick` fires what is due at the clock's time; :meth:`Scheduler.start` runs
ticks on a thread that sleeps until the next due time (or :meth:`Scheduler.wake`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter

from directorsync.config import ScheduleSettings, Settings
from directorsync.errors import ConfigError, DirectorSyncError, LedgerError
from directorsync.ledger.database import Ledger, iso, utc_now
from directorsync.tenants import load_tenants
from directorsync.vocabulary import FINAL_STATES

LOG = logging.getLogger("directorsync.schedules")

#: ``trigger(tenant, kind, trigger, options, user) -> sync_id`` (the service's ``start_sync``
#: with its service bound)
Trigger = Callable[[str, str, str, dict[str, Any], str], str]
Clock = Callable[[], dt.datetime]
#: a schedule's kind → the run it starts: (the run's kind, its options)
KIND_RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "drift": ("plan", {"validate_only": True}),  # until the drift command exists
    "plan": ("plan", {"validate_only": True}),
    "apply": ("apply", {}),
}
#: the longest the scheduler's thread sleeps before it looks at the clock again (seconds)
MAX_WAIT = 60.0
#: firings kept in memory
KEEP = 500


@dataclass
class Firing:
    """One tenant's turn of a schedule at one due time.

    Attributes:
        schedule: the schedule's name.
        tenant: the tenant.
        due: when it was due (UTC ISO).
        kind: the run's kind (``plan``, ``apply``).
        sync_id: the run started (None: skipped or failed to start).
        skipped_for: the same schedule's run still running (so this one was skipped).
        error: why the run could not start (the trigger's message).
    """

    schedule: str
    tenant: str
    due: str
    kind: str
    sync_id: str | None = None
    skipped_for: str | None = None
    error: str | None = None

    @property
    def outcome(self) -> str:
        """``started``, ``skipped`` or ``failed``."""
        return "skipped" if self.skipped_for else "failed" if self.error else "started"

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape (its fields and ``outcome``)."""
        return {**asdict(self), "outcome": self.outcome}


def next_time(schedule: ScheduleSettings, after: dt.datetime) -> dt.datetime:
    """The schedule's first time strictly after ``after`` (UTC)."""
    local = after.astimezone(ZoneInfo(schedule.timezone))
    following = croniter(schedule.cron, local).get_next(dt.datetime)
    return following.astimezone(dt.UTC)


class Scheduler:
    """Fires the schedules' runs at their times (see the module docstring).

    Args:
        schedules: the schedules (``settings.schedules``).
        trigger: starts one run and returns its id (:data:`Trigger`).
        tenants: every tenant's name, or a callable giving them (read at each due time).
        ledger: where skips are recorded and where a run's state is read.
        clock: the time now (aware).
        is_running: whether a run is still running (default: its ledger state is not final).

    Raises:
        ConfigError: a schedule names a tenant that is not known.
    """

    def __init__(
        self,
        schedules: Sequence[ScheduleSettings],
        trigger: Trigger,
        *,
        tenants: Iterable[str] | Callable[[], Iterable[str]],
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        is_running: Callable[[str], bool] | None = None,
    ) -> None:
        self.schedules = {s.name: s for s in schedules}
        self.trigger = trigger
        self.tenants = tenants if callable(tenants) else _fixed(list(tenants))
        self.ledger = ledger
        self.clock = clock
        self.is_running = is_running or self._running_in_ledger
        self.firings: deque[Firing] = deque(maxlen=KEEP)
        self.lock = threading.Lock()
        self._last: dict[tuple[str, str], str] = {}  # (schedule, tenant) → its last run
        self._check_tenants()
        now = self.clock()
        self._next = {name: next_time(s, now) for name, s in self.schedules.items()}
        self._quit = threading.Event()
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, trigger: Trigger, *, ledger: Ledger | None = None, **kwargs: Any
    ) -> Scheduler:
        """The settings' schedules over the tenants of their tenants file.

        Raises:
            ConfigError: schedules but no tenants file, or an unknown tenant.
        """
        tenants_file = settings.inputs.tenants_file
        if settings.schedules and not tenants_file:
            raise ConfigError("schedules need a tenants file: set inputs.tenants_file")

        def names() -> list[str]:
            return sorted(load_tenants(tenants_file)) if tenants_file else []

        return cls(settings.schedules, trigger, tenants=names, ledger=ledger, **kwargs)

    # -- what is due ----------------------------------------------------------------------------

    def next_times(self) -> dict[str, dt.datetime]:
        """Each schedule's next due time (UTC)."""
        with self.lock:
            return dict(self._next)

    def next_due(self) -> dt.datetime | None:
        """The earliest next due time (None: no schedule)."""
        times = self.next_times()
        return min(times.values()) if times else None

    def tick(self) -> list[Firing]:
        """Fire every schedule due at the clock's time; returns what was done."""
        now = self.clock()
        done: list[Firing] = []
        with self.lock:
            due = [(n, at) for n, at in self._next.items() if at <= now]
            for name, _ in due:
                self._next[name] = next_time(self.schedules[name], now)
        for name, at in sorted(due, key=lambda pair: pair[1]):
            done.extend(self._fire(self.schedules[name], at))
        return done

    def _fire(self, schedule: ScheduleSettings, due: dt.datetime) -> list[Firing]:
        kind, options = KIND_RUNS[schedule.kind]
        names = self.tenants() if schedule.tenants == "all" else schedule.tenants
        fired = []
        for tenant in names:
            firing = Firing(schedule.name, tenant, iso(due), kind)
            previous = self._last.get((schedule.name, tenant))
            if previous is not None and self.is_running(previous):
                firing.skipped_for = previous
                self._record_skip(firing)
            else:
                try:
                    sync_id = self.trigger(
                        tenant, kind, "scheduled", dict(options), f"schedule:{schedule.name}"
                    )
                except Exception as exc:  # noqa: BLE001 - one tenant's refusal stops no other
                    firing.error = getattr(exc, "message", None) or str(exc) or repr(exc)
                    LOG.warning(
                        "schedule %s: %s for %s did not start: %s",
                        schedule.name,
                        kind,
                        tenant,
                        firing.error,
                    )
                else:
                    firing.sync_id = sync_id
                    self._last[(schedule.name, tenant)] = sync_id
            self.firings.append(firing)
            fired.append(firing)
        return fired

    def _record_skip(self, firing: Firing) -> None:
        message = (
            f"schedule {firing.schedule} came due at {firing.due} while this run was still "
            f"running: its {firing.kind} for {firing.tenant} was skipped"
        )
        LOG.warning("%s (run %s)", message, firing.skipped_for)
        if self.ledger is None or firing.skipped_for is None:
            return
        data = {"message": message, "schedule": firing.schedule, "due": firing.due}
        try:
            self.ledger.add_event(firing.skipped_for, "sync.warning", {**data, "skipped": True})
        except LedgerError as exc:
            LOG.warning("the skip could not be recorded in the ledger: %s", exc.message)

    def _running_in_ledger(self, sync_id: str) -> bool:
        if self.ledger is None:
            return False
        try:
            return self.ledger.get_run(sync_id)["state"] not in FINAL_STATES
        except LedgerError:  # not recorded (it never started): nothing runs
            return False

    def _check_tenants(self) -> None:
        named = {t for s in self.schedules.values() if s.tenants != "all" for t in s.tenants}
        if not named:
            return
        try:
            known = set(self.tenants())
        except DirectorSyncError as exc:
            raise ConfigError(f"schedules: the tenants cannot be read: {exc}") from exc
        for schedule in self.schedules.values():
            if schedule.tenants == "all":
                continue
            unknown = [t for t in schedule.tenants if t not in known]
            if unknown:
                raise ConfigError(
                    f"schedule {schedule.name}: unknown tenant(s) {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(known)) or 'none'})",
                    key=f"schedules.{schedule.name}.tenants",
                )

    # -- the thread -----------------------------------------------------------------------------

    def start(self) -> None:
        """Run ticks on a thread until :meth:`stop` (nothing happens without schedules)."""
        if self._thread is not None or not self.schedules:
            return
        self._quit.clear()
        self._thread = threading.Thread(target=self._loop, name="schedules", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the clock now (after a test moved it, or the schedules changed)."""
        self._wakeup.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (a trigger in progress finishes first)."""
        self._quit.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._quit.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the thread must outlive one bad tick
                LOG.exception("schedules: a tick failed")
            due = self.next_due()
            wait = MAX_WAIT if due is None else (due - self.clock()).total_seconds()
            self._wakeup.wait(min(max(wait, 0.01), MAX_WAIT))
            self._wakeup.clear()

    def status(self) -> list[dict[str, Any]]:
        """Each schedule with its next time and its latest firings (for an API or a page)."""
        times = self.next_times()
        out = []
        for name, schedule in self.schedules.items():
            recent = [f.as_dict() for f in self.firings if f.schedule == name][-10:]
            out.append(
                {
                    **schedule.model_dump(),
                    "next_at": iso(times[name]),
                    "runs": KIND_RUNS[schedule.kind][0],
                    "recent": recent,
                }
            )
        return out


def _fixed(names: list[str]) -> Callable[[], list[str]]:
    return lambda: list(names)

"""One execution's life in the ledger: state, stages, progress, events, heartbeat and cancel.

A :class:`RunTracker` records the run (``pending`` → ``running`` → a final state), emits the
reference interface's events (``sync.started``, ``sync.progress``, ``sync.stage_completed``,
``sync.warning``, ``sync.error``, ``sync.completed``, ``sync.failed``, ``sync.cancelled``) to the
ledger and to an optional JSON-lines stream (``--events``), and runs a heartbeat thread that:

- beats every ``heartbeat_sec`` (a run whose beats stop is seen as interrupted) and extends the
  tenant's lease;
- sees a cancel asked from another shell or machine (``directorsync cancel``) and stops the run;
- writes the journal's outcomes and the progress (at most a few ledger writes per second);
- prints a progress line every ``line_every`` seconds when nobody watches a progress bar.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from directorsync.errors import LedgerError
from directorsync.ledger.database import Ledger, ledger_url, open_configured
from directorsync.ledger.journal import record_outcome
from directorsync.writeguard import StopSignal

LOG = logging.getLogger("directorsync.runtracker")


class RunTracker:
    """The ledger record and the events of one run (see the module docstring).

    Args:
        ledger: the ledger.
        run_id: the run's id.
        tenant, kind, trigger: what the run is.
        stop: the run's stop signal (a cancel from the ledger sets it).
        events: a text stream for JSON-lines events (``--events``), or None.
        line: where periodic progress lines go (None: no lines, a bar shows progress).
        heartbeat_sec: seconds between heartbeats.
        line_every: seconds between progress lines.
    """

    def __init__(
        self,
        ledger: Ledger,
        run_id: str,
        *,
        tenant: str,
        kind: str = "apply",
        trigger: str = "cli",
        stop: StopSignal | None = None,
        events: IO[str] | None = None,
        line: Callable[[str], None] | None = None,
        heartbeat_sec: float = 0.5,
        line_every: float = 5.0,
    ) -> None:
        self.ledger, self.run_id = ledger, run_id
        self.tenant, self.kind, self.trigger = tenant, kind, trigger
        self.stop = stop or StopSignal()
        self.events_out = events
        self.line, self.heartbeat_sec, self.line_every = line, heartbeat_sec, line_every
        self.lock = threading.Lock()
        self.stage_name: str | None = None
        self.completed: list[str] = []
        self.pending: list[str] = []
        self.done = self.total = 0
        self.counts: dict[str, int] = {}
        self.outcomes: list[tuple[dict[str, Any], str, str | None, str | None]] = []
        self.warnings: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self._reported: tuple[int, int, str | None] = (-1, -1, None)
        self._started = time.monotonic()
        self._last_line = self._started
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None
        self.on_cancel: Callable[[str], None] | None = None
        self._stop_noted = False

    # -- life ---------------------------------------------------------------------------------

    def begin(self, stages: list[str], **record: Any) -> None:
        """Record the run as running and start the heartbeat."""
        self.pending = list(stages)
        now = self.ledger.now()
        self.ledger.create_run(
            self.run_id,
            tenant=self.tenant,
            kind=self.kind,
            trigger=self.trigger,
            state="running",
            started_at=now,
            stages_pending=self.pending,
            **record,
        )
        self.emit(
            "sync.started", {"tenant": self.tenant, "kind": self.kind, "trigger": self.trigger}
        )
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)
        self._thread.start()

    def stage(self, name: str) -> None:
        """The run enters stage ``name`` (the current one is completed)."""
        self._flush()
        with self.lock:
            previous = self.stage_name
            if previous:
                self.completed.append(previous)
            if name in self.pending:
                self.pending.remove(name)
            self.stage_name = name
            state = dict(
                stage=name, stages_completed=list(self.completed), stages_pending=list(self.pending)
            )
        if previous:
            self.emit("sync.stage_completed", {"stage": previous}, **state)
        else:
            self.ledger.update_run(self.run_id, **state)

    def set_pending(self, stages: list[str]) -> None:
        """The stages still to come (known once the plan is made)."""
        with self.lock:
            self.pending = [s for s in stages if s not in self.completed and s != self.stage_name]
            pending = list(self.pending)
        self.ledger.update_run(self.run_id, stages_pending=pending)

    def set_total(self, total: int) -> None:
        """Start counting a stage's rows: ``total`` to do, none done."""
        with self.lock:
            self.total, self.done = total, 0

    def on_row(self, done: int, total: int, result: dict[str, Any]) -> None:
        """A row finished (the apply's progress callback)."""
        status = result.get("status") or ""
        with self.lock:
            self.done, self.total = done, total
            self.counts[status] = self.counts.get(status, 0) + 1
            self.outcomes.append((result, status, result.get("reason"), None))
            if status in ("ERROR", "EXCEPTION"):
                self.errors.append(_row_note(result))

    def warning(self, message: str, **data: Any) -> None:
        """Record a warning on the run and emit ``sync.warning``."""
        with self.lock:
            self.warnings.append({"message": message, **data})
            warnings = list(self.warnings)
        self.emit("sync.warning", {"message": message, **data}, warnings=warnings)

    def error(self, message: str, **data: Any) -> None:
        """Record an error on the run and emit ``sync.error``."""
        with self.lock:
            self.errors.append({"message": message, **data})
            errors = list(self.errors)
        self.emit("sync.error", {"message": message, **data}, errors=errors)

    def finish(self, state: str, *, exit_code: int, message: str = "", **record: Any) -> None:
        """Stop the heartbeat, write what is left, and record the final state."""
        self._quit.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._flush()
        with self.lock:
            if self.stage_name and state == "completed":
                self.completed.append(self.stage_name)
                self.stage_name = None
            values = dict(
                state=state,
                exit_code=exit_code,
                message=message or None,
                completed_at=self.ledger.now(),
                stage=self.stage_name,
                stages_completed=list(self.completed),
                stages_pending=list(self.pending),
                done=self.done,
                total=self.total,
                percent=_percent(self.done, self.total),
                errors=self.errors[:200],
                warnings=self.warnings[:200],
            )
        values.update(record)
        name = {"completed": "sync.completed", "cancelled": "sync.cancelled"}.get(
            state, "sync.failed"
        )
        data = {"state": state, "counts": values.get("counts"), "exit_code": exit_code}
        if message:
            data["message"] = message
        self.emit(name, data, **values)

    # -- events -------------------------------------------------------------------------------

    def emit(self, name: str, data: dict[str, Any], **run_values: Any) -> None:
        """Record an event in the ledger (with run fields) and write it to the event stream."""
        try:
            self.ledger.add_event(self.run_id, name, data, **run_values)
        except LedgerError as exc:
            LOG.warning("ledger: event %s not recorded: %s", name, exc)
        if self.events_out is not None:
            line = {
                "event": name,
                "run_id": self.run_id,
                "tenant": self.tenant,
                "ts": self.ledger.now(),
                "data": data,
            }
            with self.lock:
                self.events_out.write(json.dumps(line, default=str) + "\n")
                self.events_out.flush()

    def _beat(self) -> None:
        while not self._quit.wait(self.heartbeat_sec):
            try:
                asked = self.ledger.heartbeat(self.run_id)
                if asked and self.stop.request(f"cancelled by {asked}", 130) and self.on_cancel:
                    self.on_cancel(asked)
                if self.stop.stopping and not self._stop_noted:
                    self._stop_noted = True
                    if not asked:  # Ctrl-C, SIGTERM: other shells see it too
                        self.ledger.update_run(
                            self.run_id,
                            cancel_requested_at=self.ledger.now(),
                            cancel_requested_by=self.stop.why,
                        )
                    self.warning(f"{self.stop.why}: no new writes; following accepted orders")
                self._flush()
            except LedgerError as exc:
                LOG.warning("ledger: heartbeat failed: %s", exc)
            self._progress_line()

    def _flush(self) -> None:
        """Outcomes to the journal; a progress event when something moved."""
        with self.lock:
            outcomes, self.outcomes = self.outcomes, []
            now = (self.done, self.total, self.stage_name)
            moved = now != self._reported
            self._reported = now
            counts = dict(self.counts)
            errors = list(self.errors[:200])
        if outcomes:
            record_outcome(self.ledger, self.run_id, [(r, s, why, c) for r, s, why, c in outcomes])
        if moved and self.total:
            done, total, stage = now
            data = {"stage": stage, "done": done, "total": total, "percent": _percent(done, total)}
            self.emit(
                "sync.progress",
                data,
                done=done,
                total=total,
                percent=data["percent"],
                counts=counts,
                errors=errors,
            )

    def _progress_line(self) -> None:
        if self.line is None:
            return
        now = time.monotonic()
        if now - self._last_line < self.line_every:
            return
        self._last_line = now
        with self.lock:
            done, total, stage = self.done, self.total, self.stage_name
        where = f"{done}/{total} rows ({_percent(done, total):.0f} %)" if total else "working"
        self.line(f"… {stage or 'starting'}: {where}, {now - self._started:.0f} s")


def _percent(done: int, total: int) -> float:
    return round(100.0 * done / total, 1) if total else 0.0


def _row_note(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "message": result.get("error") or result.get("reason") or result.get("status"),
        "resource": result.get("resource"),
        "node": result.get("node_name"),
        "key": result.get("key"),
    }


@contextmanager
def recorded_run(
    settings: Any, tenant: str, kind: str, *, trigger: str = "cli", **record: Any
) -> Iterator[RunTracker | None]:
    """Record a short run that writes nothing (a plan) once a ledger exists or is configured.

    Yields the tracker (the caller calls :meth:`RunTracker.finish`), or None without a ledger:
    a plan never creates the ledger file by itself.
    """
    url = ledger_url(settings.ledger.url, settings.app.reports_dir)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///") :]).is_file():
        yield None
        return
    tracker = RunTracker(
        open_configured(settings),
        settings.run_id,
        tenant=tenant,
        kind=kind,
        trigger=trigger,
        heartbeat_sec=settings.ledger.heartbeat_sec,
    )
    tracker.begin([kind], **record)
    tracker.stage(kind)
    try:
        yield tracker
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt)
        tracker.finish(
            "cancelled" if stopped else "failed",
            exit_code=130 if stopped else getattr(exc, "exit_code", 1),
            message=getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}",
        )
        raise

"""An apply as a run of the ledger: its lease, its signals, its stop, its resume.

:class:`ApplyLifecycle` wraps the work of ``directorsync apply``:

- the run is recorded (``running``, stages ``plan``, one per resource, ``report``) and holds its
  tenant's lease (refused — exit 5 — or ``--wait``);
- the work runs in a thread so that the main thread keeps answering signals: the first Ctrl-C
  (or SIGTERM, or ``directorsync cancel``) stops new writes at once while accepted orders are
  followed; a second Ctrl-C stops at once, with the result of what is known;
- the final state, counts and artifacts go to the ledger; exit codes: 130 cancelled (Ctrl-C or
  ``cancel``), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from directorsync.errors import LedgerError
from directorsync.ledger.database import Ledger
from directorsync.ledger.journal import entries, row_key
from directorsync.ledger.leases import acquire, acquire_waiting, release
from directorsync.runresult import empty_result, partial_result
from directorsync.runtracker import RunTracker
from directorsync.writeguard import StopSignal, WriteGuard

EXIT_CANCELLED, EXIT_TERMINATED = 130, 143


def resumable(ledger: Ledger, run_id: str) -> dict[str, Any]:
    """The run ``--resume`` continues (interrupted, cancelled or failed, with its plan saved).

    Raises:
        LedgerError: unknown run, a run still running or completed, or its plan is gone.
    """
    run = ledger.get_run(run_id)
    if run["state"] in ("pending", "running"):
        raise LedgerError(
            f"run {run_id} is still running (pid {run['pid']} on {run['host']}): stop it with "
            f"`directorsync cancel {run_id}` first"
        )
    if run["state"] == "completed":
        raise LedgerError(f"run {run_id} completed: nothing to resume")
    plan = (run.get("artifacts") or {}).get("plan")
    if not plan or not Path(plan).is_file():
        raise LedgerError(f"run {run_id} has no saved plan to resume from (looked for {plan})")
    return run


class ApplyLifecycle:
    """One ``apply`` execution in the ledger (see the module docstring)."""

    def __init__(
        self,
        ledger: Ledger,
        run_id: str,
        tenant: str,
        *,
        trigger: str = "cli",
        events: IO[str] | None = None,
        say: Callable[[str], None] = print,
        lines: bool = False,
        heartbeat_sec: float = 0.5,
    ) -> None:
        self.ledger, self.run_id, self.tenant = ledger, run_id, tenant
        self.stop = StopSignal()
        self.say = say
        self.tracker = RunTracker(
            ledger,
            run_id,
            tenant=tenant,
            trigger=trigger,
            stop=self.stop,
            events=events,
            line=say if lines else None,
            heartbeat_sec=heartbeat_sec,
        )
        self.tracker.on_cancel = lambda by: say(
            f"cancel asked by {by}: no new writes; following the orders already accepted"
        )
        self.known: dict[str, dict[str, Any]] = {}
        self.guard: WriteGuard | None = None
        self.started = dt.datetime.now(dt.UTC)
        self.leased = False
        self.plan: Any = None
        self.selection: list[int] | None = None

    # -- start --------------------------------------------------------------------------------

    def begin(self, *, wait: bool, stages: list[str], dry_run: bool, **record: Any) -> None:
        """Record the run, then take the tenant's lease (unless a dry run)."""
        self.tracker.begin(stages, dry_run=dry_run, **record)
        if dry_run:
            return
        try:
            if wait:
                acquire_waiting(
                    self.ledger,
                    self.tenant,
                    self.run_id,
                    wait=lambda s: not self.stop.soft.wait(s),
                    notify=self.say,
                )
            else:
                acquire(self.ledger, self.tenant, self.run_id)
        except LedgerError as exc:
            self.tracker.finish("failed", exit_code=exc.exit_code, message=exc.message)
            raise
        self.leased = True

    def make_guard(self, client: Any, pool: str, profiles: dict, resume: dict | None) -> WriteGuard:
        """The write guard of this run (journal in the ledger; a resumed run's journal)."""
        previous = entries(self.ledger, resume["id"]) if resume else None
        self.guard = WriteGuard(
            client,
            pool,
            ledger=self.ledger,
            run_id=self.run_id,
            stop=self.stop,
            previous=previous,
            previous_run=resume["id"] if resume else None,
            profiles=profiles,
        )
        return self.guard

    def on_row(self, done: int, total: int, result: dict[str, Any]) -> None:
        """Keep a finished row's result (for a partial result) and pass it to the tracker."""
        self.known[row_key(result["resource"], result["node_id"], result["key"])] = result
        self.tracker.on_row(done, total, result)

    # -- run ----------------------------------------------------------------------------------

    def execute(self, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work`` in a thread while the main thread answers signals.

        Returns its result, or what is known when stopped at once.
        """
        box: dict[str, Any] = {}
        done = threading.Event()

        def target() -> None:
            try:
                box["result"] = work()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                box["error"] = exc
            finally:
                done.set()

        worker = threading.Thread(target=target, name="apply-run", daemon=True)
        with self._signals():
            worker.start()
            while not done.wait(0.1):
                if self.stop.hard.is_set():
                    break
        if "error" in box:
            raise box["error"]
        if "result" in box:
            return box["result"]
        self.say("stopped at once: writing what is known")
        if self.plan is None:
            return empty_result(self.tenant, self.run_id, self.started, self.stop.why)
        sent = set(self.guard.sent) if self.guard else set()
        sent -= set(self.known)
        return partial_result(
            self.plan,
            dict(self.known),
            sent,
            run_id=self.run_id,
            started=self.started,
            selection=self.selection,
        )

    def _signals(self) -> Any:
        lifecycle = self

        class Handlers:
            def __enter__(self) -> None:
                self.saved = {}
                if threading.current_thread() is not threading.main_thread():
                    return
                for sig in (signal.SIGINT, signal.SIGTERM):
                    self.saved[sig] = signal.signal(sig, lifecycle._on_signal)

            def __exit__(self, *exc: object) -> None:
                for sig, handler in self.saved.items():
                    signal.signal(sig, handler)

        return Handlers()

    def _on_signal(self, signum: int, frame: Any) -> None:
        name = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        code = EXIT_CANCELLED if signum == signal.SIGINT else EXIT_TERMINATED
        if self.stop.request(f"stopped by {name}", code):
            self.say(
                f"{name}: no new writes; following the orders already accepted "
                f"({name} again stops at once)"
            )
        else:
            self.stop.hard.set()

    # -- end ----------------------------------------------------------------------------------

    def finish(self, result: dict[str, Any] | None, exit_code: int, artifacts: dict) -> int:
        """Record the final state; release the lease; the exit code."""
        if self.stop.stopping:
            state, exit_code = "cancelled", self.stop.exit_code
            message = self.stop.why
        else:
            state = "failed" if exit_code else "completed"
            message = ""
        counts = (result or {}).get("summary", {}).get("by_status", {})
        try:
            self.tracker.finish(
                state, exit_code=exit_code, message=message, counts=counts, artifacts=artifacts
            )
        finally:
            if self.leased:
                release(self.ledger, self.tenant, self.run_id)
        if self.stop.at is not None and self.guard and self.guard.last_send is not None:
            late = self.guard.last_send - self.stop.at
            if late > 0:
                self.say(f"warning: a write left {late:.2f} s after the stop was asked")
        return exit_code

    def fail(self, exc: BaseException) -> None:
        """The run ended with an error before its result (recorded as failed)."""
        code = getattr(exc, "exit_code", 1)
        message = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
        state = "cancelled" if self.stop.stopping else "failed"
        try:
            self.tracker.finish(state, exit_code=code, message=message)
        finally:
            if self.leased:
                release(self.ledger, self.tenant, self.run_id)

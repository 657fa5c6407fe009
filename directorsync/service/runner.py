"""The service's syncs: a queue, at most ``workers`` running at once, each in its own process.

A sync is queued with a run id the caller gets at once (``202``). When a slot frees, the sync
runs in a process forked from a warm forkserver (see :mod:`directorsync.service.worker`): a
ledger run like any CLI apply, so that ``directorsync history``, ``status`` and ``cancel`` see
it, its lease keeps one writer per tenant, and it stops the way an apply stops. Each line the
process writes (its events) wakes the service's WebSocket clients (``notify``).

A sync that never reached the ledger (cancelled while queued, refused before it started, or
the service stopping) is recorded by the runner, so that every sync ends in the history.

Stopping the service: queued syncs are recorded cancelled; running ones are asked to cancel
through the ledger (no new write; accepted orders followed; reports written); after
``grace`` seconds a SIGTERM stops them at once (reports of what is known), then a kill.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from directorsync.config import Settings, new_run_id
from directorsync.errors import LedgerError
from directorsync.ledger.database import Ledger
from directorsync.ledger.leases import holder
from directorsync.service.dask_syncs import DaskSync, LedgerEvents, dask_client
from directorsync.service.worker import PRELOAD, child_main
from directorsync.session import result_dir
from directorsync.vocabulary import FINAL_STATES

STOPPING = "the service stopping"


_CONTEXT: Any = None


def worker_context() -> Any:
    """The multiprocessing context of sync processes: a forkserver with the modules loaded."""
    global _CONTEXT
    if _CONTEXT is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _CONTEXT = context
    return _CONTEXT


def warm_up() -> None:
    """Start the forkserver (and its imports) now rather than at the first sync."""
    worker_context().Process(target=os.getpid, daemon=True).start()


class TenantBusy(Exception):
    """An apply of the tenant is queued or running (``sync_id`` names it)."""

    def __init__(self, message: str, sync_id: str) -> None:
        super().__init__(message)
        self.message, self.sync_id = message, sync_id


class ServiceClosing(Exception):
    """The service is stopping: no new sync."""


@dataclass
class SyncJob:
    """One sync of the service, from its request to its end."""

    sync_id: str
    tenant: str
    kind: str
    trigger: str
    user: str
    workbook: str
    options: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    phase: str = "queued"  # queued → running → done
    proc: Any = None  # a multiprocessing Process
    events: Any = None  # the reading end of its events pipe
    cancel_by: str | None = None
    exit_code: int | None = None
    thread: threading.Thread | None = None

    @property
    def writes(self) -> bool:
        """An apply that may write (not a dry run, not a plan)."""
        return self.kind == "apply" and not self.options.get("dry_run")


class SyncRunner:
    """Queues and runs the service's syncs (see the module docstring).

    Args:
        settings: the service's settings (handed to each sync's process).
        ledger: the ledger (the same as the CLI's).
        workers: syncs running at once.
        notify: called with a sync id whenever its process says something (from a thread).
    """

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        *,
        workers: int = 2,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.settings, self.ledger, self.workers = settings, ledger, workers
        self.notify = notify or (lambda sync_id: None)
        self.slots = threading.Semaphore(workers)
        self.jobs: dict[str, SyncJob] = {}
        self.lock = threading.Lock()
        self.closing = False
        self._dask: Any = None  # a Dask client, with service.dask_scheduler

    # -- start ----------------------------------------------------------------------------------

    def start(
        self,
        tenant: str,
        kind: str,
        trigger: str,
        options: dict[str, Any],
        user: str,
        workbook: str,
    ) -> SyncJob:
        """Queue a sync; it starts as soon as a worker is free.

        Raises:
            TenantBusy: an apply that writes, while another apply of the tenant is queued or
                running (here, or anywhere that shares the ledger).
            ServiceClosing: the service is stopping.
        """
        job = SyncJob(new_run_id(), tenant, kind, trigger, user, workbook, dict(options))
        with self.lock:
            if self.closing:
                raise ServiceClosing("the service is stopping: no new sync")
            if job.writes:
                self._check_free(tenant)
            self.jobs[job.sync_id] = job
        result_dir(self.settings, tenant, job.sync_id)  # checked path, created before the run
        job.thread = threading.Thread(target=self._run, args=(job,), name=f"sync-{job.sync_id}")
        job.thread.daemon = True
        job.thread.start()
        return job

    def _check_free(self, tenant: str) -> None:
        for other in self.jobs.values():
            if other.tenant == tenant and other.writes and other.phase != "done":
                raise TenantBusy(
                    f"tenant {tenant} is busy: sync {other.sync_id} (an apply by {other.user}) "
                    f"is {'queued' if other.phase == 'queued' else 'running'}",
                    other.sync_id,
                )
        lease = holder(self.ledger, tenant)
        if lease is not None:
            raise TenantBusy(
                f"tenant {tenant} is busy: sync {lease['run_id']} by {lease.get('user')} on "
                f"{lease.get('host')} holds it since {lease['acquired_at']}",
                lease["run_id"],
            )

    def job(self, sync_id: str) -> SyncJob | None:
        """The sync if it is queued or running here (else None: see the ledger)."""
        with self.lock:
            return self.jobs.get(sync_id)

    def active(self) -> list[SyncJob]:
        """The syncs queued or running here."""
        with self.lock:
            return [j for j in self.jobs.values() if j.phase != "done"]

    # -- run ------------------------------------------------------------------------------------

    def _run(self, job: SyncJob) -> None:
        try:
            with self.slots:
                with self.lock:
                    if job.cancel_by is not None:  # cancelled while queued: already recorded
                        return
                    job.phase = "running"
                try:
                    job.proc = self._spawn(job)  # (the lock is free: a first fork takes a while)
                    self.notify(job.sync_id)
                    self._follow(job, job.proc)
                except Exception as exc:  # noqa: BLE001 - recorded as the sync's failure
                    job.exit_code = 1
                    self._write_console(job, f"error: the sync could not run: {exc}")
                self._record_if_missing(job)
        finally:
            with self.lock:
                job.phase = "done"
                self.jobs.pop(job.sync_id, None)
            self.notify(job.sync_id)

    def _spawn(self, job: SyncJob) -> Any:
        address = self.settings.service.dask_scheduler
        if address:  # the sync runs on the cluster; its events come back through the ledger
            with self.lock:
                if self._dask is None:
                    self._dask = dask_client(address)
            sync = DaskSync(self._dask, self._job_data(job))
            job.events = LedgerEvents(self.ledger, job.sync_id, sync)
            return sync
        folder = result_dir(self.settings, job.tenant, job.sync_id)
        context = worker_context()
        reader, writer = context.Pipe(duplex=False)
        proc = context.Process(
            target=child_main,
            args=(self._job_data(job), writer, str(folder / "console.log")),
            name=f"sync-{job.sync_id}",
            daemon=False,
        )
        proc.start()
        writer.close()  # the child holds the only writer: the reader ends when it exits
        job.events = reader
        return proc

    def _job_data(self, job: SyncJob) -> dict[str, Any]:
        settings = self.settings.model_dump(mode="json")
        settings["director"]["token"] = self.settings.token  # never on a command line
        settings["service"]["tokens"] = {}
        return {
            "sync_id": job.sync_id,
            "tenant": job.tenant,
            "kind": job.kind,
            "trigger": job.trigger,
            "user": job.user,
            "workbook": job.workbook,
            "options": job.options,
            "settings": settings,
        }

    def _follow(self, job: SyncJob, proc: Any) -> None:
        reader = job.events
        try:
            while True:
                reader.recv_bytes()  # one event, already in the ledger
                self.notify(job.sync_id)
        except (EOFError, OSError):
            pass
        finally:
            reader.close()
        proc.join()
        job.exit_code = proc.exitcode if proc.exitcode >= 0 else 128 - proc.exitcode

    def _record_if_missing(self, job: SyncJob) -> None:
        """A sync whose process ended before it recorded its run: record it failed."""
        try:
            self.ledger.get_run(job.sync_id)
            return
        except LedgerError:
            pass
        message = self._last_error(job) or f"the sync's process ended with {job.exit_code}"
        state = "cancelled" if job.cancel_by else "failed"
        self._record(job, state, message, job.exit_code or 1)

    def _write_console(self, job: SyncJob, line: str) -> None:
        folder = result_dir(self.settings, job.tenant, job.sync_id)
        with open(folder / "console.log", "a", encoding="utf-8") as log:
            log.write(line + "\n")

    def _last_error(self, job: SyncJob) -> str:
        folder = result_dir(self.settings, job.tenant, job.sync_id)
        try:
            lines = (
                (folder / "console.log").read_text(encoding="utf-8", errors="replace").splitlines()
            )
        except OSError:
            return ""
        errors = [line for line in lines if line.startswith("error: ")]
        return errors[-1][len("error: ") :] if errors else ""

    def _record(self, job: SyncJob, state: str, message: str, exit_code: int) -> None:
        now = self.ledger.now()
        self.ledger.create_run(
            job.sync_id,
            tenant=job.tenant,
            kind=job.kind,
            trigger=job.trigger,
            state=state,
            dry_run=job.kind != "apply" or bool(job.options.get("dry_run")),
            user=job.user,
            workbook=job.workbook,
            completed_at=now,
            exit_code=exit_code,
            message=message,
            cancel_requested_by=job.cancel_by,
            cancel_requested_at=now if job.cancel_by else None,
        )
        name = "sync.cancelled" if state == "cancelled" else "sync.failed"
        self.ledger.add_event(
            job.sync_id, name, {"state": state, "exit_code": exit_code, "message": message}
        )

    # -- cancel ---------------------------------------------------------------------------------

    def cancel(self, sync_id: str, by: str) -> dict[str, Any]:
        """Ask a sync to stop; ``{"state", "final_state", "message"}``.

        A queued sync is cancelled at once; a running one stops as a cancelled apply does (no
        new write once its heartbeat sees the request, accepted orders followed, reports).

        Raises:
            LedgerError: no sync has this id.
        """
        with self.lock:
            job = self.jobs.get(sync_id)
            queued = job is not None and job.phase == "queued"
            if job is not None and job.cancel_by is None:
                job.cancel_by = by
        if job is not None and queued:
            message = f"cancelled by {by} before it started"
            self._record(job, "cancelled", message, 130)
            self.notify(sync_id)
            return {"state": "cancelled", "final_state": "cancelled", "message": message}
        try:
            run = self.ledger.request_cancel(sync_id, by=by)
        except LedgerError:
            if job is None:
                raise
            threading.Thread(target=self._cancel_when_recorded, args=(job, by), daemon=True).start()
            return {"state": "running", "final_state": "cancelled", "message": "cancel asked"}
        if run["state"] in FINAL_STATES:
            return {
                "state": run["state"],
                "final_state": run["state"],
                "message": f"the sync had already ended ({run['state']})",
            }
        return {
            "state": run["state"],
            "final_state": "cancelled",
            "message": f"cancel asked by {by}: no new write; accepted orders are followed",
        }

    def _cancel_when_recorded(self, job: SyncJob, by: str) -> None:
        """The process has not recorded its run yet: ask as soon as it has."""
        while job.phase != "done" and (job.proc is None or job.proc.is_alive()):
            try:
                self.ledger.request_cancel(job.sync_id, by=by)
                return
            except LedgerError:
                time.sleep(0.05)

    # -- stop -----------------------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        """No new sync; queued syncs cancelled; running ones asked to cancel (returns at once)."""
        with self.lock:
            self.closing = True
            jobs = [j for j in self.jobs.values() if j.phase != "done"]
        for job in jobs:
            if job.cancel_by is None:
                try:
                    self.cancel(job.sync_id, STOPPING)
                except LedgerError:
                    pass

    def shutdown(self, grace: float) -> None:
        """Stop every sync cleanly (see the module docstring); returns when all have ended."""
        self.begin_shutdown()
        deadline = time.monotonic() + grace
        steps: list[signal.Signals | None] = [None, signal.SIGTERM, None, signal.SIGKILL]
        for step in steps:
            running = [j for j in self.active() if j.proc is not None and j.proc.is_alive()]
            if not running:
                break
            for job in running:
                if step is None:  # wait
                    job.proc.join(max(0.0, deadline - time.monotonic()))
                elif job.proc.pid:
                    os.kill(job.proc.pid, step)
            deadline = time.monotonic() + max(5.0, grace / 4)
        for job in list(self.jobs.values()):
            if job.thread is not None:
                job.thread.join(timeout=10)
        if self._dask is not None:
            self._dask.close()


def start_sync(
    target: Any, tenant: str, kind: str, trigger: str, options: dict[str, Any], user: str
) -> str:
    """Start a sync from inside the service (the scheduler calls this); its sync id.

    Args:
        target: the app's ``app.state`` (or the app itself), or a :class:`SyncRunner`'s owner
            — anything with a ``syncs`` attribute (:class:`~directorsync.service.syncs.Syncs`).
        tenant: a tenant of the tenants file.
        kind: ``apply``, ``plan`` or ``drift`` (``plan``/``drift`` never write).
        trigger: ``manual``, ``webhook`` or ``scheduled``.
        options: ``dry_run``, ``resources``, ``force_refresh``.
        user: recorded as the run's user.

    Raises:
        TenantBusy, ServiceClosing, or a DirectorSyncError for an unknown tenant or workbook.
    """
    state = getattr(target, "state", target)
    syncs = getattr(state, "syncs", None)
    if syncs is None:
        raise TypeError(f"{target!r} is not the service's app or app.state")
    job: SyncJob = syncs.start(tenant, kind, trigger, options, user)
    return job.sync_id

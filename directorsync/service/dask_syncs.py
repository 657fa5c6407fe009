"""Syncs on a Dask cluster (``service.dask_scheduler``): the runner's process, as a Dask task.

With a scheduler address configured, :class:`~directorsync.service.runner.SyncRunner` submits
each sync to the cluster instead of forking a local process. :class:`DaskSync` gives the
runner what it uses of a process (``is_alive``, ``join``, ``exitcode``; no ``pid``: a remote
task is stopped through the ledger's cancel request, which every sync honours), and
:class:`LedgerEvents` what it uses of the events pipe: the sync's events are read back from the
ledger (the worker records them there as any run does), so the ledger must be one the workers
reach — PostgreSQL for a cluster of several machines, or a SQLite file on a shared disk.

The job (settings with Director's token) travels to the worker inside the task: on a network,
secure the scheduler's connections (Dask's TLS security settings).
"""

from __future__ import annotations

import sys
from typing import Any

from directorsync.errors import DirectorSyncError, LedgerError
from directorsync.ledger.database import Ledger
from directorsync.redact import redact_text

#: seconds between looks at the ledger for a remote sync's new events
POLL = 0.05


def run_on_worker(job: dict[str, Any]) -> int:
    """The task a Dask worker runs: the sync, events in the ledger only; its exit code."""
    from directorsync.service.worker import run_job

    try:
        return run_job({**job, "events": None})
    except DirectorSyncError as exc:
        print(f"error: {redact_text(exc.message)}", file=sys.stderr, flush=True)
        return exc.exit_code


class DaskSync:
    """A sync submitted to a Dask cluster, looked at as the runner looks at a process."""

    pid = None  # nothing to signal: a remote sync is stopped through the ledger

    def __init__(self, client: Any, job: dict[str, Any]) -> None:
        self.future = client.submit(run_on_worker, job, key=f"sync-{job['sync_id']}", pure=False)

    def is_alive(self) -> bool:
        """True while the task runs (or waits for a worker)."""
        return not self.future.done()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the task to end, at most ``timeout`` seconds."""
        try:
            self.future.result(timeout=timeout)
        except TimeoutError:
            pass
        except Exception:  # noqa: BLE001 - the task failed: it has ended (see exitcode)
            pass

    @property
    def exitcode(self) -> int:
        """The sync's exit code (1 if the task itself failed)."""
        if self.future.status == "finished":
            return int(self.future.result())
        return 1


class LedgerEvents:
    """The events of a remote sync, read back from the ledger as they are recorded."""

    def __init__(self, ledger: Ledger, sync_id: str, sync: DaskSync) -> None:
        self.ledger, self.sync_id, self.sync = ledger, sync_id, sync
        self.last = 0

    def recv_bytes(self) -> bytes:
        """The next event's name; raises EOFError once the sync has ended and all are read."""
        while True:
            ended = not self.sync.is_alive()
            try:
                new = self.ledger.events(self.sync_id, after=self.last)
            except LedgerError:
                new = []
            if new:
                self.last = new[0]["id"]
                return str(new[0]["name"]).encode("utf-8")
            if ended:
                raise EOFError(self.sync_id)
            self.sync.join(POLL)

    def close(self) -> None:
        """Nothing to close."""
        return None


def dask_client(address: str) -> Any:
    """A client of the Dask scheduler at ``address``."""
    from dask.distributed import Client

    return Client(address, set_as_default=False)

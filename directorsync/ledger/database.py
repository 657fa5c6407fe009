"""The ledger: open (create or migrate) the database, and read and write run records.

SQLite is the default (one file per reports folder, WAL mode so that a running apply, a
``status --watch`` and a ``cancel`` from other shells share it); a PostgreSQL URL serves teams
and fleets whose runs start on several machines. Every transaction is short.

A run whose process died keeps the state it had; whoever reads it next (``status``,
``history``, a lease request, ``--resume``) sees a heartbeat older than ``stale_after`` seconds,
or a dead process on this host, and records it as ``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from directorsync.errors import LedgerError
from directorsync.ledger import tables as t
from directorsync.vocabulary import FINAL_STATES

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The current time, timezone-aware in UTC (the ledger's default clock)."""
    return dt.datetime.now(dt.UTC)


def iso(moment: dt.datetime) -> str:
    """A moment as the ledger stores it: ISO 8601 in UTC, with microseconds."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def who() -> tuple[str, str, int]:
    """(user, host, pid) of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return user, socket.gethostname(), os.getpid()


def ledger_url(url: str, reports_dir: str | Path) -> str:
    """The SQLAlchemy URL of a configured ledger (empty → ``<reports_dir>/ledger.sqlite``)."""
    if not url:
        return f"sqlite:///{Path(reports_dir).resolve() / 'ledger.sqlite'}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" in url:
        return url
    return f"sqlite:///{Path(url).expanduser().resolve()}"


class Ledger:
    """Run records, the write journal, tenant leases and events in one database.

    Args:
        engine: an SQLAlchemy engine (see :func:`open_ledger`).
        clock: the ledger's clock (tests move it instead of waiting).
        stale_after: seconds without a heartbeat after which a running run is interrupted.
        lease_ttl: seconds a tenant lease lives after its holder's last heartbeat.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock = utc_now,
        stale_after: float = 15.0,
        lease_ttl: float = 30.0,
    ):
        self.engine = engine
        self.clock = clock
        self.stale_after = stale_after
        self.lease_ttl = lease_ttl
        self.user, self.host, self.pid = who()

    def now(self) -> str:
        """The ledger clock's current time, as stored (see :func:`iso`)."""
        return iso(self.clock())

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One short transaction (``BEGIN IMMEDIATE`` on SQLite: readers never upgrade)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise LedgerError(
                f"ledger {self.engine.url!r}: {exc.__class__.__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    # -- runs -----------------------------------------------------------------------------------

    def create_run(
        self, run_id: str, *, tenant: str, kind: str, trigger: str, **values: Any
    ) -> None:
        """Record a new run (state ``pending`` unless given)."""
        now = self.now()
        row = {
            "id": run_id,
            "tenant": tenant,
            "kind": kind,
            "trigger": trigger,
            "state": "pending",
            "created_at": now,
            "updated_at": now,
            "heartbeat_at": now,
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "counts": {},
            "errors": [],
            "warnings": [],
            "artifacts": {},
            "stages_completed": [],
            "stages_pending": [],
        }
        row.update(values)
        with self.begin() as conn:
            conn.execute(insert(t.runs).values(**row))

    def update_run(self, run_id: str, **values: Any) -> None:
        """Set columns of a run record (``updated_at`` is now unless given)."""
        values.setdefault("updated_at", self.now())
        with self.begin() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**values))

    def heartbeat(self, run_id: str) -> str | None:
        """Beat (and extend the run's lease); returns who asked to cancel it, if anyone did."""
        now = self.clock()
        with self.begin() as conn:
            conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(heartbeat_at=iso(now)))
            conn.execute(
                update(t.leases)
                .where(t.leases.c.run_id == run_id)
                .values(expires_at=iso(now + dt.timedelta(seconds=self.lease_ttl)))
            )
            row = conn.execute(
                select(t.runs.c.cancel_requested_at, t.runs.c.cancel_requested_by).where(
                    t.runs.c.id == run_id
                )
            ).first()
        if row is None or row.cancel_requested_at is None:
            return None
        return row.cancel_requested_by or "someone"

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run record (interrupted runs recognised as such).

        Raises:
            LedgerError: no run has this id.
        """
        with self.begin() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        if row is None:
            raise LedgerError(f"no run {run_id!r} in the ledger {self.label}")
        return self._settle(dict(row))

    def history(
        self,
        *,
        tenant: str | None = None,
        state: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[dict[str, Any]]]:
        """``(count, runs)``: runs matching the filters, newest first, one page of them."""
        self.settle_all()
        where = []
        c = t.runs.c
        if tenant:
            where.append(c.tenant == tenant)
        if state:
            where.append(c.state == state)
        if kind:
            where.append(c.kind == kind)
        if since:
            where.append(c.created_at >= since)
        if until:
            where.append(c.created_at < until)
        with self.begin() as conn:
            count = conn.execute(
                select(func.count()).select_from(t.runs).where(*where)
            ).scalar_one()
            rows = conn.execute(
                select(t.runs)
                .where(*where)
                .order_by(c.created_at.desc(), c.id.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
            return count, [dict(r) for r in rows]

    def request_cancel(self, run_id: str, by: str | None = None) -> dict[str, Any]:
        """Ask a running run to stop (its heartbeat sees it within a second)."""
        run = self.get_run(run_id)
        if run["state"] in FINAL_STATES:
            return run
        by = by or f"{self.user}@{self.host}"
        self.update_run(run_id, cancel_requested_at=self.now(), cancel_requested_by=by)
        return self.get_run(run_id)

    def settle_all(self) -> None:
        """Mark runs whose process is gone as interrupted."""
        with self.begin() as conn:
            rows = conn.execute(
                select(t.runs).where(t.runs.c.state.in_(("pending", "running")))
            ).mappings()
            live = [dict(r) for r in rows]
        for run in live:
            self._settle(run)

    def _settle(self, run: dict[str, Any]) -> dict[str, Any]:
        if run["state"] not in ("pending", "running") or not self._dead(run):
            return run
        message = (
            f"the process stopped without finishing (last heartbeat {run['heartbeat_at']}); "
            f"resume with: directorsync apply --resume {run['id']}"
        )
        now = self.now()
        with self.begin() as conn:
            conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run["id"], t.runs.c.state.in_(("pending", "running")))
                .values(state="interrupted", message=message, completed_at=now, updated_at=now)
            )
            conn.execute(
                insert(t.events).values(
                    run_id=run["id"],
                    ts=now,
                    name="sync.failed",
                    data={"state": "interrupted", "message": message},
                )
            )
        return {**run, "state": "interrupted", "message": message, "completed_at": now}

    def _dead(self, run: dict[str, Any]) -> bool:
        pid = run.get("pid")
        if run.get("host") == self.host and pid and pid != self.pid:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
        beat = run.get("heartbeat_at") or run.get("updated_at")
        age = (self.clock() - dt.datetime.fromisoformat(str(beat))).total_seconds()
        return age > self.stale_after

    # -- events ---------------------------------------------------------------------------------

    def add_event(self, run_id: str, name: str, data: dict[str, Any], **run_values: Any) -> int:
        """Record an event (and update the run's fields in the same transaction).

        Its time is taken once the transaction holds the database, so that ``ts`` is when the
        ledger records it (waiting for another writer's lock does not age it).
        """
        with self.begin() as conn:
            now = self.now()
            result = conn.execute(
                insert(t.events).values(run_id=run_id, ts=now, name=name, data=data)
            )
            if run_values:
                run_values.setdefault("updated_at", now)
                conn.execute(update(t.runs).where(t.runs.c.id == run_id).values(**run_values))
            key = result.inserted_primary_key
            assert key is not None  # an insert of one row
            return key[0]

    def events(self, run_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The run's events after the event id ``after``, in order."""
        with self.begin() as conn:
            rows = conn.execute(
                select(t.events)
                .where(t.events.c.run_id == run_id, t.events.c.id > after)
                .order_by(t.events.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    @property
    def label(self) -> str:
        """The ledger's URL for messages, password hidden."""
        return self.engine.url.render_as_string(hide_password=True)


def open_ledger(
    url: str,
    *,
    clock: Clock = utc_now,
    stale_after: float = 15.0,
    lease_ttl: float = 30.0,
) -> Ledger:
    """Open a ledger by SQLAlchemy URL, creating or migrating its schema on first use.

    Raises:
        LedgerError: unreachable database, unwritable file, or a schema newer than this version.
    """
    try:
        engine = _engine(url)
        _migrate(engine)
    except SQLAlchemyError as exc:
        shown = url.split("@")[-1] if "@" in url else url
        raise LedgerError(
            f"cannot open the run ledger {shown}: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]} (set ledger.url or DSYNC_LEDGER__URL)"
        ) from exc
    return Ledger(engine, clock=clock, stale_after=stale_after, lease_ttl=lease_ttl)


def open_configured(settings: Any, **kwargs: Any) -> Ledger:
    """The ledger named by the settings (``ledger.url``, else ``<reports_dir>/ledger.sqlite``)."""
    lg = settings.ledger
    url = ledger_url(lg.url, settings.app.reports_dir)
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("stale_after", lg.stale_after_sec)
    kwargs.setdefault("lease_ttl", lg.lease_ttl_sec)
    return open_ledger(url, **kwargs)


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=16)


def _migrate(engine: Engine) -> None:
    """Create missing tables and bring the schema to :data:`SCHEMA_VERSION`."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # one migrating process at a time
            conn.execute(text("SELECT pg_advisory_xact_lock(7301013)"))
        t.meta.create(conn, checkfirst=True)
        found = conn.execute(
            select(t.meta.c.value).where(t.meta.c.key == "schema_version")
        ).scalar()
        version = int(found) if found is not None else 0
        if version > t.SCHEMA_VERSION:
            raise LedgerError(
                f"the ledger has schema version {version}, newer than this DirectorSync's "
                f"{t.SCHEMA_VERSION}: upgrade DirectorSync"
            )
        for step in range(version + 1, t.SCHEMA_VERSION + 1):
            if version:  # a fresh ledger gets the tables as they are now
                for statement in t.MIGRATIONS.get(step, []):
                    conn.execute(text(statement))
        t.metadata.create_all(conn, checkfirst=True)
        if found is None:
            conn.execute(insert(t.meta).values(key="schema_version", value=str(t.SCHEMA_VERSION)))
        elif version != t.SCHEMA_VERSION:
            conn.execute(
                update(t.meta)
                .where(t.meta.c.key == "schema_version")
                .values(value=str(t.SCHEMA_VERSION))
            )

"""The ledger's tables (SQLAlchemy Core) and its schema version.

One metadata object describes every table; :func:`~directorsync.ledger.database.open_ledger`
creates what is missing and records :data:`SCHEMA_VERSION` in ``ledger_meta``. A later version
adds tables or columns through :data:`MIGRATIONS` (version → statements), applied in order on
first use by a newer DirectorSync; an older DirectorSync refuses a newer ledger.

Times are UTC ISO-8601 text (``2026-12-02T22:45:01.123456+00:00``): they sort as text, read the
same in SQLite and PostgreSQL, and go to JSON unchanged. Lists and mappings are JSON columns.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: the schema version this DirectorSync writes
SCHEMA_VERSION = 1
#: version → SQL statements that bring a ledger of ``version - 1`` to ``version``
MIGRATIONS: dict[int, list[str]] = {}

metadata = MetaData()

meta = Table(
    "ledger_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

#: one row per execution that talks to Director (plan, apply, later export, drift, prune…)
runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("plan_id", String(64)),  # the run that made the plan applied (a saved plan's run id)
    Column("resumed_from", String(64)),  # the interrupted run this one continues
    Column("tenant", String(200), nullable=False),
    Column("kind", String(32), nullable=False),  # plan | apply | run | export | drift | …
    Column("trigger", String(32), nullable=False),  # cli | notebook | api | scheduled
    Column("state", String(32), nullable=False),  # pending → running → completed | failed | …
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("stage", String(100)),
    Column("stages_completed", JSON),
    Column("stages_pending", JSON),
    Column("done", Integer, nullable=False, default=0),
    Column("total", Integer, nullable=False, default=0),
    Column("percent", Float, nullable=False, default=0.0),
    Column("created_at", String(40), nullable=False),
    Column("started_at", String(40)),
    Column("updated_at", String(40), nullable=False),
    Column("completed_at", String(40)),
    Column("heartbeat_at", String(40)),
    Column("counts", JSON),  # status → rows
    Column("errors", JSON),  # [{"message", "resource", "key", …}]
    Column("warnings", JSON),
    Column("artifacts", JSON),  # {"folder", "plan", "result", "report", "log"}
    Column("workbook", Text),
    Column("plan_hash", String(80)),
    Column("user", String(200)),
    Column("host", String(200)),
    Column("pid", Integer),
    Column("cancel_requested_at", String(40)),
    Column("cancel_requested_by", String(200)),
    Column("exit_code", Integer),
    Column("message", Text),
    Index("ix_runs_tenant_created", "tenant", "created_at"),
    Index("ix_runs_state", "state"),
)

#: the write journal: one row per plan row a run sent (intent → order → outcome), for resume
journal = Table(
    "journal",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("row_key", String(700), primary_key=True),  # resource|node_id|key
    Column("resource", String(100), nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("key", Text, nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", Text),
    Column("phase", String(16), nullable=False),  # intent | accepted | done
    Column("attempts", Integer, nullable=False, default=0),
    Column("monitor_path", Text),
    Column("order_id", String(100)),
    Column("status", String(32)),  # the row's final status once done
    Column("reason", Text),
    Column("carried_from", String(64)),  # the run whose outcome this row repeats (resume)
    Column("intent_at", String(40)),
    Column("accepted_at", String(40)),
    Column("done_at", String(40)),
)

#: one writer per tenant: the run holding it, until it releases it or the lease expires
leases = Table(
    "leases",
    metadata,
    Column("tenant", String(200), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("user", String(200)),
    Column("host", String(200)),
    Column("pid", Integer),
    Column("acquired_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=False),
)

#: every event a run emitted (sync.started, sync.progress, …), in order
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("ts", String(40), nullable=False),
    Column("name", String(64), nullable=False),
    Column("data", JSON),
    Index("ix_events_run", "run_id", "id"),
)

# --- reserved for the issues that build on the ledger (created now, filled by them) -----------

#: the last state DirectorSync applied or saw converged, per object (three-way drift)
applied_state = Table(
    "applied_state",
    metadata,
    Column("tenant", String(200), primary_key=True),
    Column("node_id", String(64), primary_key=True),
    Column("resource", String(100), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("remote_id", String(100)),
    Column("fields", JSON),
    Column("hash", String(80)),
    Column("run_id", String(64)),
    Column("applied_at", String(40)),
)

#: objects DirectorSync created or adopted (delete candidates), and when they became orphans
ownership = Table(
    "ownership",
    metadata,
    Column("tenant", String(200), primary_key=True),
    Column("node_id", String(64), primary_key=True),
    Column("resource", String(100), primary_key=True),
    Column("key", String(500), primary_key=True),
    Column("remote_id", String(100)),
    Column("run_id", String(64)),
    Column("how", String(32)),  # created | adopted
    Column("since", String(40)),
    Column("orphaned_at", String(40)),
)

#: an object as it was before a run updated or deleted it (rollback)
pre_images = Table(
    "pre_images",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("resource", String(100), nullable=False),
    Column("key", String(500), nullable=False),
    Column("remote_id", String(100)),
    Column("action", String(16), nullable=False),  # update | delete
    Column("before", JSON),
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("run_id", "node_id", "resource", "key", name="uq_pre_images_row"),
)

#: the workbook a run read, as it was then: a later listing tells whether it changed since
#: (added without a version step: a ledger opened by this version gets the table)
workbook_seen = Table(
    "workbook_seen",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("tenant", String(200), nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("mtime", String(40), nullable=False),  # the file's modification time (UTC)
    Column("recorded_at", String(40), nullable=False),
    Index("ix_workbook_seen_tenant", "tenant", "recorded_at"),
)

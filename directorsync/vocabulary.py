"""The internal vocabulary: frame column names, actions, statuses, schema ids.

Every stage speaks these words; they live here once so that no stage imports another only to
get a constant. Frame columns that start with ``_`` are DirectorSync's own and never reach a
payload; columns without it are the write shape of the resource.
"""

from __future__ import annotations

VERSION = "0.1.0"

# --- schema ids of the JSON artifacts ----------------------------------------------------------
PLAN_SCHEMA = "directorsync/plan@1"
RESULT_SCHEMA = "directorsync/result@1"

# --- frame columns (desired and remote frames) --------------------------------------------------
#: Excel row number of a mapped row (header = row 1)
ROW = "_row"
#: every Excel row an aggregated row came from
ROWS = "_rows"
#: the sheet a row was read from
SHEET = "_sheet"
#: "file › sheet › row" provenance label
SOURCE = "_source"
#: logpoint identifier of the node a row targets or an object lives on
NODE = "_node_id"
#: that node's name
NODE_NAME = "_node_name"
#: an object the same plan creates (not yet on Director)
PLANNED = "_planned"
#: the precheck / resolve verdict of a desired row (``None`` = plannable)
STATUS = "_status"
#: why a row was skipped or failed
REASON = "_reason"
#: natural key of a row (composite keys joined with ``/``)
KEY = "_key"
#: ``["<resource>:<key>"]`` objects a row needs that the same plan creates
DEPENDS = "_depends"

#: placeholder id of an object the same plan creates: ``$ref:<resource>:<key>``
REF_PREFIX = "$ref:"
#: how a finding names its node ("unknown repo 'X' on node lb-01"); reports merge on it
ON_NODE = "on node {}"

# --- plan rows ----------------------------------------------------------------------------------
#: plan actions, in display order
ACTIONS = ("delete", "create", "update", "unchanged", "skip", "error")
#: the columns of a plan row, in order
PLAN_COLUMNS = [
    "resource",
    "node_id",
    "node_name",
    "key",
    "action",
    "reason",
    "changes",
    "payload",
    "method",
    "path",
    "remote_id",
    "remote_hash",
    "depends_on",
    "sheet",
    "excel_rows",
    "source",
    "drift",
]
#: the columns of a workbook finding (precheck or resolve failure)
#: row fields that hold data as sent to (or read from) Director: audit files mask only its
#: secret fields (by key) and the configured secret values there, never other text
DATA_FIELDS = ("payload", "changes")

FINDING_COLUMNS = ["resource", "sheet", "row", "column", "check", "severity", "message", "value"]

# --- result rows --------------------------------------------------------------------------------
#: every row status, in display order (PLANNED_* only occur in dry-run results)
STATUSES = (
    "DELETED",
    "CREATED",
    "UPDATED",
    "PLANNED_DELETE",
    "PLANNED_CREATE",
    "PLANNED_UPDATE",
    "UNCHANGED",
    "SKIP",
    "ERROR",
    "EXCEPTION",
)
#: statuses of a row that ran (not a dry run)
APPLIED_STATUSES = ("DELETED", "CREATED", "UPDATED", "UNCHANGED", "SKIP", "ERROR", "EXCEPTION")
#: statuses that need a reader's attention
NOT_OK = ("SKIP", "ERROR", "EXCEPTION")
#: statuses of a row that failed
FAILED = ("ERROR", "EXCEPTION")

# --- the run ledger (directorsync/ledger/) ------------------------------------------------------
#: run states: pending → running → one of the final states
RUN_STATES = ("pending", "running", "completed", "failed", "cancelled", "interrupted")
#: states a run never leaves
FINAL_STATES = ("completed", "failed", "cancelled", "interrupted")
#: what started a run
TRIGGERS = ("cli", "notebook", "api", "scheduled")
#: the events a run emits (``--events``, the ledger's ``events`` table), reference names
EVENTS = (
    "sync.started",
    "sync.progress",
    "sync.stage_completed",
    "sync.warning",
    "sync.error",
    "sync.completed",
    "sync.failed",
    "sync.cancelled",
)
#: the reason of a row a stopped run never sent
CANCELLED_REASON = "cancelled"
#: the reason of a create that found its object already there with the desired values
ALREADY_PRESENT = "already present as desired"

# --- lifecycle: deletes, ownership, quarantine (docs/lifecycle.md) ------------------------------
#: the statuses of a row that wrote (a rollback undoes them)
WROTE = ("CREATED", "UPDATED", "DELETED")
#: how an object came to be owned by DirectorSync (ledger table ``ownership``)
OWNED_HOW = ("created", "adopted")
#: names of the objects a fresh Director node holds (never deleted, listed as protected)
BUILTIN_NAMES = ("default", "_logpoint", "_LogPointAlerts")
#: Verification of an apply (result ``verification.status``; row ``verification.status``).
VERIFY_CONVERGED = "converged"
VERIFY_DIVERGED = "diverged"
VERIFY_MISSING = "missing"
VERIFY_FAILED = "failed"
VERIFY_SKIPPED = "skipped"
# --- three-way drift (directorsync/drift.py) ----------------------------------------------------
WORKBOOK_CHANGED = "workbook_changed"
DIRECTOR_CHANGED = "director_changed"
CONFLICT = "conflict"
UNMANAGED = "unmanaged"
REMOVED = "removed"
#: the drift classes, in display order (as they appear in the JSON output)
DRIFT_CLASSES = (WORKBOOK_CHANGED, DIRECTOR_CHANGED, CONFLICT, UNMANAGED, REMOVED)
#: ``apply --on-drift``: what an apply does with rows changed on Director
ON_DRIFT = ("revert", "keep", "fail")
#: the schema id of ``directorsync drift --format json`` (one tenant) and of the fleet summary
DRIFT_SCHEMA = "directorsync/drift@1"

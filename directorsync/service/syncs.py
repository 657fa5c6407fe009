"""What the service knows and checks about syncs: tenants, workbooks, runs, their views.

:class:`Syncs` stands between the HTTP routes and the runner: it checks a request's tenant
(a known name of the tenants file, never a path), its resources and its workbook before a sync
is queued, and shapes the ledger's runs for the API (the CLI's ``status --format json`` view,
with links the service serves instead of the server's file paths).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from directorsync.config import Settings
from directorsync.errors import DirectorSyncError, LedgerError
from directorsync.ledger.database import Ledger
from directorsync.ledger.views import page_links, run_view
from directorsync.profile.model import profile_files
from directorsync.service.runner import SyncJob, SyncRunner
from directorsync.tenants import TENANT_NAME_RE, load_tenants
from directorsync.vocabulary import RUN_STATES
from directorsync.workbook_folder import record_workbook

#: artifacts the service serves, by link name: (artifact key, media type)
SERVED = {
    "plan": ("plan", "application/json"),
    "result": ("result", "application/json"),
    "report": ("report", "text/html; charset=utf-8"),
}
KINDS = ("apply", "plan", "drift")
TRIGGERS = ("manual", "webhook", "scheduled")


class ApiError(Exception):
    """An answer other than success: HTTP ``status``, one-line ``message``, more fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class Syncs:
    """The service's view of tenants, workbooks and runs (see the module docstring)."""

    def __init__(self, settings: Settings, ledger: Ledger, runner: SyncRunner) -> None:
        self.settings, self.ledger, self.runner = settings, ledger, runner
        self._tenants: tuple[float, list[str]] | None = None

    # -- inputs ---------------------------------------------------------------------------------

    def tenant_names(self) -> list[str]:
        """The tenants file's tenant names (read again when the file changes)."""
        path = self.settings.inputs.tenants_file
        if not path:
            raise ApiError(503, "no tenants file: set inputs.tenants_file or LP_TENANTS_FILE")
        try:
            mtime = Path(path).stat().st_mtime
            if self._tenants is None or self._tenants[0] != mtime:
                self._tenants = (mtime, sorted(load_tenants(path)))
        except (OSError, DirectorSyncError) as exc:
            raise ApiError(503, f"the tenants file cannot be read: {exc}") from exc
        return self._tenants[1]

    def check_tenant(self, tenant: str) -> str:
        """``tenant`` if the tenants file names it.

        Raises:
            ApiError: 422 for a name that could be a path (``../x``), 404 for an unknown one
                (with the known names).
        """
        if TENANT_NAME_RE.fullmatch(tenant) is None:
            raise ApiError(
                422,
                f"tenant: {tenant!r} is not a tenant name (letters, digits, '_', '-', '.'; not "
                "starting with '.')",
                field="tenant",
            )
        known = self.tenant_names()
        if tenant not in known:
            raise ApiError(404, f"unknown tenant {tenant!r}", known=known)
        return tenant

    def resources(self) -> list[str]:
        """The resources profiles exist for."""
        return sorted(profile_files(self.settings.profiles.search_paths))

    def check_resources(self, resources: list[str] | None) -> list[str] | None:
        """``resources`` if every one is known (None: all); else 422 naming them."""
        if not resources:
            return None
        known = self.resources()
        unknown = [r for r in resources if r not in known]
        if unknown:
            raise ApiError(
                422,
                f"options.resources: unknown resource(s) {', '.join(map(repr, unknown))}",
                field="options.resources",
                known=known,
            )
        return list(resources)

    def workbook(self, tenant: str) -> Path:
        """The tenant's workbook (``inputs.workbooks.<tenant>`` or ``inputs.xlsx_dir``).

        Raises:
            ApiError: 409 when none is configured or the file is missing.
        """
        from directorsync.notebook.batch import workbook_for

        try:
            path = workbook_for(self.settings, tenant)
        except DirectorSyncError as exc:
            raise ApiError(409, exc.message, tenant=tenant) from exc
        if not path.is_file():
            raise ApiError(409, f"tenant {tenant}: no workbook {path.name} yet", tenant=tenant)
        return path

    # -- syncs ----------------------------------------------------------------------------------

    def start(
        self, tenant: str, kind: str, trigger: str, options: dict[str, Any], user: str
    ) -> SyncJob:
        """Check and queue a sync (see :func:`directorsync.service.runner.start_sync`)."""
        self.check_tenant(tenant)
        if kind not in KINDS:
            raise ApiError(422, f"kind: {kind!r} is not one of {', '.join(KINDS)}", field="kind")
        options = dict(options)
        options["resources"] = self.check_resources(options.get("resources"))
        workbook = self.workbook(tenant)
        job = self.runner.start(tenant, kind, trigger, options, user, str(workbook))
        if Path(workbook).is_file():  # the workbook listing's "changed since its last sync"
            record_workbook(self.ledger, job.sync_id, tenant, workbook)
        return job

    def view(self, sync_id: str, base: str = "") -> dict[str, Any]:
        """A sync as the API shows it (404 when unknown)."""
        try:
            run = self.ledger.get_run(sync_id)
        except LedgerError:
            job = self.runner.job(sync_id)
            if job is None:
                raise ApiError(404, f"no sync {sync_id!r}") from None
            return self.queued_view(job, base)
        return self.shape(run, base)

    def shape(self, run: dict[str, Any], base: str = "") -> dict[str, Any]:
        """A ledger run as the API shows it: the CLI's view, links instead of file paths."""
        view = run_view(run)
        view.pop("pid", None)
        view["sync_id"] = view["id"]
        artifacts = view.pop("artifacts", {}) or {}
        links = {"self": f"{base}/api/syncs/{view['id']}", "events": f"/ws/syncs/{view['id']}"}
        for name, (key, _media) in SERVED.items():
            if self.artifact(artifacts.get(key)) is not None:
                links[name] = f"{base}/api/syncs/{view['id']}/{name}"
        view["links"] = links
        job = self.runner.job(view["id"])
        if job is not None:
            view["options"] = job.options
        return view

    def queued_view(self, job: SyncJob, base: str = "") -> dict[str, Any]:
        """A sync not yet in the ledger (waiting for a worker, or its process starting)."""
        created = dt.datetime.fromtimestamp(job.created_at, dt.UTC).isoformat()
        return {
            "id": job.sync_id,
            "sync_id": job.sync_id,
            "tenant": job.tenant,
            "kind": job.kind,
            "trigger": job.trigger,
            "state": "pending",
            "dry_run": not job.writes,
            "user": job.user,
            "created_at": created,
            "progress": {
                "current_stage": None,
                "stages_completed": [],
                "stages_pending": [],
                "rows_processed": 0,
                "total_rows": 0,
                "percent_complete": 0.0,
            },
            "counts": {},
            "errors": [],
            "warnings": [],
            "message": "queued: waiting for a free worker" if job.phase == "queued" else None,
            "options": job.options,
            "links": {
                "self": f"{base}/api/syncs/{job.sync_id}",
                "events": f"/ws/syncs/{job.sync_id}",
            },
        }

    def artifact(self, path: str | None) -> Path | None:
        """An artifact's file, if it exists inside the reports folder (else None)."""
        if not path:
            return None
        file = Path(path).resolve()
        root = Path(self.settings.app.reports_dir).resolve()
        return file if file.is_relative_to(root) and file.is_file() else None

    def artifact_file(self, sync_id: str, name: str) -> tuple[Path, str]:
        """The file and media type of a sync's ``plan``, ``result`` or ``report`` (else 404)."""
        run = self.ledger.get_run(sync_id) if self._known(sync_id) else None
        if run is None or name not in SERVED:
            raise ApiError(404, f"sync {sync_id!r} has no {name}")
        key, media = SERVED[name]
        file = self.artifact((run.get("artifacts") or {}).get(key))
        if file is None:
            raise ApiError(404, f"sync {sync_id} has no {name} (yet)")
        return file, media

    def _known(self, sync_id: str) -> bool:
        try:
            self.ledger.get_run(sync_id)
        except LedgerError:
            return False
        return True

    def history(
        self,
        tenant: str,
        *,
        limit: int,
        offset: int,
        status: str | None,
        start: str | None,
        end: str | None,
        base: str,
    ) -> dict[str, Any]:
        """A page of the tenant's runs, newest first: ``count``, ``next``, ``previous``."""
        if status and status not in RUN_STATES:
            raise ApiError(
                422, f"status: {status!r} is not one of {', '.join(RUN_STATES)}", field="status"
            )
        count, rows = self.ledger.history(
            tenant=tenant, state=status, since=start, until=end, limit=limit, offset=offset
        )
        page = page_links(
            count,
            limit=limit,
            offset=offset,
            query={"status": status, "start_date": start, "end_date": end},
            path=f"{base}/api/tenants/{tenant}/sync-history",
        )
        page.pop("next_offset")
        return {**page, "results": [self.shape(r, base) for r in rows]}

    def fleet(self) -> list[dict[str, Any]]:
        """Every tenant with its last run (and the sync queued or running for it, if any)."""
        active = {j.tenant: j for j in self.runner.active()}
        tenants = []
        for name in self.tenant_names():
            _, rows = self.ledger.history(tenant=name, limit=1)
            last = self.shape(rows[0]) if rows else None
            job = active.get(name)
            if job is not None and (last is None or last["id"] != job.sync_id):
                last = self.queued_view(job)
            tenants.append({"tenant": name, "last_run": last})
        return tenants

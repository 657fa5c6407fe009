"""The sync API: start a sync, read it, cancel it, page through a tenant's history.

Every route here needs a bearer token of the service (:func:`require_user`); the caller's name
is recorded as the run's user. Request bodies are checked strictly: an unknown or mistyped
field is a 422 naming it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from directorsync.errors import LedgerError
from directorsync.report.blocks import CSP
from directorsync.service.auth import require_user
from directorsync.service.runner import ServiceClosing, TenantBusy
from directorsync.service.syncs import ApiError, Syncs

router = APIRouter(prefix="/api", dependencies=[Depends(require_user)])
User = Annotated[str, Depends(require_user)]


class SyncOptions(BaseModel):
    """What a sync does."""

    model_config = ConfigDict(extra="forbid")

    dry_run: bool = Field(False, description="plan and report, never write")
    validate_only: bool = Field(False, description="plan only (a `plan` run): never writes")
    resources: list[str] | None = Field(None, description="resources (default: every sheet)")
    force_refresh: bool = Field(
        False, description="call Director's RefreshList endpoints before listing (docs/verify.md)"
    )


class SyncRequest(BaseModel):
    """``POST /api/tenants/{tenant}/syncs``."""

    model_config = ConfigDict(extra="forbid")

    trigger: Literal["manual", "webhook", "scheduled"] = "manual"
    options: SyncOptions = Field(default_factory=SyncOptions)


def _syncs(request: Request) -> Syncs:
    syncs: Syncs = request.app.state.syncs
    return syncs


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.post("/tenants/{tenant}/syncs", status_code=202, summary="Start a sync")
def start_sync_route(
    tenant: str, request: Request, user: User, body: SyncRequest | None = None
) -> dict[str, Any]:
    """Queue a sync of the tenant's workbook: ``202`` with its ``sync_id`` and ``tracking_url``.

    ``409`` names the running sync when an apply (not a dry run) of the tenant is already
    queued or running.
    """
    body = body or SyncRequest()
    options = body.options.model_dump()
    kind = "plan" if options.pop("validate_only") else "apply"
    syncs = _syncs(request)
    try:
        job = syncs.start(tenant, kind, body.trigger, options, user)
    except TenantBusy as exc:
        raise ApiError(
            409,
            exc.message,
            running_sync=exc.sync_id,
            tracking_url=f"{_base(request)}/api/syncs/{exc.sync_id}",
        ) from exc
    except ServiceClosing as exc:
        raise ApiError(503, str(exc)) from exc
    base = _base(request)
    return {
        "sync_id": job.sync_id,
        "status": "started",
        "tenant": tenant,
        "kind": kind,
        "dry_run": not job.writes,
        "trigger": body.trigger,
        "options": job.options,
        "tracking_url": f"{base}/api/syncs/{job.sync_id}",
        "events_url": f"{base.replace('http', 'ws', 1)}/ws/syncs/{job.sync_id}",
    }


@router.get("/syncs/{sync_id}", summary="A sync's state and progress")
def get_sync(sync_id: str, request: Request) -> dict[str, Any]:
    """State, progress by stage, times, counts, errors, warnings and links of a sync.

    Links: its plan, result and HTML report, served here. Runs of the CLI are shown too.
    """
    return _syncs(request).view(sync_id, _base(request))


@router.post("/syncs/{sync_id}/cancel", summary="Cancel a sync")
def cancel_sync(
    sync_id: str,
    request: Request,
    user: User,
    wait: Annotated[float, Query(ge=0, le=120, description="seconds to wait for the end")] = 0,
) -> dict[str, Any]:
    """Ask the sync to stop; ``final_state`` is the state it ends in.

    No new write once its heartbeat sees the request (within a second); writes Director
    accepted are followed to their end; reports are written. ``final_state`` is ``cancelled``,
    or the state of a sync that had already ended.
    """
    syncs = _syncs(request)
    try:
        answer = syncs.runner.cancel(sync_id, by=user)
    except LedgerError:
        raise ApiError(404, f"no sync {sync_id!r}") from None
    if wait and answer["state"] not in ("completed", "failed", "cancelled", "interrupted"):
        answer["state"] = _wait_for_end(syncs, sync_id, wait)
    return {"sync_id": sync_id, **answer}


def _wait_for_end(syncs: Syncs, sync_id: str, seconds: float) -> str:
    import time

    deadline = time.monotonic() + seconds
    while True:
        state = str(syncs.view(sync_id)["state"])
        if state in ("completed", "failed", "cancelled", "interrupted"):
            return state
        if time.monotonic() > deadline:
            return state
        time.sleep(0.1)


@router.get("/syncs/{sync_id}/{artifact}", summary="A sync's plan, result or HTML report")
def sync_artifact(
    sync_id: str, artifact: Literal["plan", "result", "report"], request: Request
) -> FileResponse:
    """``plan`` and ``result`` (JSON) and ``report`` (the customer HTML report)."""
    file, media = _syncs(request).artifact_file(sync_id, artifact)
    headers = {"Content-Security-Policy": CSP} if artifact == "report" else {}
    return FileResponse(file, media_type=media, headers=headers)


@router.get("/tenants/{tenant}/sync-history", summary="A tenant's runs, newest first")
def sync_history(
    tenant: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: str | None = None,
    start_date: dt.date | dt.datetime | None = None,
    end_date: dt.date | dt.datetime | None = None,
) -> dict[str, Any]:
    """One page of the tenant's runs: ``count``, ``next``, ``previous`` and ``results``.

    ``next``/``previous`` are URLs (or null); results hold runs of the CLI and of the service
    alike. ``start_date``/``end_date``: ISO dates or times, ``end_date`` inclusive for a date.
    """
    syncs = _syncs(request)
    syncs.check_tenant(tenant)
    return syncs.history(
        tenant,
        limit=limit,
        offset=offset,
        status=status,
        start=_moment(start_date, end=False),
        end=_moment(end_date, end=True),
        base=_base(request),
    )


def _moment(value: dt.date | dt.datetime | None, *, end: bool) -> str | None:
    """An ISO time in UTC comparable with the ledger's (a date's end is the next midnight)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        day = value + dt.timedelta(days=1) if end else value
        value = dt.datetime.combine(day, dt.time(), dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


@router.get("/tenants", summary="The tenants and their last runs")
def fleet(request: Request) -> dict[str, Any]:
    """Every tenant of the tenants file with its last run (what the fleet page shows)."""
    return {"tenants": _syncs(request).fleet()}


@router.get("/schedules", summary="The configured schedules, their next times and firings")
def schedules(request: Request) -> dict[str, Any]:
    """Each schedule of the config: settings, next due time, the last firings (skips included)."""
    scheduler = request.app.state.scheduler
    return {"schedules": scheduler.status() if scheduler is not None else []}

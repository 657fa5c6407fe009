"""The workbook folder over HTTP: list it, validate a workbook offline, initialise one.

- ``GET /api/workbooks``: each tenant's workbook (present, readable, sheets and rows, findings,
  changed since its last sync) and the folder's workbooks no tenant has;
- ``POST /api/workbooks/validate``: the offline checks of a tenant's workbook (JSON
  ``{"tenant": "core"}``) or of an uploaded file (multipart, field ``file``; optional fields
  ``tenant`` and ``resources``); nothing is sent to Director;
- ``POST /api/tenants/{tenant}/workbook/initialize``: a template workbook for a tenant
  (``?force=true`` replaces an existing one).

The app provides ``app.state.settings`` (:class:`~directorsync.config.Settings`) and
``app.state.ledger`` (the opened ledger, or None) and includes :data:`router` with its
authentication dependency. Tenant names are checked before they reach the file system; uploads
are read in chunks and refused past ``inputs.max_upload_mb``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from directorsync.errors import ConfigError, DirectorSyncError, ProfileError, WorkbookError
from directorsync.workbook_check import check_workbook
from directorsync.workbook_folder import (
    CHECKS,
    Folder,
    folder_listing,
    initialise_workbook,
    open_folder,
)

router = APIRouter(tags=["workbooks"])

#: file types an upload may be (what :class:`~directorsync.workbook.Workbook` reads)
UPLOAD_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")
#: bytes a multipart body may carry besides its file (boundaries, headers, small fields)
FORM_OVERHEAD = 64 * 1024
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class ProblemError(Exception):
    """An answer other than 200: status, message and extra JSON fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra

    def response(self) -> JSONResponse:
        """``{"detail": message, …extra}`` with the status."""
        return JSONResponse({"detail": self.message, **self.extra}, status_code=self.status)


class ValidateBody(BaseModel):
    """The JSON body of ``POST /api/workbooks/validate``."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    resources: list[str] | None = None


class InitializeBody(BaseModel):
    """The optional JSON body of ``POST /api/tenants/{tenant}/workbook/initialize``."""

    model_config = ConfigDict(extra="forbid")

    force: bool = False


def problem_of(exc: DirectorSyncError) -> ProblemError:
    """The HTTP answer to an error of the folder's operations."""
    context = exc.context
    if isinstance(exc, ConfigError) and "field" in context:
        return ProblemError(422, exc.message)
    if isinstance(exc, ConfigError) and "known" in context:
        return ProblemError(404, exc.message, known_tenants=context["known"])
    if isinstance(exc, ConfigError):  # no tenants file or folder: the service's configuration
        return ProblemError(503, exc.message)
    if isinstance(exc, WorkbookError) and context.get("exists"):
        return ProblemError(409, exc.message)
    return ProblemError(422, exc.message)


def _folder(request: Request) -> Folder:
    try:
        return open_folder(request.app.state.settings)
    except DirectorSyncError as exc:
        raise problem_of(exc) from exc


def _ledger(request: Request) -> Any:
    return getattr(request.app.state, "ledger", None)


def _fields(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )


@router.get("/api/workbooks", summary="Each tenant's workbook in the folder")
async def list_workbooks(request: Request) -> Any:
    """Each tenant's workbook: present, readable, sheets and rows, findings, changed."""
    try:
        folder = _folder(request)
        return await run_in_threadpool(folder_listing, folder, _ledger(request))
    except ProblemError as problem:
        return problem.response()


_VALIDATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ValidateBody.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "tenant": {"type": "string"},
                        "resources": {"type": "string", "description": "comma-separated"},
                    },
                }
            },
        },
    }
}


@router.post(
    "/api/workbooks/validate",
    summary="Check a workbook offline (nothing is sent to Director)",
    openapi_extra=_VALIDATE_BODY,
)
async def validate_workbook(request: Request) -> Any:
    """The offline checks of a tenant's workbook (JSON) or of an uploaded file (multipart)."""
    try:
        folder = _folder(request)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            return await _validate_upload(request, folder)
        if kind not in ("application/json", ""):
            raise ProblemError(
                415,
                f"send JSON {{\"tenant\": …}} or a multipart upload (field 'file'), not {kind}",
            )
        try:
            body = ValidateBody.model_validate(await request.json())
        except ValidationError as exc:
            raise ProblemError(422, _fields(exc)) from exc
        except ValueError as exc:
            raise ProblemError(422, f"body: not JSON ({exc})") from exc
        return await run_in_threadpool(_validate_tenant, folder, body.tenant, body.resources)
    except ProblemError as problem:
        return problem.response()


def _validate_tenant(folder: Folder, tenant: str, resources: list[str] | None) -> dict[str, Any]:
    try:
        path = folder.workbook_path(tenant)
        if not path.is_file():
            raise ProblemError(
                404,
                f"tenant {tenant!r} has no workbook: {path.name} is not in the folder "
                f"(POST /api/tenants/{tenant}/workbook/initialize writes a template)",
            )
        check = CHECKS.check(folder, path, tenant, resources)
    except DirectorSyncError as exc:
        raise problem_of(exc) from exc
    return {"source": "folder", **check.as_dict()}


async def _validate_upload(request: Request, folder: Folder) -> dict[str, Any]:
    limit = int(folder.settings.inputs.max_upload_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        raise _too_large(limit)
    parser = MultiPartParser(
        request.headers, _limited(request, limit + FORM_OVERHEAD), max_files=1, max_fields=8
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ProblemError(422, f"the multipart body cannot be read: {exc.message}") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ProblemError(422, "file: send the workbook as the multipart field 'file'")
        tenant = str(form.get("tenant") or "") or None
        resources = [r.strip() for r in str(form.get("resources") or "").split(",") if r.strip()]
        name = _upload_name(upload.filename)
        with tempfile.TemporaryDirectory(prefix="dsync-upload-") as folder_path:
            path = Path(folder_path) / name
            size = await _save(upload, path, limit)
            answer = await run_in_threadpool(_check_upload, folder, path, tenant, resources)
        return {"source": "upload", "size": size, **answer}
    finally:
        await form.close()


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise _too_large(limit - FORM_OVERHEAD)
        yield chunk


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        f"file: the upload is larger than {limit / 1024 / 1024:g} MB (inputs.max_upload_mb)",
    )


def _upload_name(filename: str | None) -> str:
    """A plain file name for the upload (its folder part and odd characters dropped)."""
    base = Path((filename or "").replace("\\", "/")).name
    safe = _SAFE_NAME.sub("_", base).lstrip(".")
    suffix = Path(safe).suffix.lower()
    if not safe or suffix not in UPLOAD_SUFFIXES:
        raise ProblemError(
            422,
            f"file: {filename!r} is not a workbook (a {', '.join(UPLOAD_SUFFIXES)} file is)",
        )
    return safe


async def _save(upload: UploadFile, path: Path, limit: int) -> int:
    size = 0
    with path.open("wb") as out:
        while block := await upload.read(1 << 20):
            size += len(block)
            if size > limit:
                raise _too_large(limit)
            out.write(block)
    if size == 0:
        raise ProblemError(422, f"file: {path.name} is empty, not a workbook")
    return size


def _check_upload(
    folder: Folder, path: Path, tenant: str | None, resources: list[str]
) -> dict[str, Any]:
    try:
        known = folder.tenant(tenant) if tenant else None
        check = check_workbook(
            path,
            folder.profiles,
            tenant=known,
            known_tenants=folder.tenants,
            resources=resources or None,
        )
    except WorkbookError as exc:
        raise ProblemError(422, f"file: {path.name} is not a readable workbook: {exc}") from exc
    except (ConfigError, ProfileError) as exc:
        raise problem_of(exc) from exc
    return check.as_dict()


@router.post(
    "/api/tenants/{tenant}/workbook/initialize",
    status_code=201,
    summary="Write a template workbook for a tenant",
)
async def initialize_workbook(
    request: Request, tenant: str, force: bool = False, body: InitializeBody | None = None
) -> Any:
    """Every sheet and its headers, no rows; an existing workbook is kept unless ``force``."""
    try:
        folder = _folder(request)
        wanted = force or (body.force if body else False)
        try:
            return await run_in_threadpool(initialise_workbook, folder, tenant, force=wanted)
        except DirectorSyncError as exc:
            raise problem_of(exc) from exc
    except ProblemError as problem:
        return problem.response()

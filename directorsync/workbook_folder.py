"""The workbook folder: each tenant's workbook, its offline checks, and whether it changed.

A tenant's workbook is ``inputs.workbooks.<tenant>`` when the config names one, else
``<inputs.xlsx_dir>/<tenant>_config.xlsx`` (the same rule as ``directorsync run``). Tenant
names from outside (a request) are checked before they reach the file system: letters, digits,
``_``, ``.`` and ``-`` only, never ``..``, and the path must stay inside the folder.

"Changed since its last sync" compares the file with what the ledger recorded for the tenant's
last run (a ``plan`` or an ``apply``): the file's SHA-256 when that run recorded it
(:func:`record_workbook`, table ``workbook_seen``), else the file's modification time against
the run's start.

Checks are cached by file (path, size, modification time), so listing the folder again costs
a ``stat`` per workbook until one changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select

from directorsync.config import Settings
from directorsync.errors import ConfigError, LedgerError, WorkbookError
from directorsync.ledger import tables as t
from directorsync.ledger.database import Ledger, iso
from directorsync.notebook.batch import workbook_for
from directorsync.profile.model import Profile, load_profiles, profile_files
from directorsync.tenants import Tenant, get_tenant, load_tenants
from directorsync.workbook_check import WorkbookCheck, check_workbook, write_template

#: what a tenant name from outside may look like (no separator, no ``..``)
TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
#: files of the folder taken for workbooks
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
#: runs whose workbook counts as "synced"
SYNC_KINDS = ("apply", "plan")
#: checks kept in memory (one per workbook version)
CACHE_SIZE = 64


def check_tenant_name(name: str) -> str:
    """The name, when it can name a tenant (and so a file).

    Raises:
        ConfigError: anything else (``../x``, ``a/b``, empty), with ``field="tenant"``.
    """
    if not TENANT_NAME.fullmatch(name or "") or ".." in name:
        raise ConfigError(
            f"tenant: {name!r} is not a tenant name (letters, digits, _ . - only, no '..')",
            tenant=name,
            field="tenant",
        )
    return name


@dataclass
class Folder:
    """What the folder's operations read: settings, tenants and profiles.

    Build it with :func:`open_folder` (cached while the tenants file and profiles are unchanged).
    """

    settings: Settings
    tenants: dict[str, Tenant]
    profiles: dict[str, Profile]

    @property
    def directory(self) -> Path | None:
        """``inputs.xlsx_dir`` (None when not set)."""
        xlsx_dir = self.settings.inputs.xlsx_dir
        return Path(xlsx_dir).expanduser() if xlsx_dir else None

    def tenant(self, name: str) -> Tenant:
        """A known tenant.

        Raises:
            ConfigError: a name that is no tenant name (``field``) or an unknown tenant
                (``known`` lists the names).
        """
        check_tenant_name(name)
        try:
            return get_tenant(self.tenants, name)
        except ConfigError as exc:
            exc.context["known"] = sorted(self.tenants)
            raise

    def workbook_path(self, name: str) -> Path:
        """The tenant's workbook (it need not exist).

        Raises:
            ConfigError: unknown tenant, no folder configured, or a path outside the folder.
        """
        self.tenant(name)
        path = workbook_for(self.settings, name)
        if name not in self.settings.inputs.workbooks and self.directory is not None:
            if not path.resolve().is_relative_to(self.directory.resolve()):
                raise ConfigError(f"tenant {name!r}: its workbook would be outside the folder")
        return path


_FOLDERS: dict[tuple[Any, ...], Folder] = {}
_FOLDERS_LOCK = threading.Lock()


def open_folder(settings: Settings) -> Folder:
    """The tenants and profiles of the settings (loaded again when their files change).

    Raises:
        ConfigError: no tenants file configured, or it cannot be read.
    """
    tenants_file = settings.inputs.tenants_file
    if not tenants_file:
        raise ConfigError("no tenants file: set inputs.tenants_file (or LP_TENANTS_FILE)")
    files = [Path(tenants_file), *profile_files(settings.profiles.search_paths).values()]
    key = (id(settings), *((str(p), _mtime_ns(p)) for p in files))
    with _FOLDERS_LOCK:
        if key not in _FOLDERS:
            profiles = load_profiles(None, settings.profiles.search_paths)
            _FOLDERS.clear()  # one version is enough
            _FOLDERS[key] = Folder(settings, load_tenants(tenants_file), profiles)
        return _FOLDERS[key]


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


# --- checks, cached ------------------------------------------------------------------------------


class CheckCache:
    """Offline checks by workbook version (path, size, modification time, tenant, resources)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[Any, ...], WorkbookCheck] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def check(
        self,
        folder: Folder,
        path: Path,
        tenant: str | None,
        resources: list[str] | None = None,
    ) -> WorkbookCheck:
        """The checks of ``path`` (run once per version of the file).

        Raises:
            WorkbookError: the file cannot be read as a workbook.
        """
        info = path.stat()
        key = (str(path.resolve()), info.st_size, info.st_mtime_ns, tenant, tuple(resources or ()))
        with self.lock:
            if key in self.entries:
                self.hits += 1
                self.entries.move_to_end(key)
                return self.entries[key]
            self.misses += 1
        result = check_workbook(
            path,
            folder.profiles,
            tenant=folder.tenants.get(tenant) if tenant else None,
            known_tenants=folder.tenants,
            resources=resources,
        )
        with self.lock:
            self.entries[key] = result
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return result


#: the process's cache (the service's listing and validation share it)
CHECKS = CheckCache()


# --- the folder ----------------------------------------------------------------------------------


def folder_listing(folder: Folder, ledger: Ledger | None = None) -> dict[str, Any]:
    """Every tenant's workbook (``GET /api/workbooks``) and the folder's other workbooks.

    Returns:
        ``folder``, ``count``, ``workbooks`` (one entry per tenant, by name: see
        :func:`workbook_entry`) and ``unassigned`` (workbook files of the folder that no tenant
        has).
    """
    entries = [workbook_entry(folder, name, ledger) for name in sorted(folder.tenants)]
    claimed = {e["path"] for e in entries}
    others: list[str] = []
    if folder.directory is not None and folder.directory.is_dir():
        others = sorted(
            p.name
            for p in folder.directory.iterdir()
            if p.suffix.lower() in WORKBOOK_SUFFIXES
            and not p.name.startswith((".", "~$"))
            and str(p.resolve()) not in claimed
        )
    return {
        "folder": str(folder.directory) if folder.directory else None,
        "count": len(entries),
        "workbooks": entries,
        "unassigned": others,
    }


def workbook_entry(folder: Folder, tenant: str, ledger: Ledger | None = None) -> dict[str, Any]:
    """One tenant's workbook: present, readable, sheets and rows, findings, changed.

    Keys: ``tenant``, ``file``, ``path``, ``present``, ``readable``, ``size``, ``modified_at``,
    ``sheets`` (sheet → rows), ``resources`` (resource → objects mapped), ``findings``
    (count), ``counts`` (per severity), ``valid``, ``changed_since_last_sync`` (None: never
    synced or unknown), ``last_sync`` and ``message`` (why it is absent or unreadable).
    """
    entry: dict[str, Any] = {
        "tenant": tenant,
        "file": None,
        "path": None,
        "present": False,
        "readable": False,
        "size": None,
        "modified_at": None,
        "sheets": {},
        "resources": {},
        "findings": None,
        "counts": {},
        "valid": False,
        "changed_since_last_sync": None,
        "last_sync": None,
        "message": None,
    }
    try:
        path = folder.workbook_path(tenant)
    except ConfigError as exc:
        entry["message"] = exc.message
        return entry
    entry.update(file=path.name, path=str(path.resolve()))
    if not path.is_file():
        entry["message"] = f"{path.name} is not in the folder (initialise it, or add it)"
        return entry
    info = path.stat()
    entry.update(present=True, size=info.st_size, modified_at=_file_time(info.st_mtime))
    try:
        check = CHECKS.check(folder, path, tenant)
    except WorkbookError as exc:
        entry["message"] = exc.message
    else:
        entry.update(
            readable=True,
            sheets=check.sheets,
            resources={r: v["rows"] for r, v in check.resources.items()},
            findings=len(check.findings),
            counts=check.counts,
            valid=check.valid,
        )
    if ledger is not None:
        entry.update(sync_state(ledger, tenant, path))
    return entry


def initialise_workbook(folder: Folder, tenant: str, *, force: bool = False) -> dict[str, Any]:
    """Write a template workbook for a tenant (every sheet, its headers, no rows).

    Returns:
        ``tenant``, ``file``, ``replaced`` (an earlier file was overwritten) and ``sheets``
        (sheet → columns).

    Only files inside the folder are written: a workbook that ``inputs.workbooks`` places
    elsewhere, or a read-only one, is never replaced.

    Raises:
        ConfigError: unknown tenant or no folder.
        WorkbookError: the workbook exists and ``force`` is false, is read-only, or lies outside
            the folder (``exists=True``: the service answers 409).
    """
    path = folder.workbook_path(tenant)
    inside = folder.directory is not None and path.resolve().is_relative_to(
        folder.directory.resolve()
    )
    if not inside:  # a workbook named by inputs.workbooks may be anyone's file: never written
        raise WorkbookError(
            f"tenant {tenant}'s workbook {path.name} is named by inputs.workbooks, outside the "
            "workbook folder (inputs.xlsx_dir): only files in the folder are initialised",
            file=path.name,
            exists=True,
        )
    existed = path.exists()
    if existed and force and not path.stat().st_mode & stat.S_IWUSR:
        raise WorkbookError(f"{path.name} is read-only: it is not replaced", exists=True)
    columns = write_template(path, folder.profiles, force=force)
    return {"tenant": tenant, "file": path.name, "replaced": existed, "sheets": columns}


# --- what the ledger knows -----------------------------------------------------------------------


def fingerprint(path: str | Path) -> dict[str, Any]:
    """``sha256``, ``size`` and ``mtime`` (UTC ISO) of a file."""
    path = Path(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    info = path.stat()
    return {"sha256": digest.hexdigest(), "size": info.st_size, "mtime": _file_time(info.st_mtime)}


def record_workbook(ledger: Ledger, run_id: str, tenant: str, path: str | Path) -> dict[str, Any]:
    """Record the workbook a run reads, as it is now (call it when the run starts).

    Returns:
        The fingerprint recorded (:func:`fingerprint`).
    """
    seen = fingerprint(path)
    row = {"run_id": run_id, "tenant": tenant, "path": str(Path(path).resolve()), **seen}
    with ledger.begin() as conn:
        conn.execute(delete(t.workbook_seen).where(t.workbook_seen.c.run_id == run_id))
        conn.execute(insert(t.workbook_seen).values(**row, recorded_at=ledger.now()))
    return seen


def last_sync(ledger: Ledger, tenant: str) -> dict[str, Any] | None:
    """The tenant's newest ``apply`` or ``plan`` run (None: never synced)."""
    newest = None
    for kind in SYNC_KINDS:
        _, runs = ledger.history(tenant=tenant, kind=kind, limit=1)
        if runs and (newest is None or runs[0]["created_at"] > newest["created_at"]):
            newest = runs[0]
    return newest


def sync_state(ledger: Ledger, tenant: str, path: Path) -> dict[str, Any]:
    """``changed_since_last_sync`` and ``last_sync`` (id, kind, state, times, basis) of a file.

    The basis is ``sha256`` when the last run recorded its workbook (the hash is computed only
    when size or modification time differ), else ``mtime`` (modified after the run started).
    """
    try:
        run = last_sync(ledger, tenant)
    except LedgerError as exc:
        return {"changed_since_last_sync": None, "last_sync": {"error": exc.message}}
    if run is None:
        return {"changed_since_last_sync": None, "last_sync": None}
    with ledger.begin() as conn:
        seen = (
            conn.execute(select(t.workbook_seen).where(t.workbook_seen.c.run_id == run["id"]))
            .mappings()
            .first()
        )
    info = path.stat()
    if seen is not None:
        same = seen["size"] == info.st_size and seen["mtime"] == _file_time(info.st_mtime)
        changed = not same and fingerprint(path)["sha256"] != seen["sha256"]
        basis = "sha256"
    else:
        started = dt.datetime.fromisoformat(str(run.get("started_at") or run["created_at"]))
        changed = dt.datetime.fromtimestamp(info.st_mtime, dt.UTC) > started
        basis = "mtime"
    summary = {k: run.get(k) for k in ("id", "kind", "state", "trigger", "created_at")}
    return {"changed_since_last_sync": changed, "last_sync": {**summary, "basis": basis}}


def _file_time(seconds: float) -> str:
    return iso(dt.datetime.fromtimestamp(seconds, dt.UTC))

"""Offline workbook checks and template workbooks: what a plan finds before it asks Director.

:func:`check_workbook` runs the planner's steps that need no Director client, in the planner's
order: sheet names matched ignoring case and spaces, each resource's sheet mapped (required
columns, transforms, build hooks) and prechecked, the columns no profile reads, hidden sheets.
Every problem is one finding naming its sheet, row and column where it has them. Name lookups
(``must_exist``, ``resolve``) need Director's lists and are left to the plan.

:func:`template_columns` lists, from the profiles, every sheet a workbook needs and the columns
the profiles read from it; :func:`write_template` writes them as an empty workbook (headers
only), refusing to overwrite one unless told to.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from directorsync.errors import ProfileError, WorkbookError
from directorsync.hooks.registry import preprocess_rows
from directorsync.planner import choose_sheet, columns_read, desired_frame
from directorsync.prechecks import run_prechecks
from directorsync.profile.model import Profile, dependency_order
from directorsync.synth.sheets import COLUMNS as KNOWN_LAYOUT
from directorsync.synth.writers import write_xlsx
from directorsync.template_check import (
    hook_columns,
    resolve_sheet_names,
    unread_column_notes,
)
from directorsync.tenants import Tenant, tenant_named_by
from directorsync.transforms import Context
from directorsync.vocabulary import FINDING_COLUMNS, STATUS
from directorsync.workbook import Workbook

LOG = logging.getLogger("directorsync.workbook_check")
#: a planner note's level → the severity of the finding it becomes
NOTE_SEVERITY = {"error": "error", "warning": "warn", "info": "info"}
#: severities in the order a reader cares about them
SEVERITY_ORDER = ("error", "skip", "warn", "info")


class _Sheets(Mapping[str, pd.DataFrame]):
    """A workbook's sheets loaded on first use (what context-aware transforms and hooks read)."""

    def __init__(self, workbook: Workbook) -> None:
        self.workbook = workbook

    def __getitem__(self, name: str) -> pd.DataFrame:
        if not self.workbook.has_sheet(name):
            raise KeyError(name)
        return self.workbook.sheet(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.workbook.sheet_names)

    def __len__(self) -> int:
        return len(self.workbook.sheet_names)


@dataclass
class WorkbookCheck:
    """The offline checks of one workbook.

    Attributes:
        workbook: its file name.
        tenant: the tenant it was checked for (None: an upload without one).
        sheets: every sheet → its data rows.
        resources: each resource checked → ``sheet``, ``rows`` (objects mapped), and how many
            rows the prechecks let through (``ok``), skip and stop (``error``).
        findings: ``FINDING_COLUMNS`` dicts (``row``/``column`` None for a sheet-level finding).
        seconds: how long the checks took.
    """

    workbook: str
    tenant: str | None
    sheets: dict[str, int] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity (every severity present, zeros included)."""
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for finding in self.findings:
            counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
        return counts

    @property
    def valid(self) -> bool:
        """No finding of severity ``error`` (rows that would be skipped do not count)."""
        return not any(f["severity"] == "error" for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape (``POST /api/workbooks/validate``)."""
        return {
            "workbook": self.workbook,
            "tenant": self.tenant,
            "valid": self.valid,
            "counts": self.counts,
            "sheets": self.sheets,
            "resources": self.resources,
            "findings": self.findings,
            "seconds": self.seconds,
        }


def check_workbook(
    workbook: str | Path | Workbook,
    profiles: Mapping[str, Profile],
    *,
    tenant: Tenant | None = None,
    known_tenants: Mapping[str, Tenant] | None = None,
    resources: list[str] | None = None,
) -> WorkbookCheck:
    """Run the offline checks of a workbook (nothing is sent to Director).

    Args:
        workbook: the workbook (a path or an open :class:`Workbook`).
        profiles: every profile; ``resources`` narrows the ones checked.
        tenant: the tenant it is for (its nodes matter to some hooks), if known.
        known_tenants: every tenant: a file name naming another one is a warning.
        resources: check only these resources (a missing sheet is then an error).

    Raises:
        WorkbookError: the file cannot be read as a workbook at all.
        ProfileError: ``resources`` names an unknown resource.
    """
    started = time.perf_counter()
    wb = workbook if isinstance(workbook, Workbook) else Workbook(workbook)
    unknown = [r for r in resources or [] if r not in profiles]
    if unknown:
        raise ProfileError(
            f"unknown resource(s): {', '.join(unknown)} (known: {', '.join(sorted(profiles))})"
        )
    chosen = {r: profiles[r] for r in resources} if resources else dict(profiles)
    if wb.read_columns is None:  # formula cells matter only in the columns profiles read
        wb.read_columns, wb.whole_sheets = columns_read(chosen.values())
    names = wb.sheet_names  # an unreadable file stops here, with its message
    check = WorkbookCheck(wb.name, tenant.name if tenant else None)
    check.findings.extend(_tenant_findings(wb.name, tenant, known_tenants))
    if tenant is None:
        message = (
            f"{wb.name} is checked for no tenant: what depends on a tenant's nodes (the default "
            "repos of alert rules) is checked as for a tenant without any; name the tenant"
        )
        check.findings.append(_finding("*", None, "tenant", "info", message))
    resolved = resolve_sheet_names(wb.name, names, chosen)
    wb.alias_sheets(resolved.aliases)
    check.findings.extend(_note_finding(n, "sheet_name") for n in resolved.notes)
    ctx = Context(
        sheets=_Sheets(wb),
        tenant=tenant,
        options={"workbook": wb.name, "planned": list(chosen), "offline": True},
    )
    headers: dict[str, tuple[str, list[str]]] = {}
    for name in dependency_order(chosen):
        if name not in resolved.blocked:
            _check_resource(check, chosen[name], wb, ctx, headers, explicit=bool(resources))
    for note in unread_column_notes(wb.name, headers, list(profiles.values())):
        sheet = next((s for s in headers if f"› {s}: " in note["message"]), None)
        check.findings.append(_note_finding(note, "unread_columns", sheet=sheet))
    hidden = set(wb.hidden_sheets)
    for name, profile in chosen.items():
        for sheet in (s for s in profile.sheets if s in hidden):
            message = f"{wb.name}: sheet '{sheet}' is hidden in the workbook; it is read as usual"
            check.findings.append(_finding(name, sheet, "hidden_sheet", "info", message))
    for sheet in wb.sheet_names:
        check.sheets[sheet] = _rows_of(wb, sheet)
    if not check.resources and check.valid:
        expected = ", ".join(dict.fromkeys(s for p in chosen.values() for s in p.sheets))
        message = (
            f"{wb.name}: no sheet of a known resource (sheets: {', '.join(names) or 'none'}; "
            f"expected one of: {expected})"
        )
        check.findings.append(_finding("*", None, "sheets", "error", message))
    check.findings.sort(key=_finding_order(list(dependency_order(chosen))))
    check.seconds = round(time.perf_counter() - started, 3)
    return check


def _check_resource(
    check: WorkbookCheck,
    profile: Profile,
    wb: Workbook,
    ctx: Context,
    headers: dict[str, tuple[str, list[str]]],
    *,
    explicit: bool,
) -> None:
    profile = choose_sheet(profile, wb)
    try:
        frame = preprocess_rows(desired_frame(profile, wb, ctx), profile, ctx)
        frame, findings = run_prechecks(frame, profile, wb.name)
    except WorkbookError as exc:
        absent = bool(exc.context.get("absent"))
        severity = "info" if absent and not explicit else "error"
        hint = exc.context.get("hint") if severity == "error" else None
        check.findings.append(
            _finding(
                profile.name,
                exc.context.get("sheet") or profile.sheet,
                "sheet" if absent else "columns",
                severity,
                exc.message + (hint or ""),
                column=exc.context.get("column"),
            )
        )
        return
    except ProfileError as exc:  # a profile that cannot map or check: the plan stops on it too
        check.findings.append(_finding(profile.name, profile.sheet, "profile", "error", str(exc)))
        return
    except Exception as exc:  # noqa: BLE001 - one resource's failure is reported, the rest goes on
        LOG.exception("checking %s of %s", profile.name, wb.name)
        message = (
            f"{wb.name}: {profile.name} could not be checked ({exc.__class__.__name__}: {exc}); "
            "the log has the details"
        )
        check.findings.append(_finding(profile.name, profile.sheet, "internal", "error", message))
        return
    status = frame[STATUS].value_counts().to_dict() if len(frame) else {}
    check.resources[profile.name] = {
        "sheet": profile.sheet,
        "rows": len(frame),
        "ok": int(status.get("ok", 0)),
        "skip": int(status.get("skip", 0)),
        "error": int(status.get("error", 0)),
    }
    for record in findings[FINDING_COLUMNS].to_dict("records"):
        check.findings.append({str(k): _plain(v) for k, v in record.items()})
    for sheet in profile.sheets:
        if wb.has_sheet(sheet):
            headers.setdefault(sheet, (profile.name, list(wb.sheet(sheet).columns)))


def _rows_of(wb: Workbook, sheet: str) -> int:
    try:
        return len(wb.sheet(sheet))
    except WorkbookError:  # a sheet no profile reads may hold what the reader refuses
        return 0


def _tenant_findings(
    name: str, tenant: Tenant | None, known: Mapping[str, Tenant] | None
) -> list[dict[str, Any]]:
    if tenant is None or not known:
        return []
    other = tenant_named_by(name, known, tenant.name)
    if other is None:
        return []
    message = (
        f"{name} names tenant '{other}' but is checked for tenant '{tenant.name}' "
        "(apply refuses it without --force)"
    )
    return [_finding("*", None, "tenant", "warn", message)]


def _note_finding(
    note: Mapping[str, str], check: str, *, sheet: str | None = None
) -> dict[str, Any]:
    severity = NOTE_SEVERITY.get(note["level"], "info")
    return _finding(note["resource"], sheet, check, severity, note["message"])


def _finding(
    resource: str,
    sheet: str | None,
    check: str,
    severity: str,
    message: str,
    *,
    column: str | None = None,
) -> dict[str, Any]:
    values = (resource, sheet, None, column, check, severity, message, None)
    return dict(zip(FINDING_COLUMNS, values))


def _finding_order(resources: list[str]) -> Callable[[dict[str, Any]], tuple[int, str, int]]:
    rank = {r: i for i, r in enumerate(["*", *resources])}

    def key(finding: dict[str, Any]) -> tuple[int, str, int]:
        row = finding.get("row")
        return (rank.get(finding["resource"], len(rank)), str(finding.get("sheet")), row or 0)

    return key


def _plain(value: Any) -> Any:
    """A finding's cell as JSON has it (numpy numbers become Python's, NaN None)."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, float) and value != value:
        return None
    item = getattr(value, "item", None)
    return item() if callable(item) else value


# --- template workbooks -------------------------------------------------------------------------


def template_columns(profiles: Mapping[str, Profile]) -> dict[str, list[str]]:
    """Every sheet the profiles map and the columns they read from it, in dependency order.

    A sheet's columns: its profile's ``required_columns``, the ``col`` of every mapped field
    (nested ``zip``/``object`` included), the ``filter`` column, and what a
    build hook declares it reads (``COLUMNS_READ``). Columns the real tenant workbooks have come
    in their order there; aliases (other names of a column) are not headers of their own.
    """
    sheets: dict[str, list[str]] = {}
    for name in dependency_order(dict(profiles)):
        profile = profiles[name]
        xlsx = profile.xlsx
        main = profile.sheet
        if main:
            wanted = [*(xlsx.get("required_columns") or []), *_mapped_columns(xlsx.get("mapping"))]
            if isinstance(xlsx.get("filter"), dict) and xlsx["filter"].get("column"):
                wanted.append(xlsx["filter"]["column"])
            _add(sheets, main, wanted)
        for extra in profile.sheets[1:]:
            _add(sheets, extra, [])
        build = profile.hooks.get("build")
        for sheet, names in ((hook_columns(str(build)) if build else None) or {}).items():
            _add(sheets, sheet, list(names))
    return {sheet: _in_known_order(sheet, names) for sheet, names in sheets.items()}


def _add(sheets: dict[str, list[str]], sheet: str, names: list[str]) -> None:
    columns = sheets.setdefault(sheet, [])
    columns.extend(str(n) for n in names if str(n) not in columns)


def _mapped_columns(node: Any) -> list[str]:
    """The ``col`` values of a mapping, depth first, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("col"), str):
            found.append(node["col"])
        for key, value in node.items():
            if key != "col":
                found.extend(_mapped_columns(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_mapped_columns(item))
    return found


def _in_known_order(sheet: str, names: list[str]) -> list[str]:
    layout = KNOWN_LAYOUT.get(sheet, ())
    position = {name: i for i, name in enumerate(layout)}
    return sorted(names, key=lambda n: position.get(n, len(layout) + names.index(n)))


def write_template(
    path: str | Path, profiles: Mapping[str, Profile], *, force: bool = False
) -> dict[str, list[str]]:
    """Write an empty workbook with every sheet and its headers (:func:`template_columns`).

    The file is written beside its final name and moved there, so a reader never sees half a
    workbook.

    Returns:
        The sheets written and their columns.

    Raises:
        WorkbookError: the file exists and ``force`` is false (``exists=True`` in the context).
    """
    path = Path(path)
    if path.exists() and not force:
        raise WorkbookError(
            f"{path.name} already exists: it is not overwritten (pass force to replace it with "
            "an empty template)",
            file=path.name,
            exists=True,
        )
    columns = template_columns(profiles)
    frames = {sheet: pd.DataFrame(columns=names) for sheet, names in columns.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(handle)
    try:
        write_xlsx(frames, temporary, write_only=False)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return columns

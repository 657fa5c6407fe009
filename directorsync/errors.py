"""Errors raised by DirectorSync.

Every error the toolkit raises on purpose derives from :class:`DirectorSyncError`, so a caller
(the CLI, a notebook) can catch one root and show a message instead of a traceback::

    DirectorSyncError
    ├── ConfigError            settings file, environment, tenants file
    ├── ProfileError           a profile YAML that cannot be loaded or is invalid
    ├── WorkbookError          unreadable file, missing sheet, missing required column
    ├── PlanError              a saved plan that cannot be read or applied (hash, staleness)
    ├── LedgerError            the run ledger cannot be opened, or a run id is unknown
    │   └── TenantBusyError        another run holds the tenant's lease (exit 5)
    ├── NotApprovedError       apply was not confirmed: no terminal to ask, or "no" (exit 6)
    └── DirectorError          anything that came back from (or failed on the way to) Director
        ├── DirectorHTTPError      an HTTP status >= 400, with Director's message
        ├── AmbiguousWriteError    a write was sent but its outcome is unknown (timeout, drop)
        ├── TransportError         connection refused, DNS, TLS: nothing reached Director
        └── OrderError             an async order (monitorapi) failed or timed out

Errors carry structured context (``context``: tenant, resource, sheet, row, column, method,
path …) and their message says what went wrong, where, and how to fix it.
"""

from __future__ import annotations

from typing import Any


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, ``…`` when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


class DirectorSyncError(Exception):
    """Root of every error DirectorSync raises on purpose.

    Args:
        message: what went wrong, where, and how to fix it.
        **context: structured context (tenant, resource, sheet, row, column, path…).
    """

    exit_code = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        return self.message


class ConfigError(DirectorSyncError):
    """Settings, environment or tenants file are invalid."""

    exit_code = 2


class ProfileError(DirectorSyncError):
    """A profile cannot be loaded, merged or is invalid."""

    exit_code = 2


class WorkbookError(DirectorSyncError):
    """A workbook cannot be read, or lacks a sheet or a required column."""

    exit_code = 3


class PlanError(DirectorSyncError):
    """A saved plan or approval file cannot be used."""

    exit_code = 3


class LedgerError(DirectorSyncError):
    """The run ledger cannot be opened or used (URL, file, schema), or a run id is unknown."""

    exit_code = 2


class TenantBusyError(LedgerError):
    """Another run holds the tenant's lease (one writer per tenant)."""

    exit_code = 5


class NotApprovedError(DirectorSyncError):
    """``apply`` was not confirmed: no terminal to ask and no ``--auto-approve``, or "no"."""

    exit_code = 6


class DirectorError(DirectorSyncError):
    """Something failed talking to Director.

    Attributes:
        attempts: how many times apply sent the request before giving up (0 when not a write).
    """

    exit_code = 4
    attempts: int = 0


class TransportError(DirectorError):
    """The request never reached Director (connection refused, DNS, TLS)."""


class DirectorHTTPError(DirectorError):
    """Director answered with an HTTP status >= 400.

    Attributes:
        status: the HTTP status code.
        director_message: Director's own text (from the JSON body's ``message`` when present).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        path: str,
        director_message: str = "",
        **context: Any,
    ) -> None:
        super().__init__(message, status=status, method=method, path=path, **context)
        self.status = status
        self.method = method
        self.path = path
        self.director_message = director_message


class AmbiguousWriteError(DirectorError):
    """A write was sent but its outcome is unknown (read timeout, dropped connection).

    The caller must look the object up by natural key before sending the write again.
    """

    def __init__(self, message: str, *, method: str, path: str, **context: Any) -> None:
        super().__init__(message, method=method, path=path, **context)
        self.method = method
        self.path = path


class OrderError(DirectorError):
    """An async order failed (``response.success`` false / ``errors``) or did not finish in time."""

    def __init__(
        self,
        message: str,
        *,
        monitor_path: str,
        errors: list[str] | None = None,
        timed_out: bool = False,
        **context: Any,
    ) -> None:
        super().__init__(message, monitor_path=monitor_path, **context)
        self.monitor_path = monitor_path
        self.errors = list(errors or [])
        self.timed_out = timed_out


def may_pass(exc: BaseException | None) -> bool:
    """A read failure that can pass: no answer, an unknown outcome, HTTP 5xx or 429."""
    while exc is not None:
        if isinstance(exc, TransportError | AmbiguousWriteError):
            return True
        if isinstance(exc, DirectorHTTPError):
            return exc.status >= 500 or exc.status == 429
        exc = exc.__cause__
    return False

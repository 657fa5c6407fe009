"""Errors raised by DirectorSync.

Every error the toolkit raises on purpose derives from :class:`DirectorSyncError`, so a caller
(the CLI, a notebook) can catch one root and show a message instead of a traceback::

    DirectorSyncError
    ├── ConfigError            settings file, environment, tenants file
    ├── ProfileError           a profile YAML that cannot be loaded or is invalid
    ├── WorkbookError          unreadable file, missing sheet, missing required column
    ├── PlanError              a saved plan that cannot be read or applied (hash, staleness)
    ├── NotApprovedError       apply was not confirmed (no terminal to ask, or the answer was no)
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


class NotApprovedError(DirectorSyncError):
    """``apply`` was not confirmed: no terminal to ask and no ``--auto-approve``, or "no"."""

    exit_code = 5


class DirectorError(DirectorSyncError):
    """Something failed talking to Director."""

    exit_code = 4


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

"""Logging for a run: console, per-run action log, rotated application log.

:func:`setup_logging` attaches up to three handlers to the ``directorsync`` logger:

* console (stderr) at ``console_level`` (INFO by default);
* the run's action log (``reports/<tenant>/<run_id>/actions.log``, path given by the caller)
  at DEBUG;
* the application log, rotated daily at UTC midnight and kept 14 days, at DEBUG.

Every line has a UTC ISO-8601 timestamp (``2026-11-21T23:59:59.123Z``) and context fields
(``run_id``, ``tenant``, ``pool``, ``resource``, ``node``) and goes through
:class:`~directorsync.redact.RedactingFilter`. Context is set with :func:`log_context`, which
uses :mod:`contextvars`: each worker thread sets its own (threads started by an executor do
not inherit the caller's context; wrap the task with ``contextvars.copy_context().run`` or
call :func:`log_context` inside it).
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path
from types import MappingProxyType

from typing_extensions import override

from directorsync.redact import RedactingFilter, register_secret

__all__ = [
    "CONTEXT_FIELDS",
    "ContextFilter",
    "RunLogging",
    "UTCFormatter",
    "current_context",
    "log_context",
    "setup_logging",
]

LOGGER_NAME = "directorsync"
CONTEXT_FIELDS = ("run_id", "tenant", "pool", "resource", "node")
APP_LOG_NAME = "directorsync.log"
APP_LOG_KEEP_DAYS = 14
LINE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(context)s] %(message)s"
_MARK = "_directorsync_run_handler"

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "directorsync_log_context", default=MappingProxyType({})
)


@contextmanager
def log_context(**fields: object) -> Iterator[dict[str, str]]:
    """Add context fields (tenant, pool, resource, node …) to every log line in this block.

    Nested blocks add to (and may override) the outer fields; ``None`` values are ignored.
    The fields are local to the current thread / asyncio task.

    Yields:
        The context now in force.
    """
    merged = {**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    """The context fields in force (e.g. to pass on to a worker thread)."""
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Puts the context fields on each record, plus ``context`` (``"k=v k=v"``) for formats.

    Args:
        run_id: the run's id, used when the context does not set one.
    """

    def __init__(self, run_id: str = "") -> None:
        super().__init__()
        self.run_id = run_id

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        fields = {"run_id": self.run_id, **_context.get()}
        for name in CONTEXT_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, fields.get(name, ""))
        extra = {k: v for k, v in fields.items() if k not in CONTEXT_FIELDS}
        pairs = [(k, getattr(record, k)) for k in CONTEXT_FIELDS] + list(extra.items())
        record.context = " ".join(f"{k}={v}" for k, v in pairs if v)
        return True


class UTCFormatter(logging.Formatter):
    """Formats ``asctime`` as UTC ISO-8601 with milliseconds: ``2026-11-21T23:59:59.123Z``."""

    @override
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = datetime.fromtimestamp(record.created, UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@dataclass
class RunLogging:
    """The handlers :func:`setup_logging` attached; :meth:`close` removes them.

    Attributes:
        run_id: the run's id.
        logger: the ``directorsync`` logger.
        handlers: the attached handlers.
        action_log: path of the per-run action log, if any.
        app_log: path of the application log, if any.
    """

    run_id: str
    logger: logging.Logger
    handlers: list[logging.Handler] = field(default_factory=list)
    action_log: Path | None = None
    app_log: Path | None = None
    previous_level: int = logging.NOTSET

    def close(self) -> None:
        """Flush, close and detach the handlers; restore the logger's level."""
        for handler in self.handlers:
            self.logger.removeHandler(handler)
            handler.close()
        self.handlers.clear()
        self.logger.setLevel(self.previous_level)

    def __enter__(self) -> RunLogging:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def setup_logging(
    *,
    run_id: str,
    log_dir: Path | None = None,
    console_level: str | int | None = "INFO",
    app_log: Path | None = None,
    action_log: Path | None = None,
    secrets: Iterable[str] = (),
) -> RunLogging:
    """Attach the run's handlers to the ``directorsync`` logger.

    Calling it again first removes the handlers of the previous call, so handlers are never
    duplicated.

    Args:
        run_id: the run's id, on every line.
        log_dir: directory of the application log (``directorsync.log``) when ``app_log``
            is not given.
        console_level: console threshold; None for no console handler.
        app_log: path of the time-rotated application log (DEBUG).
        action_log: path of the per-run action log (DEBUG), e.g.
            ``reports/<tenant>/<run_id>/actions.log``.
        secrets: values to mask everywhere (the Director token); also registered process-wide.

    Returns:
        The attached handlers; call :meth:`RunLogging.close` at the end of the run.
    """
    logger = logging.getLogger(LOGGER_NAME)
    _remove_run_handlers(logger)
    secrets = tuple(secrets)
    for secret in secrets:
        register_secret(secret)
    if app_log is None and log_dir is not None:
        app_log = Path(log_dir) / APP_LOG_NAME
    run = RunLogging(run_id, logger, action_log=action_log, app_log=app_log)
    run.previous_level = logger.level
    if console_level is not None:
        console = logging.StreamHandler(sys.stderr)
        run.handlers.append(_prepare(console, console_level, run_id, secrets))
    if action_log is not None:
        handler: logging.Handler = logging.FileHandler(_parent_made(action_log), encoding="utf-8")
        run.handlers.append(_prepare(handler, logging.DEBUG, run_id, secrets))
    if app_log is not None:
        rotating = TimedRotatingFileHandler(
            _parent_made(app_log),
            when="midnight",
            backupCount=APP_LOG_KEEP_DAYS,
            encoding="utf-8",
            utc=True,
        )
        run.handlers.append(_prepare(rotating, logging.DEBUG, run_id, secrets))
    for handler in run.handlers:
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return run


def _prepare(
    handler: logging.Handler, level: str | int, run_id: str, secrets: tuple[str, ...]
) -> logging.Handler:
    handler.setLevel(level.upper() if isinstance(level, str) else level)
    handler.addFilter(ContextFilter(run_id))
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(UTCFormatter(LINE_FORMAT))
    setattr(handler, _MARK, True)
    return handler


def _parent_made(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _remove_run_handlers(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        if getattr(handler, _MARK, False):
            logger.removeHandler(handler)
            handler.close()

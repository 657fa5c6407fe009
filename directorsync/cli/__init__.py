"""The ``directorsync`` command line.

Commands are loaded lazily (``module:attribute``) so that ``directorsync --help`` stays fast and a
command's heavy imports (pandas, papermill, dask) are only paid when it runs. Every expected
failure (a :class:`~directorsync.errors.DirectorSyncError`) is printed as one clear message and
exits with the error's ``exit_code``: no traceback.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TextIO

import click
from typing_extensions import override

from directorsync.errors import DirectorSyncError
from directorsync.redact import redact_text

#: command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "demo": "directorsync.cli.demo_command:demo_command",
    "plan": "directorsync.cli.sync_commands:plan_command",
    "apply": "directorsync.cli.sync_commands:apply_command",
    "export": "directorsync.cli.export_command:export_command",
    "lint": "directorsync.cli.profile_commands:lint_command",
    "drift": "directorsync.cli.drift_command:drift_command",
    "history": "directorsync.cli.ledger_commands:history_command",
    "status": "directorsync.cli.ledger_commands:status_command",
    "cancel": "directorsync.cli.ledger_commands:cancel_command",
    "rollback": "directorsync.cli.rollback_command:rollback_command",
    "run": "directorsync.notebook.batch:run_command",
    "serve": "directorsync.cli.service_command:serve_command",
    "simulator": "directorsync.cli.simulator_command:simulator_command",
    "make-workbook": "directorsync.cli.workbook_command:make_workbook_command",
    "import-repos": "directorsync.cli.legacy_commands:import_repos",
    "import-normalization-policies": "directorsync.cli.legacy_commands:import_normalization_policies",
    "import-enrichment-policies": "directorsync.cli.legacy_commands:import_enrichment_policies",
    "import-routing-policies": "directorsync.cli.legacy_commands:import_routing_policies",
    "import-processing-policies": "directorsync.cli.legacy_commands:import_processing_policies",
    "import-device-groups": "directorsync.cli.legacy_commands:import_device_groups",
    "import-devices": "directorsync.cli.legacy_commands:import_devices",
    "import-syslog-collectors": "directorsync.cli.legacy_commands:import_syslog_collectors",
    "import-alert-rules": "directorsync.cli.legacy_commands:import_alert_rules",
    "import-user-lists": "directorsync.cli.legacy_commands:import_user_lists",
}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    @override
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    @override
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="directorsync")
def cli() -> None:
    """DirectorSync: keep Logpoint Director in line with tenant workbooks.

    Plan a workbook against Director, review the diff, apply it safely and report on it.
    `directorsync demo` runs the whole flow against the embedded Director simulator.
    """


PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _in_package(filename: str) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(PACKAGE_DIR)
    except (OSError, ValueError):
        return False


def _warned_here() -> bool:
    """Whether the code that called ``warnings.warn`` is in the ``directorsync`` package.

    The ``filename`` a warning carries is its ``stacklevel`` frame, which may be a caller
    outside the package (click, for a setting read in a command callback); so the stack is
    read: the first frame outside this module and :mod:`warnings` is the one that warned.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename in (__file__, warnings.__file__):
        frame = frame.f_back
    return frame is not None and _in_package(frame.f_code.co_filename)


def _ours(category: type[Warning], filename: str) -> bool:
    """A UserWarning raised by DirectorSync (an unknown setting …), not by a library."""
    if not issubclass(category, UserWarning):
        return False
    return _in_package(filename) or _warned_here()


def warning_printer(default: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints DirectorSync's warnings as one line.

    Args:
        default: the ``showwarning`` used for every other warning.

    Returns:
        The function: ``warning: <message>`` in yellow on stderr for a ``UserWarning`` raised
        from the ``directorsync`` package (no file name, no source line); ``default`` otherwise.
    """

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if not _ours(category, filename):
            default(message, category, filename, lineno, file, line)
            return
        click.secho(f"warning: {redact_text(str(message))}", fg="yellow", err=True)

    return show


@contextmanager
def _short_warnings() -> Iterator[None]:
    """Install :func:`warning_printer` for the duration of a command."""
    previous = warnings.showwarning
    warnings.showwarning = warning_printer(previous)
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the CLI and turn expected errors into messages and exit codes."""
    try:
        with _short_warnings():
            rv = cli.main(args=argv, prog_name="directorsync", standalone_mode=False)
    except DirectorSyncError as exc:
        click.secho(f"error: {redact_text(exc.message)}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    # Commands return their exit code (click returns it as-is in non-standalone mode).
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()

"""The CLI reference (``docs/cli.md``) rendered from the click commands themselves."""

from __future__ import annotations

import click

from directorsync.cli import COMMANDS, cli


def command_help(name: str) -> str:
    """The ``--help`` text of one command, as a user sees it."""
    command = cli.get_command(click.Context(cli), name)
    assert command is not None, f"unknown command {name!r}"
    ctx = click.Context(
        command, info_name=f"directorsync {name}", terminal_width=100, max_content_width=100
    )
    return command.get_help(ctx)


def cli_markdown() -> str:
    """Every command with its help text, in a stable order."""
    parts = []
    for name in sorted(COMMANDS):
        parts.append(f"### `directorsync {name}`\n\n```text\n{command_help(name).rstrip()}\n```\n")
    return "\n".join(parts)

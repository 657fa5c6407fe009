"""The ``lint`` command: check profile files with stable ``DS-LINT`` codes."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("lint")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--strict", is_flag=True, help="Treat style findings as errors.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def lint_command(paths: tuple[Path, ...], strict: bool, fmt: str) -> int:
    """Check profile files (default: the built-in profiles) with stable DS-LINT codes."""
    from directorsync.profile.lint import findings_json, lint_paths

    findings = lint_paths(list(paths) or None, strict=strict)
    if fmt == "json":
        click.echo(findings_json(findings))
    else:
        for f in findings:
            click.echo(f.text())
        errors = sum(f.severity == "error" for f in findings)
        click.echo(f"{len(findings)} finding(s), {errors} error(s)", err=True)
    return 1 if any(f.severity == "error" for f in findings) else 0

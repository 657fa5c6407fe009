"""Docs that cannot drift: CLI reference, module list, transform list are checked against code."""

from pathlib import Path

import pytest

from directorsync.cli import COMMANDS
from directorsync.cli.docgen import command_help

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_documented_with_its_help(name):
    doc = (ROOT / "docs" / "cli.md").read_text()
    assert f"### `directorsync {name}`" in doc
    assert command_help(name).rstrip() in doc, "run `python scripts/gen_docs.py`"


def test_architecture_lists_every_module_and_only_those():
    """One line per module of the package, subpackages included.

    And no line for a module that is gone.
    """
    import re

    doc = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "directorsync"
    modules = {p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    listed = set(re.findall(r"^\| `([\w/]+\.py)` \|", doc, flags=re.M))
    assert modules - listed == set(), "docs/architecture.md misses these modules"
    assert listed - modules == set(), "docs/architecture.md lists modules that do not exist"


def test_changelog_has_unreleased_section():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text


def test_lint_codes_are_documented():
    from directorsync.profile.lint import codes_markdown

    doc = (ROOT / "docs" / "profiles.md").read_text()
    assert codes_markdown() in doc, "run `python scripts/gen_docs.py`"
    assert codes_markdown().count("DS-LINT-") >= 14

"""The package type-checks (mypy finds no error) and its docstrings follow one convention."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mypy_finds_no_error(tmp_path: Path) -> None:
    # a fresh cache outside the checkout: nothing is written into the repository
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    report = "\n".join([*errors, proc.stdout.splitlines()[-1] if proc.stdout else "", proc.stderr])
    assert proc.returncode == 0 and not errors, (
        f"mypy found {len(errors)} error(s) (run `mypy` at the repository root):\n{report}"
    )
    assert "Success: no issues found" in proc.stdout


def test_docstrings_follow_the_convention() -> None:
    # ruff's D rules, Google convention (pyproject.toml); D105/D107 are ignored there as well:
    # magic methods and __init__ are documented in their class docstring
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "D"]
        + ["--ignore", "D105,D107", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (
        f"docstrings off the convention (run `ruff check --select D .`):\n{proc.stdout}"
        f"{proc.stderr}"
    )

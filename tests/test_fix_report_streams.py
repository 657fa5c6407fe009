"""Output streams of `apply` (tables on stdout, progress on stderr) and one-line warnings."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest
from conftest import TOKEN

from directorsync import cli


@pytest.fixture
def env(tenants_file, tmp_path):
    from directorsync.simulator import Simulator

    with Simulator(seed=tenants_file, token=TOKEN) as sim:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DSYNC_", "LP_"))}
        yield {
            **base,
            "DSYNC_DIRECTOR__BASE_URL": sim.base_url,
            "DSYNC_DIRECTOR__TOKEN": TOKEN,
            "DSYNC_APP__REPORTS_DIR": str(tmp_path / "reports"),
            "DSYNC_LOGGING__APP_LOG": str(tmp_path / "app.log"),
        }


def run(env, cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "directorsync", *args],
        capture_output=True, text=True, timeout=120, env=env, cwd=cwd, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("dry_run", [False, True])
def test_apply_writes_tables_to_stdout_and_progress_to_stderr(env, samples, tmp_path, dry_run):
    args = ["apply", "--tenant", "esait", "--tenants-file", str(samples / "tenants.yml"),
            "--xlsx", str(samples / "esait_config.xlsx"), "--resources", "repos"]  # fmt: skip
    done = run(env, tmp_path, *args, "--dry-run" if dry_run else "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert "Plan for esait" in done.stdout and "esait · run" in done.stdout
    assert "reports:" in done.stdout and "report.html" in done.stdout
    assert "… planning repos" in done.stderr
    assert "Plan for esait" not in done.stderr and "… planning" not in done.stdout
    if dry_run:
        assert "nothing was written." in done.stdout


def test_unknown_setting_is_one_yellow_warning_line(env, samples, tmp_path):
    config = tmp_path / "bad.yml"
    config.write_text("director:\n  bogus: 1\nnope: 2\n")
    args = ["plan", "--config", str(config), "--tenant", "esait", "--tenants-file",
            str(samples / "tenants.yml"), "--xlsx", str(samples / "esait_config.xlsx"),
            "--resources", "repos"]  # fmt: skip
    done = run(env, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "unknown setting" in line]
    assert lines == [
        f"warning: unknown setting 'director.bogus' (from {config})",
        f"warning: unknown setting 'nope' (from {config})",
    ]
    assert "UserWarning" not in done.stderr and "warnings.warn" not in done.stderr


def test_warning_printer_shortens_only_directorsync_warnings(capsys):
    seen = []
    show = cli.warning_printer(lambda *a: seen.append(a[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        warnings.warn("from a test, not from directorsync", UserWarning, stacklevel=1)
        warnings.warn("deprecated", DeprecationWarning, stacklevel=1)
        from directorsync.config import load_settings

        # raised in directorsync even though its stacklevel points at this file
        load_settings(env={}, overrides={"app.bogus": 1})
    assert [str(m) for m in seen] == ["from a test, not from directorsync", "deprecated"]
    assert capsys.readouterr().err == "warning: unknown setting 'app.bogus' (from environment)\n"


def test_main_prints_directorsync_warnings_in_one_line(tmp_path, monkeypatch, capsys):
    config = tmp_path / "c.yml"
    config.write_text("app:\n  bogus: 1\n")
    monkeypatch.chdir(tmp_path)
    before = warnings.showwarning
    with warnings.catch_warnings(), pytest.raises(SystemExit):
        warnings.simplefilter("always")
        cli.main(["run", "--config", str(config), "--all", "--simulator"])  # fails: no tenants
    assert warnings.showwarning is before, "restored after the command"
    err = capsys.readouterr().err
    assert f"warning: unknown setting 'app.bogus' (from {config})\n" in err
    assert "UserWarning" not in err

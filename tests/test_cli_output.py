"""Output streams of `apply` (tables on stdout, progress on stderr) and one-line warnings."""

from __future__ import annotations

import warnings

import pytest
from conftest import DATA, run_cli

from directorsync import cli


@pytest.mark.parametrize("dry_run", [False, True])
def test_apply_writes_tables_to_stdout_and_progress_to_stderr(
    simulator_env, samples, tmp_path, dry_run
):
    args = ["apply", "--tenant", "esait", "--tenants-file", str(samples / "tenants.yml"),
            "--xlsx", str(samples / "esait_config.xlsx"), "--resources", "repos"]  # fmt: skip
    done = run_cli(
        *args, "--dry-run" if dry_run else "--auto-approve", env=simulator_env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "Plan for esait" in done.stdout and "esait · run" in done.stdout
    assert "\nWrote reports/esait/" in done.stdout and "report.html" in done.stdout
    last = done.stdout.rstrip().splitlines()[-1]
    assert last.startswith("Dry run complete:" if dry_run else "Apply complete: 4 created,")
    assert last.endswith("/report.html") and " Report: reports/esait/" in last
    assert "… planning repos" in done.stderr
    assert "Plan for esait" not in done.stderr and "… planning" not in done.stdout
    if dry_run:
        assert "nothing was written." in done.stdout


def test_unknown_setting_is_one_yellow_warning_line(simulator_env, samples, tmp_path):
    config = DATA / "settings" / "unknown_keys.yml"
    args = ["plan", "--config", str(config), "--tenant", "esait", "--tenants-file",
            str(samples / "tenants.yml"), "--xlsx", str(samples / "esait_config.xlsx"),
            "--resources", "repos"]  # fmt: skip
    done = run_cli(*args, env=simulator_env, cwd=tmp_path)
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
    assert capsys.readouterr().err == (
        "warning: unknown setting 'app.bogus' (from the options given)\n"
    )


def test_main_prints_directorsync_warnings_in_one_line(tmp_path, monkeypatch, capsys):
    config = DATA / "settings" / "unknown_app_key.yml"
    monkeypatch.chdir(tmp_path)
    before = warnings.showwarning
    with warnings.catch_warnings(), pytest.raises(SystemExit):
        warnings.simplefilter("always")
        cli.main(["run", "--config", str(config), "--all", "--simulator"])  # fails: no tenants
    assert warnings.showwarning is before, "restored after the command"
    err = capsys.readouterr().err
    assert f"warning: unknown setting 'app.bogus' (from {config})\n" in err
    assert "UserWarning" not in err


def test_plan_then_apply_plan_ends_with_verdicts_and_lists_every_file(
    simulator_env, samples, tmp_path
):
    args = ["--tenant", "esait", "--tenants-file", str(samples / "tenants.yml"),
            "--xlsx", str(samples / "esait_config.xlsx"), "--resources", "repos"]  # fmt: skip
    planned = run_cli("plan", *args, "--out", "saved/plan.json", env=simulator_env, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines()[0].startswith("plan saved to saved/plan.json (sha256:")
    assert planned.stdout.splitlines()[-1] == "Plan: 4 to create, 0 to update, 0 skipped, 0 errors."
    applied = run_cli("apply", "--plan", "saved/plan.json", env=simulator_env, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    assert "Plan for" not in applied.stdout and "Plan:" not in applied.stdout  # not reprinted
    *_, files, verdict = applied.stdout.rstrip().splitlines()
    folder = files.split()[1]
    assert files == f"Wrote {folder} plan.json, actions.log, result.json, report.html"
    assert sorted(p.name for p in (tmp_path / folder.rstrip(":")).iterdir()) == sorted(
        ["plan.json", "actions.log", "result.json", "report.html"]
    )
    assert verdict.startswith("Apply complete: 4 created, 0 updated, 0 skipped, 0 failed in ")
    assert verdict.endswith(f" s. Report: {folder.rstrip(':')}report.html")

"""`plan --detailed-exitcode` is a CI drift gate: 0 no change, 2 changes pending, 1 any error."""

import subprocess
import sys

import pandas as pd
import pytest
from conftest import TOKEN, core_args


@pytest.fixture
def env(tenants_file):
    import os

    from directorsync.simulator import Simulator

    with Simulator(seed=tenants_file, token=TOKEN) as sim:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DSYNC_", "LP_"))}
        yield {**base, "DSYNC_DIRECTOR__BASE_URL": sim.base_url, "DSYNC_DIRECTOR__TOKEN": TOKEN}


def plan(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "directorsync", "plan", "--detailed-exitcode", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    ).returncode


@pytest.mark.parametrize(
    "bad",
    [
        ["--tenant", "cor"],  # unknown tenant (a config error is 2 without the flag)
        ["--tenant", "core", "--resources", "repo"],  # unknown resource
    ],
)
def test_errors_exit_1_not_2(env, samples, tenants_file, bad):
    args = ["--tenants-file", str(tenants_file), "--xlsx", str(samples / "core_config.xlsx")]
    assert plan(env, *args, *bad) == 1


def test_missing_tenants_file_exits_1(env, samples, tmp_path):
    assert (
        plan(
            env,
            "--tenant",
            "core",
            "--tenants-file",
            str(tmp_path / "none.yml"),
            "--xlsx",
            str(samples / "core_config.xlsx"),
        )
        == 1
    )


def test_requested_resource_without_its_sheet_is_an_error(env, samples, tenants_file, tmp_path):
    book = tmp_path / "no_repo.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as w:
        pd.DataFrame({"a": [1]}).to_excel(w, sheet_name="Other", index=False)
    common = core_args(tenants_file, book)
    assert plan(env, *common, "--resources", "repos") == 1
    assert plan(env, *common) == 1  # no sheet of any known resource


def test_changes_pending_then_none(env, samples, tenants_file, tmp_path):
    args = core_args(tenants_file, samples / "core_config.xlsx", "repos")
    assert plan(env, *args) == 2
    apply = subprocess.run(
        [sys.executable, "-m", "directorsync", "apply", *args, "--auto-approve"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert apply.returncode == 0, apply.stderr
    assert plan(env, *args) == 0

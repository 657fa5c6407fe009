"""`plan --detailed-exitcode` is a CI drift gate: 0 no change, 2 changes pending, 1 any error."""

import pandas as pd
import pytest
from conftest import core_args, run_cli


def plan(env, *args):
    return run_cli("plan", "--detailed-exitcode", *args, env=env).returncode


@pytest.mark.parametrize(
    "bad",
    [
        ["--tenant", "cor"],  # unknown tenant (a config error is 2 without the flag)
        ["--tenant", "core", "--resources", "repo"],  # unknown resource
    ],
)
def test_errors_exit_1_not_2(simulator_env, samples, tenants_file, bad):
    args = ["--tenants-file", str(tenants_file), "--xlsx", str(samples / "core_config.xlsx")]
    assert plan(simulator_env, *args, *bad) == 1


def test_missing_tenants_file_exits_1(simulator_env, samples, tmp_path):
    assert (
        plan(
            simulator_env,
            "--tenant",
            "core",
            "--tenants-file",
            str(tmp_path / "none.yml"),
            "--xlsx",
            str(samples / "core_config.xlsx"),
        )
        == 1
    )


def test_requested_resource_without_its_sheet_is_an_error(
    simulator_env, samples, tenants_file, tmp_path
):
    book = tmp_path / "no_repo.xlsx"
    with pd.ExcelWriter(book, engine="openpyxl") as w:
        pd.DataFrame({"a": [1]}).to_excel(w, sheet_name="Other", index=False)
    common = core_args(tenants_file, book)
    assert plan(simulator_env, *common, "--resources", "repos") == 1
    assert plan(simulator_env, *common) == 1  # no sheet of any known resource


def test_changes_pending_then_none(simulator_env, samples, tenants_file, tmp_path):
    args = core_args(tenants_file, samples / "core_config.xlsx", "repos")
    assert plan(simulator_env, *args) == 2
    apply = run_cli("apply", *args, "--auto-approve", env=simulator_env, cwd=tmp_path)
    assert apply.returncode == 0, apply.stderr
    assert plan(simulator_env, *args) == 0

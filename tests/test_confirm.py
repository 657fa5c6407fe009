"""Confirm before apply.

Refused without a terminal, skipped with --auto-approve, asked on a real pseudo-terminal (the
CLI in a subprocess) and the answer honoured.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import TOKEN, core_args
from test_apply import use_simulator, writes

from directorsync.cli import cli
from directorsync.cli.confirm import confirm_apply, summary_lines
from directorsync.errors import NotApprovedError
from directorsync.plan import Plan
from directorsync.simulator import Simulator
from directorsync.vocabulary import PLAN_COLUMNS

QUESTION = "Apply 12 changes to tenant core? [y/N]"


@pytest.fixture
def sim(tenants_file):
    with Simulator(seed=tenants_file, token=TOKEN) as simulator:
        yield simulator


@pytest.fixture
def env(sim, tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DSYNC_", "LP_"))}
    return {
        **base,
        "DSYNC_DIRECTOR__BASE_URL": sim.base_url,
        "DSYNC_DIRECTOR__TOKEN": TOKEN,
        "DSYNC_APP__REPORTS_DIR": str(tmp_path / "reports"),
        "DSYNC_LOGGING__APP_LOG": str(tmp_path / "app.log"),
    }


def _apply_args(samples: Path, tenants_file: Path) -> list[str]:
    return ["apply", *core_args(tenants_file, samples / "core_config.xlsx", "repos")]


def _on_a_terminal(args: list[str], env: dict, cwd: Path, answer: bytes):
    """Run the CLI with a pseudo-terminal as standard input and type ``answer``."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "directorsync", *args],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        os.close(slave)
        slave = -1
        os.write(master, answer)  # kept by the terminal until the CLI reads its answer
        out, err = proc.communicate(timeout=120)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    return proc.returncode, out.decode(), err.decode()


def test_without_a_terminal_apply_refuses_in_one_line(sim, env, samples, tenants_file, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "directorsync", *_apply_args(samples, tenants_file)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 6
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: apply asks before writing")
    assert "--auto-approve" in lines[0] and "Traceback" not in done.stderr
    assert sim.requests() == []  # refused before planning: Director was not even listed


def test_auto_approve_applies_without_asking(sim, samples, tenants_file, tmp_path, monkeypatch):
    use_simulator(monkeypatch, sim, tmp_path)
    res = CliRunner().invoke(
        cli,
        [*_apply_args(samples, tenants_file), "--auto-approve"],
        standalone_mode=False,
        catch_exceptions=False,
    )
    assert res.return_value == 0, res.output
    assert "[y/N]" not in res.output
    assert len(writes(sim)) == 12


def test_on_a_terminal_apply_asks_and_honours_the_answer(sim, env, samples, tenants_file, tmp_path):
    args = _apply_args(samples, tenants_file)
    code, out, err = _on_a_terminal(args, env, tmp_path, b"n\n")
    assert code == 6, err
    assert "Changes to apply to tenant core:" in err and "repos  create 12" in err
    assert QUESTION in err and "apply cancelled: nothing was written" in err
    assert "Plan for core" in out  # the plan was shown before the question
    assert writes(sim) == []
    [saved] = (tmp_path / "reports" / "core").glob("*/plan.json")
    assert not list(saved.parent.glob("result.json"))

    code, out, err = _on_a_terminal(args, env, tmp_path, b"y\n")
    assert code == 0, err
    assert QUESTION in err
    assert len(writes(sim)) == 12
    results = list((tmp_path / "reports" / "core").glob("*/result.json"))
    assert [json.loads(p.read_text())["summary"]["by_status"] for p in results] == [{"CREATED": 12}]


def test_a_saved_plan_applies_without_a_question(sim, samples, tenants_file, tmp_path, monkeypatch):
    use_simulator(monkeypatch, sim, tmp_path)
    runner, out = CliRunner(), tmp_path / "plan.json"
    args = core_args(tenants_file, samples / "core_config.xlsx", "repos")
    runner.invoke(cli, ["plan", *args, "--out", str(out)], standalone_mode=False)
    res = runner.invoke(
        cli, ["apply", "--plan", str(out)], standalone_mode=False, catch_exceptions=False
    )
    assert res.return_value == 0 and "[y/N]" not in res.output
    assert len(writes(sim)) == 12


def _plan(actions: list[tuple[str, str, str]]) -> Plan:
    rows = pd.DataFrame(
        [
            {"resource": r, "node_id": "n1", "node_name": "be01", "key": k, "action": a}
            for r, k, a in actions
        ],
        columns=PLAN_COLUMNS,
    )
    return Plan("core", "pool", "book.xlsx", ["repos", "devices"], rows, pd.DataFrame())


def test_the_summary_counts_per_resource_and_action_and_names_the_deletes():
    plan = _plan(
        [
            ("devices", "fw1", "delete"),
            ("devices", "fw2", "update"),
            ("devices", "fw3", "unchanged"),
            ("repos", "r1", "create"),
            ("repos", "r2", "create"),
            ("repos", "r3", "error"),
        ]
    )
    assert summary_lines(plan) == [
        "Changes to apply to tenant core:",
        "  devices  delete 1  update 1",
        "  repos    create 2",
        "  delete devices 'fw1' on be01",
    ]
    err = io.StringIO()
    with pytest.raises(NotApprovedError) as info:  # end of input is not a yes
        confirm_apply(plan, Path("p.json"), stdin=io.StringIO(""), stderr=err)
    assert info.value.exit_code == 6 and "apply --plan p.json" in info.value.message
    assert "Apply 4 changes to tenant core? [y/N] " in err.getvalue()
    confirm_apply(plan, Path("p.json"), stdin=io.StringIO("Yes\n"), stderr=io.StringIO())
    quiet = io.StringIO()  # nothing to write: nothing to ask
    confirm_apply(_plan([("repos", "r1", "unchanged")]), Path("p.json"), stdin=None, stderr=quiet)
    assert quiet.getvalue() == ""

"""`directorsync demo` end to end: plan → apply → re-plan converges, reports written."""

import json

from click.testing import CliRunner
from rich.console import Console

from directorsync.cli import cli
from directorsync.demo import run_demo


def test_demo_converges_and_writes_reports(tmp_path):
    outcome = run_demo(tmp_path, Console(file=open(tmp_path / "out.txt", "w"), width=120))
    second = outcome["second_plan"].counts()
    assert second["create"] == second["update"] == 0
    assert second["unchanged"] > 0
    folder = outcome["folder"]
    for name in ("report.html", "result.json", "plan.json", "actions.log"):
        assert (folder / name).is_file(), name
    result = json.loads((folder / "result.json").read_text())
    assert result["summary"]["by_status"].get("EXCEPTION", 0) == 0
    skipped = [r for r in result["rows"] if r["status"] == "SKIP"]
    assert skipped and all(r["reason"] for r in skipped), "each deliberate bad row says why"


def test_demo_command_exit_code(tmp_path):
    res = CliRunner().invoke(cli, ["demo", "--reports-dir", str(tmp_path)], standalone_mode=False)
    assert res.exception is None, res.output
    assert res.return_value == 0
    assert "nothing left to change" in " ".join(res.output.split())

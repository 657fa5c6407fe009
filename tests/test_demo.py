"""`directorsync demo` end to end: plan → apply → re-plan converges, reports written."""

import json
from types import SimpleNamespace

from click.testing import CliRunner
from rich.console import Console

from directorsync.cli import cli
from directorsync.cli.demo_command import check_bad_rows, demo_ok, run_demo, unexpected_failures
from directorsync.synth import DEMO_BAD_ROWS


def test_demo_converges_and_writes_reports(tmp_path):
    with open(tmp_path / "out.txt", "w") as fh:
        outcome = run_demo(tmp_path, Console(file=fh, width=250), status=Console(file=fh))
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
    assert len(outcome["bad_rows"]) == len(DEMO_BAD_ROWS)
    assert all(b["caught"] for b in outcome["bad_rows"]), outcome["bad_rows"]
    assert outcome["unexpected"] == [] and outcome["ok"]
    text = (tmp_path / "out.txt").read_text()
    for bad in DEMO_BAD_ROWS:
        assert f"│ {bad['sheet']}" in text and bad["problem"] in text, bad


def test_demo_command_explains_its_deliberate_failure(tmp_path):
    res = CliRunner().invoke(cli, ["demo", "--reports-dir", str(tmp_path)], standalone_mode=False)
    assert res.exception is None, res.output
    assert res.return_value == 0
    out = " ".join(res.stdout.split())
    assert "nothing left to change" in out
    assert "1 row failed." in out  # the bad alert rule: an ERROR row …
    assert f"All {len(DEMO_BAD_ROWS)} deliberately bad rows were caught." in out
    assert "1 row failed above: it is deliberately bad (expected)." in out
    assert "deliberately bad rows" in out and "✓ SKIP:" in out and "✓ ERROR:" in out
    assert "demo OK" in out
    # progress goes to stderr, the tables and the summary to stdout
    assert "… planning" in res.stderr and "… planning" not in res.stdout
    assert "2. apply" in res.stdout and "2. apply" not in res.stderr


BAD = [
    {"sheet": "Repo", "excel_row": 6, "problem": "bad retention"},
    {"sheet": "Alert", "excel_row": 5, "problem": "no name"},
    {"sheet": "Device", "excel_row": 6, "problem": "unknown group"},
]


def row(sheet, excel_row, status, reason=None, error=None, key="k"):
    return {"resource": sheet.lower(), "key": key, "sheet": sheet, "excel_rows": [excel_row],
            "status": status, "reason": reason, "error": error}  # fmt: skip


def result(*rows, findings=(), notes=()):
    return {"rows": list(rows), "findings": list(findings), "notes": list(notes)}


def test_bad_rows_are_caught_by_a_skip_an_error_or_a_finding():
    finding = {"sheet": "Device", "row": 6, "severity": "warn", "message": "unknown group 'x'"}
    res = result(
        row("Repo", 6, "SKIP", reason="not a number"),
        row("Alert", 5, "ERROR", reason="name is empty", error="name is empty"),
        row("Device", 6, "CREATED"),
        findings=[finding],
    )
    checks = check_bad_rows(res, BAD)
    assert [c["caught"] for c in checks] == [True, True, True]
    assert checks[0]["how"] == "SKIP: not a number"
    assert checks[1]["how"] == "ERROR: name is empty"
    assert checks[2]["how"] == "warning: unknown group 'x'; row CREATED"
    assert unexpected_failures(res, BAD) == []


def test_a_bad_row_written_without_a_word_is_not_caught():
    checks = check_bad_rows(result(row("Repo", 6, "CREATED")), BAD[:1])
    assert checks == [{**BAD[0], "caught": False, "how": "not caught: CREATED"}]
    assert check_bad_rows(result(), BAD[:1])[0]["how"] == "not caught: no row in the result"


def test_other_failures_are_unexpected():
    res = result(
        row("Alert", 5, "ERROR", error="name is empty"),
        row("Repo", 7, "ERROR", error="Director says no", key="R7"),
        row("Repo", 8, "EXCEPTION", error="boom", key="R8"),
        notes=[{"resource": "devices", "level": "error", "message": "inventory failed"},
               {"resource": "repos", "level": "warning", "message": "draft"}],
    )  # fmt: skip
    unexpected = unexpected_failures(res, BAD)
    assert [u.get("key") for u in unexpected] == ["R7", "R8", None]
    assert unexpected[2] == {
        "resource": "devices",
        "status": "plan error",
        "error": "inventory failed",
    }


def test_demo_verdict():
    def plan(create=0, update=0):
        return SimpleNamespace(counts=lambda: {"create": create, "update": update})

    ok = {"second_plan": plan(), "bad_rows": [{"caught": True}], "unexpected": []}
    assert demo_ok(ok)
    assert not demo_ok({**ok, "second_plan": plan(update=1)})
    assert not demo_ok({**ok, "bad_rows": [{"caught": False}]})
    assert not demo_ok({**ok, "unexpected": [{"key": "R7"}]})

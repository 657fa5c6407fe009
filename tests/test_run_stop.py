"""Stopping and resuming a real ``directorsync apply`` process against the simulator.

Orders are slow (``job_ms``) and finish when a test moves the simulator's clock, so a test
decides when Director's orders end instead of waiting for them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import TOKEN, core_args, reset_ledger

from directorsync.cli import cli
from directorsync.ledger.database import open_ledger
from directorsync.simulator import Simulator

SLOW = 600_000  # an order runs ten minutes of the simulator's clock


@pytest.fixture
def sim(tenants_file):
    with Simulator(seed=tenants_file, token=TOKEN, job_ms=SLOW) as simulator:
        yield simulator


def _env(sim, tmp_path: Path, ledger: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSYNC_", "LP_"))}
    env.update(
        DSYNC_DIRECTOR__BASE_URL=sim.base_url,
        DSYNC_DIRECTOR__TOKEN=TOKEN,
        DSYNC_APP__REPORTS_DIR=str(tmp_path / "reports"),
        DSYNC_APP__CONCURRENCY="2",
        DSYNC_LOGGING__APP_LOG=str(tmp_path / "app.log"),
    )
    if ledger:
        env["DSYNC_LEDGER__URL"] = ledger
    return env


def _start(sim, tmp_path, samples, tenants_file, *extra: str, ledger: str | None = None):
    args = core_args(tenants_file, samples / "core_config.xlsx", "repos")
    return subprocess.Popen(
        [sys.executable, "-m", "directorsync", "apply", *args, "--auto-approve", *extra],
        env=_env(sim, tmp_path, ledger),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _posts(sim) -> list[dict]:
    return [r for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Repos")]


def _until(check, proc, what: str, timeout: float = 60.0):
    """Readiness: poll ``check`` until it is true (the process must still run)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc.poll() is not None:
            raise AssertionError(f"apply ended before {what}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _result(tmp_path) -> dict:
    return json.loads(next((tmp_path / "reports" / "core").glob("*/result.json")).read_text())


def _running(ledger, proc) -> str:
    return _until(
        lambda: [r["id"] for r in ledger.history(state="running", tenant="core")[1]], proc, "run"
    )[0]


def _stop_and_check(sim, proc, tmp_path, sig: int, code: int, ledger_url: str) -> dict:
    _until(lambda: len(_posts(sim)) >= 4, proc, "four writes in flight")
    in_flight = len(_posts(sim))
    ledger = open_ledger(ledger_url)
    run_id = _running(ledger, proc)
    asked = time.time()
    proc.send_signal(sig)
    # the stop is seen (and recorded) while the accepted orders still run on Director
    _until(lambda: _stop_noted(ledger, run_id), proc, "the stop", 10)
    seen = time.time() - asked
    sim.advance(SLOW)  # Director finishes the accepted orders
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    late = [r["ts"] - asked for r in _posts(sim) if r["ts"] > asked]
    assert late == [], f"writes after the stop: {late}"
    print(f"stop seen in the ledger {seen:.2f} s after the signal")
    result = _result(tmp_path)
    statuses = Counter(r["status"] for r in result["rows"])
    assert statuses["CREATED"] == len(_posts(sim)) >= in_flight
    cancelled = [r for r in result["rows"] if r["status"] == "SKIP"]
    assert cancelled and {r["reason"] for r in cancelled} == {"cancelled"}
    assert sum(statuses.values()) == 12, "every row is accounted for"
    folder = next((tmp_path / "reports" / "core").glob("*/result.json")).parent
    assert (folder / "report.html").is_file()
    run = ledger.get_run(result["run_id"])
    assert run["state"] == "cancelled" and run["exit_code"] == code
    assert run["counts"] == dict(statuses)
    return {"result": result, "err": err, "run": run, "ledger": ledger}


def test_ctrl_c_stops_writes_follows_accepted_orders_and_reports(
    sim, samples, tenants_file, tmp_path
):
    proc = _start(sim, tmp_path, samples, tenants_file, "--events", str(tmp_path / "ev.jsonl"))
    url = f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}"
    found = _stop_and_check(sim, proc, tmp_path, signal.SIGINT, 130, url)
    assert "Ctrl-C: no new writes" in found["err"]
    assert f"directorsync apply --resume {found['run']['id']}" in found["err"]
    events = [json.loads(line)["event"] for line in (tmp_path / "ev.jsonl").open()]
    assert events[0] == "sync.started" and events[-1] == "sync.cancelled"
    assert "sync.progress" in events and "sync.stage_completed" in events
    res = CliRunner().invoke(
        cli,
        ["history", "--ledger", url, "--format", "json", "--state", "cancelled"],
        standalone_mode=False,
    )
    page = json.loads(res.output)
    assert page["count"] == 1 and page["results"][0]["id"] == found["run"]["id"]
    res = CliRunner().invoke(
        cli,
        ["status", found["run"]["id"], "--ledger", url, "--format", "json"],
        standalone_mode=False,
    )
    view = json.loads(res.output)
    assert view["state"] == "cancelled" and view["progress"]["total_rows"] == 12


def test_sigterm_stops_like_ctrl_c(sim, samples, tenants_file, tmp_path):
    proc = _start(sim, tmp_path, samples, tenants_file)
    url = f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}"
    found = _stop_and_check(sim, proc, tmp_path, signal.SIGTERM, 143, url)
    assert "SIGTERM: no new writes" in found["err"]


def test_cancel_from_another_shell_on_a_postgresql_ledger(
    sim, samples, tenants_file, tmp_path, postgres_url
):
    reset_ledger(postgres_url)
    proc = _start(sim, tmp_path, samples, tenants_file, ledger=postgres_url)
    _until(lambda: len(_posts(sim)) >= 4, proc, "four writes in flight")
    ledger = open_ledger(postgres_url)
    run_id = _running(ledger, proc)
    asked = time.time()
    res = CliRunner().invoke(
        cli, ["cancel", run_id, "--ledger", postgres_url], standalone_mode=False
    )
    assert "cancel asked for run" in res.output
    # the heartbeat sees the cancel within a second: the run says so in the ledger
    _until(lambda: _stop_noted(ledger, run_id), proc, "the cancel seen by the run", 10)
    print(f"cancel seen by the run {time.time() - asked:.2f} s after it was asked")
    sim.advance(SLOW)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert [r for r in _posts(sim) if r["ts"] > asked + 1.0] == []
    run = ledger.get_run(run_id)
    assert run["state"] == "cancelled" and run["message"].startswith("cancelled by")
    res = CliRunner().invoke(
        cli,
        ["history", "--ledger", postgres_url, "--format", "json", "--tenant", "core"],
        standalone_mode=False,
    )
    page = json.loads(res.output)
    assert page["count"] == 1 and page["results"][0]["state"] == "cancelled"
    res = CliRunner().invoke(
        cli, ["status", run_id, "--ledger", postgres_url], standalone_mode=False
    )
    assert "cancelled" in res.output and "SKIP" in res.output
    assert Counter(r["status"] for r in _result(tmp_path)["rows"])["SKIP"] > 0


def _stop_noted(ledger, run_id: str) -> bool:
    return any(e["name"] == "sync.warning" for e in ledger.events(run_id))


def test_a_second_ctrl_c_stops_at_once_and_still_reports(sim, samples, tenants_file, tmp_path):
    proc = _start(sim, tmp_path, samples, tenants_file)
    _until(lambda: len(_posts(sim)) >= 4, proc, "four writes in flight")
    ledger = open_ledger(f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}")
    run_id = _running(ledger, proc)
    proc.send_signal(signal.SIGINT)
    # two signals sent before the process handles the first count as one: wait for the first
    _until(lambda: _stop_noted(ledger, run_id), proc, "the first Ctrl-C seen", 10)
    proc.send_signal(signal.SIGINT)  # the orders never finish: only a hard stop ends this run
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped at once" in err
    assert ledger.get_run(run_id)["state"] == "cancelled"
    rows = _result(tmp_path)["rows"]
    unknown = [r for r in rows if r["status"] == "ERROR"]
    assert len(unknown) == len(_posts(sim)) and all("--resume" in r["error"] for r in unknown)
    assert {r["status"] for r in rows} == {"ERROR", "SKIP"} and len(rows) == 12


def test_kill_9_then_resume_sends_no_object_twice(sim, samples, tenants_file, tmp_path):
    proc = _start(sim, tmp_path, samples, tenants_file)
    _until(lambda: len(_posts(sim)) >= 4, proc, "four writes in flight")
    sim.advance(SLOW)  # the first orders end; more writes go out
    _until(lambda: len(_posts(sim)) >= 7, proc, "more writes")
    proc.kill()
    proc.communicate()
    sent_before = len(_posts(sim))
    sim.advance(SLOW)  # orders accepted before the kill end while nobody watches
    sim.configure(job_ms=0)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}")
    (killed,) = ledger.history(tenant="core")[1]
    assert killed["state"] == "interrupted"  # its process is gone
    res = subprocess.run(
        [sys.executable, "-m", "directorsync", "apply", "--resume", killed["id"]],
        env=_env(sim, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    posts = Counter((r["path"], r["body"]["data"]["name"]) for r in _posts(sim))
    print(
        f"kill -9 after {sent_before} POSTs; {sum(posts.values())} POSTs in all for {len(posts)} repos"
    )
    assert set(posts.values()) == {1}, "one POST per created object"
    assert len(posts) == 12 and len(posts) - sent_before >= 1
    _, runs = ledger.history(tenant="core")
    resumed = runs[0]
    assert resumed["resumed_from"] == killed["id"] and resumed["state"] == "completed"
    folder = Path(resumed["artifacts"]["folder"])
    result = json.loads((folder / "result.json").read_text())
    statuses = Counter(r["status"] for r in result["rows"])
    assert set(statuses) <= {"CREATED", "UNCHANGED"} and sum(statuses.values()) == 12
    # a write killed after it left but before its order was journaled is looked up, not re-sent
    looked_up = [r["reason"] for r in result["rows"] if r["status"] == "UNCHANGED"]
    assert all(f"run {killed['id']} sent it before it stopped" in why for why in looked_up)
    assert folder != Path(killed["artifacts"]["folder"])

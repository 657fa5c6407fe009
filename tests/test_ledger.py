"""The run ledger against SQLite and PostgreSQL: schema, runs, history, leases, journal, races."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from click.testing import CliRunner
from conftest import TOKEN, reset_ledger, session_for
from sqlalchemy import text

from directorsync.cli import cli
from directorsync.config import load_settings
from directorsync.errors import LedgerError, TenantBusyError
from directorsync.ledger import tables
from directorsync.ledger.database import ledger_url, open_configured, open_ledger
from directorsync.ledger.journal import entries, record_accepted, record_intent, record_outcome
from directorsync.ledger.leases import acquire, acquire_waiting, holder, release
from directorsync.ledger.views import history_frame, history_page, run_rows_frame, run_view
from directorsync.runtracker import RunTracker
from directorsync.simulator import Simulator
from directorsync.writeguard import WriteGuard


class Clock:
    """The ledger's clock, moved by tests instead of waiting."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return reset_ledger(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ledger(url, clock):
    opened = open_ledger(url, clock=clock, stale_after=15, lease_ttl=30)
    yield opened
    opened.close()


def test_schema_is_versioned_and_a_newer_ledger_is_refused(url, ledger):
    with ledger.begin() as conn:
        version = conn.execute(text("SELECT value FROM ledger_meta WHERE key='schema_version'"))
        assert version.scalar() == str(tables.SCHEMA_VERSION)
        names = set(ledger.engine.dialect.get_table_names(conn))
    assert {"runs", "journal", "leases", "events", "applied_state", "ownership"} <= names
    open_ledger(url).close()  # a second open finds the schema and changes nothing
    with ledger.begin() as conn:
        conn.execute(text("UPDATE ledger_meta SET value='99' WHERE key='schema_version'"))
    with pytest.raises(LedgerError, match="schema version 99, newer"):
        open_ledger(url)


def test_history_filters_pages_newest_first(ledger, clock):
    for i, (tenant, state) in enumerate(
        [("core", "completed"), ("esait", "failed"), ("core", "cancelled"), ("core", "completed")]
    ):
        ledger.create_run(f"r{i}", tenant=tenant, kind="apply", trigger="cli", state=state)
        clock.advance(60)
    count, rows = ledger.history(tenant="core")
    assert count == 3 and [r["id"] for r in rows] == ["r3", "r2", "r0"]
    assert ledger.history(state="failed")[1][0]["id"] == "r1"
    since = (dt.datetime(2026, 12, 1, 12, 1, tzinfo=dt.UTC)).isoformat()
    assert [r["id"] for r in ledger.history(since=since, until=clock.now.isoformat())[1]] == [
        "r3",
        "r2",
        "r1",
    ]
    page = history_page(ledger, limit=2, offset=0, tenant="core")
    assert page["count"] == 3 and len(page["results"]) == 2
    assert page["next"] == "?limit=2&offset=2&tenant=core" and page["previous"] is None
    last = history_page(ledger, limit=2, offset=2, tenant="core")
    assert last["next"] is None and last["previous"] == "?limit=2&offset=0&tenant=core"
    frame = history_frame(ledger)
    assert list(frame["id"]) == ["r3", "r2", "r1", "r0"] and frame["state"].iloc[1] == "cancelled"


def test_a_run_whose_heartbeat_stopped_is_interrupted_with_its_resume_command(ledger, clock):
    ledger.create_run("r1", tenant="core", kind="apply", trigger="cli", state="running")
    assert ledger.get_run("r1")["state"] == "running"
    clock.advance(16)  # no heartbeat for longer than stale_after
    view = run_view(ledger.get_run("r1"))
    assert view["state"] == "interrupted"
    assert view["resume_command"] == "directorsync apply --resume r1"
    assert "resume with: directorsync apply --resume r1" in view["message"]


def test_a_run_of_a_dead_process_on_this_host_is_interrupted_at_once(ledger):
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    pid = int(dead.stdout)
    ledger.create_run("r1", tenant="core", kind="apply", trigger="cli", state="running", pid=pid)
    assert ledger.get_run("r1")["state"] == "interrupted"


def test_one_writer_per_tenant_and_an_expired_lease_is_taken_over(ledger, clock):
    for run in ("a", "b"):
        ledger.create_run(run, tenant="core", kind="apply", trigger="cli", state="running")
    acquire(ledger, "core", "a")
    with pytest.raises(TenantBusyError) as busy:
        acquire(ledger, "core", "b")
    assert busy.value.exit_code == 5
    message = busy.value.message
    assert (
        "run a by" in message and f"on {ledger.host}" in message and "since 2026-12-01" in message
    )
    acquire(ledger, "esait", "b")  # another tenant is free
    clock.advance(10)
    ledger.heartbeat("a")  # the holder beats: its lease lives 30 s past the beat
    clock.advance(10)
    ledger.heartbeat("b")
    with pytest.raises(TenantBusyError):
        acquire(ledger, "core", "b")
    clock.advance(25)  # 35 s after a's last beat: its lease expired (a's process is gone)
    ledger.heartbeat("b")
    acquire(ledger, "core", "b")
    assert holder(ledger, "core")["run_id"] == "b"
    release(ledger, "core", "b")
    assert holder(ledger, "core") is None


def test_wait_for_the_lease(ledger):
    for run in ("a", "b"):
        ledger.create_run(run, tenant="core", kind="apply", trigger="cli", state="running")
    acquire(ledger, "core", "a")
    told = []

    def wait(seconds: float) -> bool:  # the holder finishes while b waits
        ledger.update_run("a", state="completed")
        return True

    acquire_waiting(ledger, "core", "b", wait=wait, notify=told.append)
    assert holder(ledger, "core")["run_id"] == "b"
    assert told and told[0].startswith("waiting: tenant core is busy: run a")


def test_cancel_is_seen_by_the_heartbeat_and_events_are_recorded(ledger, tmp_path):
    events = (tmp_path / "events.jsonl").open("w")
    tracker = RunTracker(ledger, "r1", tenant="core", events=events, heartbeat_sec=3600)
    tracker.begin(["plan", "apply", "report"])
    tracker.stage("plan")
    tracker.stage("apply")
    tracker.set_total(2)
    row = {"resource": "repos", "node_id": "n1", "key": "A", "status": "CREATED", "reason": None}
    tracker.on_row(1, 2, row)
    tracker.warning("slow Director")
    assert ledger.heartbeat("r1") is None
    ledger.request_cancel("r1", by="alice@laptop")
    assert ledger.heartbeat("r1") == "alice@laptop"
    tracker.finish("cancelled", exit_code=130, message="cancelled by alice@laptop")
    events.close()
    names = [json.loads(line)["event"] for line in (tmp_path / "events.jsonl").open()]
    assert names == [
        "sync.started",
        "sync.stage_completed",
        "sync.warning",
        "sync.progress",  # progress is written by the heartbeat (here: at the end)
        "sync.cancelled",
    ]
    assert [e["name"] for e in ledger.events("r1")] == names
    progress = ledger.events("r1")[3]["data"]
    assert progress == {"stage": "apply", "done": 1, "total": 2, "percent": 50.0}
    view = run_view(ledger.get_run("r1"))
    assert view["state"] == "cancelled" and view["progress"]["stages_completed"] == ["plan"]
    assert view["warnings"][0]["message"] == "slow Director"
    assert entries(ledger, "r1")["repos|n1|A"]["status"] == "CREATED"


def test_journal_phases(ledger):
    ledger.create_run("r1", tenant="core", kind="apply", trigger="cli", state="running")
    row = {"resource": "repos", "node_id": "n1", "key": "A", "method": "POST"}
    record_intent(ledger, "r1", row, "Repos")
    record_intent(ledger, "r1", row, "Repos")  # a retry
    record_accepted(ledger, "r1", row, "monitorapi/p/n1/orders/abc123")
    entry = entries(ledger, "r1")["repos|n1|A"]
    assert (entry["phase"], entry["attempts"], entry["order_id"]) == ("accepted", 2, "abc123")
    record_outcome(ledger, "r1", [(row, "CREATED", None, None)])
    assert entries(ledger, "r1")["repos|n1|A"]["phase"] == "done"
    assert run_rows_frame(ledger, "r1")["status"].tolist() == ["CREATED"]


def test_ledger_url_from_settings(tmp_path):
    assert ledger_url("", tmp_path) == f"sqlite:///{tmp_path.resolve() / 'ledger.sqlite'}"
    assert ledger_url("postgresql://u@h/db", tmp_path) == "postgresql+psycopg://u@h/db"
    assert ledger_url(str(tmp_path / "x.db"), tmp_path) == f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(LedgerError, match="cannot open the run ledger"):
        open_ledger("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


# -- races and resume against the simulator ----------------------------------------------------


def _posts(sim) -> list[dict]:
    return [r for r in sim.requests() if r["method"] == "POST" and r["path"].endswith("/Repos")]


def test_racing_creates_never_report_a_false_created(simulator, samples, tenants_file, tmp_path):
    """Another workbook created two of our repos meanwhile: one as we want it, one not."""
    with session_for(simulator, tenants_file, tmp_path) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["repos"])
        rows = plan.rows[plan.rows["action"] == "create"].reset_index(drop=True)
        same, other = rows.iloc[0], rows.iloc[1]
        s.client.write("POST", plan.pool_uuid, same["node_id"], "Repos", same["payload"])
        changed = {
            **other["payload"],
            "hiddenrepopath": [{"path": "/opt/immune/storage/", "retention": 3}],
        }
        s.client.write("POST", plan.pool_uuid, other["node_id"], "Repos", changed)
        result = s.apply(plan)
    by_key = {(r["node_id"], r["key"]): r for r in result["rows"]}
    won = by_key[(same["node_id"], same["key"])]
    assert (won["status"], won["reason"]) == ("UNCHANGED", "already present as desired")
    lost = by_key[(other["node_id"], other["key"])]
    assert lost["status"] == "ERROR" and "different values: hiddenrepopath" in lost["error"]
    assert result["summary"]["by_status"]["CREATED"] == len(rows) - 2


def test_resume_looks_up_unanswered_writes_and_follows_accepted_orders(
    simulator, samples, tenants_file, tmp_path
):
    """An interrupted run's journal: one row done, one order accepted, one intent unanswered."""
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with session_for(simulator, tenants_file, tmp_path) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["repos"])
        rows = plan.rows[plan.rows["action"] == "create"].reset_index(drop=True)
        done, accepted, unanswered = (rows.iloc[i].to_dict() for i in range(3))
        for row in (done, accepted, unanswered):
            record_intent(ledger, "old", row, "Repos")
        s.client.write("POST", plan.pool_uuid, done["node_id"], "Repos", done["payload"])
        record_outcome(ledger, "old", [(done, "CREATED", None, None)])
        monitor = s.client.submit(
            "POST", plan.pool_uuid, accepted["node_id"], "Repos", accepted["payload"]
        )
        record_accepted(ledger, "old", accepted, monitor)
        s.client.write(
            "POST", plan.pool_uuid, unanswered["node_id"], "Repos", unanswered["payload"]
        )
        before = len(_posts(simulator))
        guard = WriteGuard(
            s.client,
            plan.pool_uuid,
            ledger=ledger,
            run_id="new",
            previous=entries(ledger, "old"),
            previous_run="old",
            profiles=s.profiles,
        )
        result = s.apply(plan, guard=guard)
    assert len(_posts(simulator)) - before == len(rows) - 3, "none of the three was sent again"
    by_key = {(r["node_id"], r["key"]): r for r in result["rows"]}
    status = {
        name: by_key[(r["node_id"], r["key"])]
        for name, r in [("done", done), ("accepted", accepted), ("unanswered", unanswered)]
    }
    assert status["done"]["status"] == "CREATED" and "by run old" in status["done"]["reason"]
    assert (
        status["accepted"]["status"] == "CREATED"
        and "followed to its end" in status["accepted"]["reason"]
    )
    assert status["unanswered"]["status"] == "UNCHANGED"
    assert status["unanswered"]["reason"].startswith("already present as desired (run old sent it")
    assert set(result["summary"]["by_status"]) == {"CREATED", "UNCHANGED"}
    assert entries(ledger, "new")[f"repos|{done['node_id']}|{done['key']}"]["carried_from"] == "old"


def test_cli_refuses_a_second_apply_of_a_busy_tenant(samples, tenants_file, tmp_path, monkeypatch):
    monkeypatch.setenv("DSYNC_APP__REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("DSYNC_LOGGING__APP_LOG", str(tmp_path / "app.log"))
    with Simulator(seed=tenants_file, token=TOKEN) as sim:
        monkeypatch.setenv("DSYNC_DIRECTOR__BASE_URL", sim.base_url)
        monkeypatch.setenv("DSYNC_DIRECTOR__TOKEN", TOKEN)
        settings = load_settings()
        ledger = open_configured(settings)
        ledger.create_run("other", tenant="core", kind="apply", trigger="cli", state="running")
        acquire(ledger, "core", "other")
        args = [
            "apply",
            "--tenant",
            "core",
            "--tenants-file",
            str(tenants_file),
            "--xlsx",
            str(samples / "core_config.xlsx"),
            "--resources",
            "repos",
            "--auto-approve",
        ]
        with pytest.raises(TenantBusyError, match="run other by") as busy:
            CliRunner().invoke(cli, args, standalone_mode=False, catch_exceptions=False)
        assert busy.value.exit_code == 5
        assert sim.requests() == [] or all(r["method"] == "GET" for r in sim.requests())
    _, runs = ledger.history(tenant="core")
    refused = next(r for r in runs if r["id"] != "other")
    assert refused["state"] == "failed" and refused["exit_code"] == 5
    assert os.path.isdir(tmp_path / "reports")


def test_progress_lines_without_a_terminal_and_status_watch(tmp_path):
    import threading

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = open_ledger(url)
    lines: list[str] = []
    tracker = RunTracker(
        ledger, "r1", tenant="core", line=lines.append, heartbeat_sec=0.02, line_every=0
    )
    tracker.begin(["plan", "apply", "report"])
    tracker.stage("apply")
    tracker.set_total(4)
    tracker.on_row(1, 4, {"resource": "repos", "node_id": "n", "key": "A", "status": "CREATED"})
    seen = threading.Event()
    while not seen.wait(0.02):  # readiness: the heartbeat thread prints the line
        if any("1/4 rows (25 %)" in line for line in lines):
            seen.set()
    assert lines[-1].startswith("… apply: 1/4 rows (25 %)")
    finisher = threading.Timer(0.3, lambda: tracker.finish("completed", exit_code=0))
    finisher.start()
    res = CliRunner().invoke(
        cli,
        ["status", "r1", "--watch", "--interval", "0.05", "--ledger", url],
        standalone_mode=False,
    )
    finisher.join()
    assert res.return_value == 0
    shown = res.output.splitlines()
    assert "  running  " in shown[0] and any("  completed  " in line for line in shown[1:])


def test_a_plan_is_a_run_once_the_ledger_exists(samples, tenants_file, tmp_path, monkeypatch):
    monkeypatch.setenv("DSYNC_APP__REPORTS_DIR", str(tmp_path / "reports"))
    args = ["plan", "--tenant", "core", "--tenants-file", str(tenants_file)]
    args += ["--xlsx", str(samples / "core_config.xlsx"), "--resources", "repos"]
    with Simulator(seed=tenants_file, token=TOKEN) as sim:
        monkeypatch.setenv("DSYNC_DIRECTOR__BASE_URL", sim.base_url)
        monkeypatch.setenv("DSYNC_DIRECTOR__TOKEN", TOKEN)
        CliRunner().invoke(cli, args, standalone_mode=False, catch_exceptions=False)
        assert not (tmp_path / "reports" / "ledger.sqlite").exists()  # a plan creates none
        ledger = open_configured(load_settings())
        res = CliRunner().invoke(cli, args, standalone_mode=False, catch_exceptions=False)
    assert res.return_value == 0
    (run,) = ledger.history()[1]
    assert (run["kind"], run["state"], run["counts"]["create"]) == ("plan", "completed", 12)

"""Schedules: cron times fire runs with trigger ``scheduled``; a running one is skipped.

A schedule still running at its next time is skipped and the skip is recorded in the ledger.
Time is a clock the tests move (no sleeping); the ledger is a real SQLite file in ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from directorsync.config import ScheduleSettings, Settings, load_settings
from directorsync.errors import ConfigError
from directorsync.ledger.database import open_ledger
from directorsync.service.schedules import Scheduler, next_time

START = dt.datetime(2026, 12, 7, 1, 59, 30, tzinfo=dt.UTC)  # a Monday


class Clock:
    """A clock tests move."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Runs:
    """A trigger that records its calls in the ledger as running runs (as the service does)."""

    def __init__(self, ledger, refuse: set[str] | None = None) -> None:
        self.ledger, self.refuse = ledger, refuse or set()
        self.calls: list[tuple] = []
        self.called = threading.Event()

    def __call__(self, tenant, kind, trigger, options, user) -> str:
        if tenant in self.refuse:
            raise ConfigError(f"tenant {tenant} is busy")
        sync_id = f"sync-{len(self.calls) + 1}"
        self.calls.append((tenant, kind, trigger, options, user))
        self.ledger.create_run(sync_id, tenant=tenant, kind=kind, trigger=trigger, state="running")
        self.called.set()
        return sync_id

    def finish(self, sync_id: str) -> None:
        self.ledger.update_run(sync_id, state="completed")


def _schedule(**values) -> ScheduleSettings:
    return ScheduleSettings.model_validate(
        {"name": "nightly", "cron": "0 2 * * *", "tenants": "all", "kind": "drift", **values}
    )


@pytest.fixture
def ledger(tmp_path):
    opened = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    yield opened
    opened.close()


def test_cron_times_in_the_schedules_time_zone():
    daily = _schedule()
    assert next_time(daily, START) == dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)
    local = _schedule(cron="30 6 * * 1-5", timezone="Europe/Copenhagen")  # UTC+1 in December
    friday = dt.datetime(2026, 12, 11, 6, 0, tzinfo=dt.UTC)
    assert next_time(local, friday) == dt.datetime(2026, 12, 14, 5, 30, tzinfo=dt.UTC)


def test_a_due_schedule_triggers_each_tenant_and_a_running_one_is_skipped(ledger):
    clock = Clock()
    runs = Runs(ledger)
    scheduler = Scheduler(
        [
            _schedule(),
            _schedule(name="core-apply", cron="*/15 * * * *", tenants=["core"], kind="apply"),
        ],
        runs,
        tenants=["core", "esait"],
        ledger=ledger,
        clock=clock,
    )
    assert scheduler.tick() == []  # nothing due yet
    clock.move(seconds=30)  # 02:00: both schedules are due
    fired = scheduler.tick()
    assert [(f.schedule, f.tenant, f.outcome) for f in fired] == [
        ("nightly", "core", "started"),
        ("nightly", "esait", "started"),
        ("core-apply", "core", "started"),
    ]
    assert runs.calls[0] == (
        "core",
        "plan",
        "scheduled",
        {"validate_only": True},
        "schedule:nightly",
    )
    assert runs.calls[2] == ("core", "apply", "scheduled", {}, "schedule:core-apply")
    assert scheduler.next_times()["core-apply"] == dt.datetime(2026, 12, 7, 2, 15, tzinfo=dt.UTC)
    clock.move(minutes=14)
    assert scheduler.tick() == []
    clock.move(minutes=1)  # 02:15: the 02:00 apply still runs: skipped, and the ledger says so
    (skipped,) = scheduler.tick()
    assert skipped.outcome == "skipped" and skipped.skipped_for == "sync-3"
    (event,) = [e for e in ledger.events("sync-3") if e["name"] == "sync.warning"]
    assert event["data"]["skipped"] is True and event["data"]["schedule"] == "core-apply"
    assert "still running" in event["data"]["message"]
    assert len(runs.calls) == 3
    runs.finish("sync-3")
    clock.move(minutes=15)  # 02:30: the apply has finished, the next one starts
    (started,) = scheduler.tick()
    assert started.outcome == "started" and runs.calls[-1][1] == "apply"
    # a day later: core's nightly finished, esait's still runs; the 02:30 apply still runs
    runs.finish("sync-1")
    clock.move(days=1)
    fired = scheduler.tick()
    assert [(f.schedule, f.tenant, f.outcome, f.skipped_for) for f in fired] == [
        ("core-apply", "core", "skipped", "sync-4"),  # due first (02:45 the day before)
        ("nightly", "core", "started", None),
        ("nightly", "esait", "skipped", "sync-2"),
    ]
    status = {s["name"]: s for s in scheduler.status()}
    assert status["nightly"]["runs"] == "plan" and status["nightly"]["recent"]


def test_missed_times_fire_once_and_refusals_are_kept(ledger):
    clock = Clock()
    runs = Runs(ledger, refuse={"esait"})
    scheduler = Scheduler(
        [_schedule(cron="*/5 * * * *")], runs, tenants=["core", "esait"], clock=clock, ledger=ledger
    )
    clock.move(hours=3)  # 36 times were missed: one firing, then the next time after now
    fired = scheduler.tick()
    assert [(f.tenant, f.outcome) for f in fired] == [("core", "started"), ("esait", "failed")]
    assert fired[1].error == "tenant esait is busy"
    assert scheduler.next_due() == dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)


def test_the_thread_fires_when_the_clock_moves(ledger):
    clock = Clock()
    runs = Runs(ledger)
    scheduler = Scheduler([_schedule()], runs, tenants=["core"], clock=clock, ledger=ledger)
    scheduler.start()
    try:
        assert not runs.called.wait(0.2)  # 30 s to go on the test's clock: nothing
        clock.move(minutes=1)
        scheduler.wake()
        assert runs.called.wait(10)
        assert runs.calls == [
            ("core", "plan", "scheduled", {"validate_only": True}, "schedule:nightly")
        ]
    finally:
        scheduler.stop()
    assert scheduler._thread is None


def test_schedules_in_the_config(tmp_path, samples):
    config = tmp_path / "directorsync.yml"
    config.write_text(
        "schedules:\n"
        "  - {name: nightly, cron: '0 2 * * *', tenants: all, kind: drift}\n"
        "  - {name: core-apply, cron: '30 6 * * 1-5', tenants: [core], kind: apply,"
        " timezone: Europe/Copenhagen}\n",
        encoding="utf-8",
    )
    settings = load_settings(
        config, overrides={"inputs.tenants_file": str(samples / "tenants.yml")}
    )
    assert [(s.name, s.kind, s.tenants) for s in settings.schedules] == [
        ("nightly", "drift", "all"),
        ("core-apply", "apply", ["core"]),
    ]
    scheduler = Scheduler.from_settings(settings, lambda *a: "x", clock=Clock())
    assert set(scheduler.next_times()) == {"nightly", "core-apply"}
    assert scheduler.tenants() == ["core", "esait", "sccoe"]
    bad = {"name": "x", "cron": "0 2 * * *", "tenants": ["acme"], "kind": "plan"}
    wrong = Settings.model_validate({**settings.model_dump(), "schedules": [bad]})
    with pytest.raises(ConfigError, match="unknown tenant.*acme.*known: core, esait, sccoe"):
        Scheduler.from_settings(wrong, lambda *a: "x")
    for text, message in [
        ("{name: a, cron: '0 25 * * *', tenants: all, kind: plan}", "not a cron expression"),
        ("{name: a, cron: '0 2 * * *', tenant: [core], kind: plan}", "tenants"),
        ("{name: a, cron: '0 2 * * *', tenants: all, kind: prune}", "kind"),
        (
            "{name: a, cron: '0 2 * * *', tenants: all, kind: plan, timezone: Mars/Olympus}",
            "time zone",
        ),
    ]:
        config.write_text(f"schedules:\n  - {text}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_settings(config)

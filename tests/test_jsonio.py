"""Fast JSON helpers, and the collector pause at the edges of plan and apply."""

import gc
import json
import sys
import threading

import pytest

from directorsync import jsonio
from directorsync.jsonio import HANDOFF_INTERVAL, collector_paused, prompt_handoffs

RECORDS = [
    {
        "id": "6500074129699a95275ac9d0",
        "name": "proxy-zrh-édge",
        "ip": ["10.2.208.29"],
        "risk_values": {"confidentiality": "Minor"},
        "active": True,
        "n": 3,
        "f": 1.5,
        "none": None,
        "text": 'quote " backslash \\ tab \t nul \x00 line\u2028',
    },
]


def test_dumps_is_the_compact_utf8_text_of_the_standard_library():
    assert (
        jsonio.dumps(RECORDS)
        == json.dumps(RECORDS, separators=(",", ":"), ensure_ascii=False).encode()
    )


def test_loads_round_trips_and_accepts_what_the_standard_library_accepts():
    assert jsonio.loads(jsonio.dumps(RECORDS)) == RECORDS
    assert jsonio.loads(b'{"a": NaN}')["a"] != jsonio.loads(b'{"a": NaN}')["a"]  # NaN, via fallback
    assert jsonio.loads("[1, 2]") == [1, 2]


def test_loads_refuses_text_that_is_not_json_with_a_value_error():
    with pytest.raises(ValueError):
        jsonio.loads(b"<html>proxy error</html>")


def test_large_texts_decode_and_leave_the_collector_as_it_was():
    big = jsonio.dumps([{"k": "v" * 50, "i": i} for i in range(20_000)])
    assert len(big) > 1 << 20
    assert gc.isenabled()
    assert len(jsonio.loads(big)) == 20_000
    assert gc.isenabled()  # decoding does not pause it: the edges of plan and apply do


def test_a_plan_is_built_with_the_collector_paused_once_for_all_resources(monkeypatch):
    import pandas as pd

    from directorsync import planner
    from directorsync.profile.model import load_profiles
    from directorsync.tenants import Node, Tenant

    seen, switches = [], []

    def plan_resource(profile, workbook, tenant, inventory, ctx, timings):
        seen.append((profile.name, gc.isenabled()))
        switches.append(sys.getswitchinterval())
        return pd.DataFrame({"action": []}), pd.DataFrame(), []

    class Book:
        name, sheet_names = "book.xlsx", ["Device", "DeviceGroups"]
        hidden_sheets: list[str] = []

        def alias_sheets(self, aliases):
            assert not aliases

        def has_sheet(self, name):
            return name in self.sheet_names

        def sheet(self, name):
            return pd.DataFrame()

    class Listings:
        def release_received(self):
            seen.append(("released", gc.isenabled()))

    monkeypatch.setattr(planner, "plan_resource", plan_resource)
    profiles = load_profiles()
    chosen = {n: profiles[n] for n in ("device_groups", "devices")}
    tenant = Tenant(
        name="t", pool_uuid="p" * 32, nodes=[Node(id="1" * 32, name="be1", role="backends")]
    )
    assert gc.isenabled()
    planner.build_plan(tenant, Book(), chosen, inventory=Listings())
    assert seen == [("device_groups", False), ("devices", False), ("released", True)]
    assert gc.isenabled()
    # the threads receiving listings get the interpreter lock back promptly while it plans
    assert switches == [pytest.approx(HANDOFF_INTERVAL, abs=2e-6)] * 2
    assert sys.getswitchinterval() == 0.005


def test_prompt_handoffs_nest_and_the_last_one_out_restores_the_interval():
    assert sys.getswitchinterval() == 0.005
    with prompt_handoffs():
        with prompt_handoffs():
            assert sys.getswitchinterval() == pytest.approx(HANDOFF_INTERVAL, abs=2e-6)
        assert sys.getswitchinterval() == pytest.approx(HANDOFF_INTERVAL, abs=2e-6)
    assert sys.getswitchinterval() == 0.005


def test_a_shorter_interval_set_by_the_caller_is_kept():
    sys.setswitchinterval(0.0001)
    shorter = sys.getswitchinterval()
    try:
        with prompt_handoffs():
            assert sys.getswitchinterval() == shorter
        assert sys.getswitchinterval() == shorter
    finally:
        sys.setswitchinterval(0.005)


def test_pauses_nest_and_the_last_one_out_restores_the_collector():
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_pauses_overlapping_in_threads_restore_the_collector_once_all_end():
    inside, release = threading.Barrier(3), threading.Event()

    def worker():
        with collector_paused():
            inside.wait()
            release.wait()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert not gc.isenabled()
    release.set()
    for t in threads:
        t.join()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_what_survives_a_pause_joins_the_oldest_generation_still_collectable():
    import weakref

    class Loop:
        pass

    with collector_paused():
        survivor = [[i] for i in range(10)]
        cycle = Loop()
        cycle.me = cycle
    assert any(o is survivor for o in gc.get_objects(generation=2))
    assert gc.get_freeze_count() == 0  # nothing stays frozen
    probe = weakref.ref(cycle)
    del cycle
    gc.collect()
    assert probe() is None  # cyclic garbage made during the pause is still collected

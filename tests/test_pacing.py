"""A Director that says "too many requests" (issue 18, item 6): Retry-After and write windows."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import openpyxl
from conftest import session_for

from directorsync.director.pacing import Pacing, Throttle, WriteWindow, node_of, write_window
from directorsync.session import Session, make_client


class Clock:
    """A clock the test moves by hand (``now`` in seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_window_halves_once_per_burst_and_grows_one_slot_per_window_of_successes():
    clock = Clock()
    window = WriteWindow(16, hold=1.0, clock=clock)
    assert window.size == 16
    assert window.cut() and window.size == 8
    assert not window.cut() and window.size == 8  # the same burst of 429s
    clock.now = 1.5
    assert window.cut() and window.size == 4
    for _ in range(3):
        with window:
            pass
    assert window.size == 4  # not yet a window's worth of successes
    with window:
        pass
    assert window.size == 5
    for _ in range(200):
        with window:
            pass
    assert window.size == 16  # never above the configured limit
    assert (window.cuts, window.smallest) == (2, 4)


def test_a_window_never_shrinks_below_one_and_a_failed_row_earns_nothing():
    clock = Clock()
    window = WriteWindow(2, hold=0.0, clock=clock)
    window.cut()
    window.cut()
    assert window.size == 1
    try:
        with window:
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert window.size == 1 and window.in_flight == 0


def test_a_window_admits_at_most_its_size():
    window = WriteWindow(3)
    window.cut()  # 1
    inside, peak, lock = [0], [0], threading.Lock()
    entered = threading.Barrier(1)

    def row() -> None:
        with window:
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            entered.wait()
            with lock:
                inside[0] -= 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: row(), range(40)))
    assert peak[0] == 1


def test_throttled_answers_cut_the_window_of_their_node():
    pacing = Pacing(hold=0.0)
    a, b = pacing.window("node-a", 8), pacing.window("node-b", 8)
    pacing.throttled("monitorapi/pool/node-a/orders/123")
    pacing.throttled("configapi/pool/node-unknown/Repos")
    assert (a.size, b.size) == (4, 8)
    assert pacing.window("node-a", 8) is a
    assert node_of("/configapi/p/n/Repos") == "n" and node_of("other/x") is None
    assert write_window(object(), "n", 3).limit == 3  # a client without pacing: a lone window


def test_a_throttle_waits_at_least_what_was_asked_within_its_budget():
    throttle = Throttle(budget=10.0, cap=5.0)
    assert all(2.0 <= throttle.delay(2.0, 0.0) <= 3.0 for _ in range(50))
    assert 5.0 <= throttle.delay(3600.0, 0.0) <= 7.5
    assert throttle.delay(2.0, 10.0) is None


def _repo_workbook(path, count: int) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Repo"
    sheet.append(["cleaned_repo_name", "storage_paths", "retention_days"])
    for i in range(count):
        sheet.append([f"Repo_{i:03d}", "/data_hot", 30])
    book.save(path)


def test_fifty_plans_and_an_apply_against_eight_requests_in_flight(
    start_simulator, tenants_file, tmp_path
):
    """50 concurrent plans all succeed; an apply at twice the limit ends without a 429 row.

    Each plan has a client of its own, like 50 processes. With 400 ms per request, the plans'
    listings meet at the limit: before Retry-After was waited out (three retries, all clients
    back at the same instant) most of these plans failed.
    """
    sim = start_simulator(latency_ms=400, job_ms=20, max_inflight=8)
    xlsx = tmp_path / "repos.xlsx"
    _repo_workbook(xlsx, 12)
    first = session_for(sim, tenants_file, tmp_path)
    sessions = [
        Session(first.settings, first.tenants, first.profiles, make_client(first.settings))
        for _ in range(50)
    ]
    with ThreadPoolExecutor(50) as pool:
        plans = list(pool.map(lambda s: s.plan("core", xlsx, ["repos"]), sessions))
    throttled = sum(s.client.stats.throttled for s in sessions)
    for s in sessions:
        s.close()
    assert [p.notes for p in plans if p.has_errors] == []
    assert {len(p.rows) for p in plans} == {24}  # 12 repos on each of core's two backends
    rejected = sum(r["status"] == 429 for r in sim.requests())
    assert rejected > 50 and throttled == rejected  # the limit was hit, and each 429 waited out

    sim.configure(latency_ms=20)
    with session_for(sim, tenants_file, tmp_path, **{"app.concurrency": 16}) as s:
        result = s.apply(plans[0])
        windows = s.client.pacing.snapshot()
    errors = [r["error"] for r in result["rows"] if r["status"] != "CREATED"]
    assert errors == []
    assert {w["limit"] for w in windows.values()} == {16}
    assert min(w["smallest"] for w in windows.values()) < 16  # 429s cut the windows
    first.close()

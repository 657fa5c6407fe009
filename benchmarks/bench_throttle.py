"""Throttle benchmark: applies and plans against a simulator limited in requests in flight.

The simulator runs in its own process with ``--max-inflight`` (unknown to the client: beyond it
every request is answered 429 with ``Retry-After: 1``), 25 ms per request and 100 ms orders.

1. ``creates``: 2,000 repo creates (``--rows`` repos on each of ``--nodes`` backends) with default
   settings, ``--max-inflight 24``. Compared with the concurrency bound at 24 in flight: creates
   × 150 ms (POST 25 ms + order 100 ms + the poll that sees it done 25 ms) ÷ 24.
   ``free``: the same without a limit (what the client does at its own concurrency).
2. ``over``: the same creates on one backend with ``app.concurrency`` above the limit (32): the
   write window is cut by the 429s and settles below the limit.
3. ``plans``: 50 plans at once (threads, one client each, as 50 processes would) against
   ``--max-inflight 8``: all must succeed.

Run: ``python benchmarks/bench_throttle.py [--only creates|over|plans]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

import requests  # noqa: E402
import yaml  # noqa: E402

from directorsync.config import load_settings  # noqa: E402
from directorsync.session import Session, make_client  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_apply import write_workbook  # noqa: E402

TOKEN = "bench-token"
POOL = "d3e0a1b2c3d4e5f60718293a4b5c6d7e"


def tenants_file(path: Path, backends: int) -> Path:
    """Tenant ``bench`` with one search head and ``backends`` backends."""
    nodes = [
        {"name": f"be{i:02d}", "id": f"bac0e4d0bac0e4d0bac0e4d0bac0e4{i:02d}", "ip": "127.0.0.1"}
        for i in range(1, backends + 1)
    ]
    head = [{"name": "sh01", "id": "5e1ec7ed5e1ec7ed5e1ec7ed5e1ec701", "ip": "127.0.0.1"}]
    topology = {
        "tenants": {
            "bench": {"pool_uuid": POOL, "siems": {"search_heads": head, "backends": nodes}}
        },
        "defaults": {"target": {"repos": ["backends"]}},
    }
    path.write_text(yaml.safe_dump(topology))
    return path


@contextlib.contextmanager
def separate_simulator(tenants: Path, *knobs: str) -> Iterator[str]:
    """`directorsync simulator` in its own process, as a remote Director would be."""
    command = [sys.executable, "-m", "directorsync", "simulator", "--port", "0"]
    command += ["--token", TOKEN, "--seed", str(tenants), *knobs]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        match = re.search(r"http://[0-9.:]+", proc.stdout.readline())
        assert match, "the simulator did not print its URL"
        yield match.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def session(url: str, tenants: Path, tmp: Path, **overrides: object) -> Session:
    settings = load_settings(
        env={},
        overrides={
            "director.base_url": url,
            "director.token": TOKEN,
            "app.reports_dir": str(tmp / "reports"),
            **overrides,
        },
    )
    return Session.open(settings=settings, tenants_file=tenants)


def answered(url: str) -> Counter[int]:
    """The simulator's answers by HTTP status."""
    log = requests.get(
        f"{url}/_sim/requests", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ).json()
    items = log.get("requests", log) if isinstance(log, dict) else log
    return Counter(r.get("status") for r in items)


def creates(tmp: Path, nodes: int, rows: int, limit: int, **overrides: object) -> None:
    tenants = tenants_file(tmp / f"tenants{nodes}.yml", nodes)
    workbook = write_workbook(tmp / f"repos{rows}.xlsx", rows)
    knobs = ("--latency-ms", "25", "--job-ms", "100", "--max-inflight", str(limit))
    with separate_simulator(tenants, *knobs) as url:
        with session(url, tenants, tmp, **overrides) as s:
            plan = s.plan("bench", workbook, ["repos"])
            started = time.perf_counter()
            result = s.apply(plan)
            wall = time.perf_counter() - started
            stats, windows = s.client.stats.snapshot(), s.client.pacing.snapshot()
        statuses = answered(url)
    total = len(plan.rows)
    bound = total * 0.150 / (limit or 24)
    print(f"{total} creates on {nodes} node(s), settings {overrides or 'default'}, limit {limit}")
    print(f"  rows: {dict(Counter(r['status'] for r in result['rows']))}")
    print(f"  apply wall time {wall:.1f} s; bound at {limit or 24} in flight {bound:.1f} s")
    print(f"  ratio {wall / bound:.2f}x; answers 429: {statuses.get(429, 0)}")
    print(f"  client: throttled {stats['throttled']}, retries {stats['retries']}")
    print(f"  windows: {windows}")


def plans(tmp: Path, count: int, limit: int) -> None:
    tenants = tenants_file(tmp / "tenants2.yml", 2)
    workbook = write_workbook(tmp / "repos12.xlsx", 12)
    knobs = ("--latency-ms", "25", "--job-ms", "100", "--max-inflight", str(limit))
    with separate_simulator(tenants, *knobs) as url:
        first = session(url, tenants, tmp)
        sessions = [
            Session(first.settings, first.tenants, first.profiles, make_client(first.settings))
            for _ in range(count)
        ]
        started = time.perf_counter()

        def one(s: Session) -> bool:
            try:
                return not s.plan("bench", workbook, ["repos"]).has_errors
            except Exception as exc:  # noqa: BLE001 - counted as a failed plan
                print(f"  failed: {exc}")
                return False

        with ThreadPoolExecutor(count) as pool:
            ok = list(pool.map(one, sessions))
        wall = time.perf_counter() - started
        throttled = sum(s.client.stats.throttled for s in sessions)
        for s in [first, *sessions]:
            s.close()
        statuses = answered(url)
    print(f"{count} plans at once, limit {limit} in flight")
    print(f"  succeeded {sum(ok)}/{count} in {wall:.1f} s; answers 429: {statuses.get(429, 0)}")
    print(f"  client waits on Retry-After: {throttled}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("creates", "free", "over", "plans"))
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--rows", type=int, default=500, help="repos per node")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.only in (None, "creates"):
            creates(tmp, args.nodes, args.rows, 24)
        if args.only in (None, "free"):  # the same without a limit: what the client can do
            creates(tmp, args.nodes, args.rows, 0)
        if args.only in (None, "over"):
            creates(tmp, 1, args.rows * args.nodes, 24, **{"app.concurrency": 32})
        if args.only in (None, "plans"):
            plans(tmp, 50, 8)


if __name__ == "__main__":
    main()

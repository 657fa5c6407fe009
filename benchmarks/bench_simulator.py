"""How many small GETs per second does the Director simulator serve (a benchmark, not a test)?

Usage::

    python benchmarks/bench_simulator.py                      # 8 clients, 2,000 GETs each, 20 s cap
    python benchmarks/bench_simulator.py --clients 16 --requests 500
    python benchmarks/bench_simulator.py --in-process          # server in this process (shares the GIL)
    python benchmarks/bench_simulator.py --url http://127.0.0.1:8470 --token T --pool P --node N

By default the simulator runs as ``directorsync simulator --port 0`` in a child process (as a
user would run it) and the clients run here: ``--clients`` threads, each with its own
``requests.Session`` (keep-alive, ``trust_env`` off), each sending ``--requests`` ``GET …/Repos`` (the three default
repos, ~600 bytes) until done or until ``--seconds`` have passed. Loopback only, no latency
injected. Prints requests per second and latency percentiles.
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from directorsync.simulator import Simulator
from directorsync.simulator.catalog import demo_tenants

TOKEN = "bench-token"


def demo_backend() -> tuple[str, str]:
    """Pool and backend id of the built-in demo topology."""
    demo = demo_tenants()["tenants"]["demo"]
    return demo["pool_uuid"], demo["siems"]["backends"][0]["id"]


@contextmanager
def child_simulator() -> Iterator[str]:
    """``directorsync simulator --port 0`` in a child process; yields its base URL."""
    cmd = [sys.executable, "-m", "directorsync", "simulator", "--port", "0", "--token", TOKEN]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise SystemExit(f"simulator did not start: {line!r}")
        yield match.group(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def in_process_simulator() -> Iterator[str]:
    with Simulator(token=TOKEN) as sim:
        yield sim.base_url


def client(
    url: str, token: str, count: int, deadline: float, latencies: list[float], errors: list[str]
) -> None:
    """One keep-alive client: ``count`` GETs or until ``deadline``."""
    mine = []
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        session.trust_env = (
            False  # loopback: no proxy / .netrc lookups from the environment per call
        )
        for _ in range(count):
            started = time.perf_counter()
            if started > deadline:
                break
            r = session.get(url, timeout=10)
            mine.append(time.perf_counter() - started)
            if r.status_code != 200:
                errors.append(str(r.status_code))
    latencies.extend(mine)


def run(url: str, token: str, clients: int, count: int, seconds: float) -> dict[str, float]:
    """Run the clients against ``url``; returns the figures."""
    requests.get(
        url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).raise_for_status()  # warm-up
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=client, args=(url, token, count, deadline, latencies, errors))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p95_ms": cuts[94] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="GETs per client")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap")
    parser.add_argument("--in-process", action="store_true", help="run the server in this process")
    parser.add_argument(
        "--url", help="an already running simulator (then also --token, --pool, --node)"
    )
    parser.add_argument("--token", default=TOKEN)
    parser.add_argument("--pool")
    parser.add_argument("--node")
    args = parser.parse_args()
    pool, node = demo_backend()
    pool, node = args.pool or pool, args.node or node
    if args.url:
        server = contextmanager(lambda: iter([args.url]))()
    else:
        server = in_process_simulator() if args.in_process else child_simulator()
    with server as base:
        figures = run(
            f"{base}/configapi/{pool}/{node}/Repos",
            args.token,
            args.clients,
            args.requests,
            args.seconds,
        )
    where = "in-process" if args.in_process else ("external" if args.url else "child process")
    print(f"simulator ({where}), {args.clients} keep-alive clients, GET …/Repos")
    print(
        f"{figures['requests']:,} requests in {figures['seconds']:.2f} s → {figures['rps']:,.0f} req/s; "
        f"latency p50 {figures['p50_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms, p99 {figures['p99_ms']:.2f} ms; "
        f"errors {figures['errors']}"
    )


if __name__ == "__main__":
    main()

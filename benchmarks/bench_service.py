"""Service benchmark: four syncs running at once, the API's and the WebSocket's latency.

Starts the simulator (the samples' tenants, with latency and order run time so that the syncs
last) and ``directorsync serve --workers 4`` as a real process; starts four syncs (applies of
core, esait and sccoe, a dry run of core) and, while they run:

- one client reads ``GET /api/syncs/{id}`` of the four in turn, one every ``--every`` seconds
  (default 0.05: each sync's status five times a second; 0: back to back);
- one WebSocket client per sync measures, for every event, the time between the ledger
  recording it (the event's ``ts``) and the client receiving it.

Prints p50 / p99 / max of both (the issue's targets: p99 ≤ 50 ms and ≤ 250 ms).

Run: ``python benchmarks/bench_service.py [--latency-ms 5] [--job-ms 150] [--every 0.05]`` (needs
``../shared/samples``; loopback only; a few minutes at most).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

from directorsync.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"
DIRECTOR_TOKEN = "bench-director-token"
TOKEN = "bench-caller-token-0123456789"
SYNCS = [("core", {}), ("esait", {}), ("sccoe", {}), ("core", {"dry_run": True})]


def start_service(sim: Simulator, folder: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSYNC_", "LP_"))}
    env.update(
        DSYNC_DIRECTOR__BASE_URL=sim.base_url,
        DSYNC_DIRECTOR__TOKEN=DIRECTOR_TOKEN,
        DSYNC_APP__REPORTS_DIR=str(folder / "reports"),
        DSYNC_LOGGING__APP_LOG=str(folder / "app.log"),
        LP_TENANTS_FILE=str(SAMPLES / "tenants.yml"),
        DSYNC_INPUTS__XLSX_DIR=str(SAMPLES),
        DSYNC_SERVICE__TOKENS=f"bench={TOKEN}",
        DSYNC_LOGGING__LEVEL="WARNING",
    )
    err = open(folder / "serve.err", "wb")  # noqa: SIM115 - kept open for the process's life
    proc = subprocess.Popen(
        [sys.executable, "-m", "directorsync", "serve", "--port", "0", "--workers", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = re.search(r"on (http://[0-9.]+:\d+)/", (folder / "serve.err").read_text())
        if found:
            try:
                if httpx.get(f"{found.group(1)}/health").status_code == 200:
                    return proc, found.group(1)
            except httpx.TransportError:
                pass
        time.sleep(0.05)
    raise SystemExit(f"the service did not start: {(folder / 'serve.err').read_text()}")


def follow(ws_url: str, sync_id: str, lags: list[float], names: list[str]) -> None:
    """Every event of one sync: the lag between the ledger's time and its arrival."""
    with connect(
        f"{ws_url}/ws/syncs/{sync_id}",
        additional_headers={"Authorization": f"Bearer {TOKEN}"},
        open_timeout=60,
    ) as ws:
        for raw in ws:
            arrived = dt.datetime.now(dt.UTC)
            event = json.loads(raw)
            lags.append((arrived - dt.datetime.fromisoformat(event["ts"])).total_seconds())
            names.append(event["event"])


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return (
        f"n={len(ordered)} p50={statistics.median(ordered) * 1000:.1f} ms "
        f"p99={p99 * 1000:.1f} ms max={ordered[-1] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=5)
    parser.add_argument("--job-ms", type=int, default=150)
    parser.add_argument(
        "--every", type=float, default=0.05, help="seconds between two GETs (0: back to back)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Simulator(
        seed=SAMPLES / "tenants.yml", token=DIRECTOR_TOKEN, latency_ms=args.latency_ms,
        job_ms=args.job_ms,
    ) as sim:  # fmt: skip
        folder = Path(tmp)
        proc, base = start_service(sim, folder)
        ws_url = base.replace("http://", "ws://", 1)
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        try:
            started = time.monotonic()
            ids, posts = [], []
            for tenant, options in SYNCS:
                t0 = time.perf_counter()
                res = api.post(f"/api/tenants/{tenant}/syncs", json={"options": options})
                posts.append(time.perf_counter() - t0)
                res.raise_for_status()
                ids.append(res.json()["sync_id"])
            lags: list[float] = []
            names: list[str] = []
            clients = [threading.Thread(target=follow, args=(ws_url, i, lags, names)) for i in ids]
            for client in clients:
                client.start()
            gets: list[float] = []
            while any(c.is_alive() for c in clients):
                for sync_id in ids:
                    t0 = time.perf_counter()
                    api.get(f"/api/syncs/{sync_id}").raise_for_status()
                    gets.append(time.perf_counter() - t0)
                    time.sleep(max(0.0, args.every - (time.perf_counter() - t0)))
            for client in clients:
                client.join()
            wall = time.monotonic() - started
            states = [api.get(f"/api/syncs/{i}").json() for i in ids]
        finally:
            api.close()
            proc.terminate()
            proc.wait(60)
    kinds = ", ".join(t + (" dry run" if o else "") for t, o in SYNCS)
    ends = ", ".join(f"{s['tenant']} {s['state']} {s['counts']}" for s in states)
    print(f"four syncs ({kinds}) in {wall:.1f} s: {ends}")
    print(f"POST /api/tenants/{{tenant}}/syncs: {', '.join(f'{p * 1000:.0f}' for p in posts)} ms")
    print(f"GET /api/syncs/{{id}} while they ran: {percentiles(gets)}")
    print(f"WebSocket event lag (ledger → client): {percentiles(lags)} over {len(names)} events")


if __name__ == "__main__":
    main()

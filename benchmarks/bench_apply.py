"""Apply benchmark: N repo creates against the simulator with injected latency and job time.

Compares the wall time of DirectorSync's apply with

- the concurrency bound: rows × per-row time ÷ in-flight limit, where the per-row time is one
  POST (latency) + the order's run time + the poll that sees it done (latency);
- today's tool: one request at a time, a poll right away then every 1 s (measured on a sample of
  rows and extrapolated, since 2,000 rows would take over half an hour).

``--ledger`` also applies the same number of rows as a run of the run ledger (SQLite in the
temporary reports folder: run record, tenant lease, a journal entry per write, progress events)
and prints the journaling cost next to the plain apply.

Run: ``python benchmarks/bench_apply.py [--rows 2000] [--latency-ms 25] [--job-ms 100]
[--concurrency 16] [--legacy-sample 10] [--ledger]`` (loopback only; bounded in time by its
sizes).

The apply verifies by default (reads back what it wrote, :mod:`directorsync.verify`): the time
of that read-back is printed; ``--no-verify-apply`` turns it off, and ``--verify-cost`` applies a
second workbook of the same size without verification to print the difference.

Run: ``python benchmarks/bench_apply.py [--rows 2000] [--latency-ms 25] [--job-ms 100]
[--concurrency 16] [--legacy-sample 10] [--no-verify-apply] [--verify-cost]`` (loopback only;
bounded in time by its sizes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests

from directorsync.config import load_settings, new_run_id
from directorsync.notebook.ledger_run import apply_recorded
from directorsync.session import Session
from directorsync.simulator import DEMO_TENANTS_YAML, Simulator

TOKEN = "bench-token"
TENANT = "demo"


def write_workbook(path: Path, rows: int, prefix: str = "Repo_bench") -> Path:
    frame = pd.DataFrame(
        {
            "repo_number": range(rows),
            "original_repo_name": [f"{prefix}-{i:05d}" for i in range(rows)],
            "cleaned_repo_name": [f"{prefix}_{i:05d}" for i in range(rows)],
            "storage_paths": "/opt/immune/storage",
            "retention_days": 30,
            "active": True,
            "used_size": "0 MB",
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        frame.to_excel(writer, sheet_name="Repo", index=False)
    return path


def run_directorsync(
    sim: Simulator,
    tenants: Path,
    workbook: Path,
    concurrency: int,
    ledger: bool = False,
    verify: bool = True,
) -> tuple[float, dict, dict]:
    settings = load_settings(
        env={},
        overrides={
            "director.base_url": sim.base_url,
            "director.token": TOKEN,
            "app.concurrency": concurrency,
            "app.reports_dir": str(tenants.parent / "reports"),
        },
    )
    with Session.open(settings=settings, tenants_file=tenants) as session:
        plan = session.plan(TENANT, workbook, ["repos"])
        started = time.perf_counter()
        if ledger:  # as the notebook and the widget apply: record, lease, journal, events
            run_id = new_run_id()
            folder = tenants.parent / "reports" / run_id
            result = apply_recorded(session, plan, run_id=run_id, folder=folder, reports=False)
        else:
            result = session.apply(plan, verify=verify)
        wall = time.perf_counter() - started
        return wall, result["summary"]["by_status"], result.get("verification") or {}


def run_legacy(sim: Simulator, rows: int) -> float:
    """Today's behaviour: sequential POST, first poll at once, then one poll per second."""
    pool, node = "d3e0a1b2c3d4e5f60718293a4b5c6d7e", "bac0e4d0bac0e4d0bac0e4d0bac0e401"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {TOKEN}"
    started = time.perf_counter()
    for i in range(rows):
        body = {
            "data": {
                "name": f"Legacy_{i:05d}",
                "hiddenrepopath": [{"path": "/opt/immune/storage/", "retention": 30}],
            }
        }
        message = http.post(
            f"{sim.base_url}/configapi/{pool}/{node}/Repos", json=body, timeout=30
        ).json()["message"]
        while True:
            state = http.get(f"{sim.base_url}/{message.lstrip('/')}", timeout=30).json()
            if state.get("response", {}).get("success") is not None:
                break
            time.sleep(1.0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--latency-ms", type=int, default=25)
    parser.add_argument("--job-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--legacy-sample", type=int, default=10)
    parser.add_argument("--ledger", action="store_true", help="also apply as a ledger run")
    parser.add_argument("--no-verify-apply", action="store_true", help="skip the read-back")
    parser.add_argument(
        "--verify-cost", action="store_true", help="also apply as many rows unverified"
    )
    args = parser.parse_args()
    unverified = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tenants = tmp / "tenants.yml"
        tenants.write_text(DEMO_TENANTS_YAML)
        workbook = write_workbook(tmp / "bench.xlsx", args.rows)
        with Simulator(
            seed=tenants, token=TOKEN, latency_ms=args.latency_ms, job_ms=args.job_ms
        ) as sim:
            wall, statuses, check = run_directorsync(
                sim, tenants, workbook, args.concurrency, verify=not args.no_verify_apply
            )
            if args.ledger:
                other = write_workbook(tmp / "bench-ledger.xlsx", args.rows, "Repo_ledger")
                journaled, ledger_statuses, _ = run_directorsync(
                    sim, tenants, other, args.concurrency, ledger=True
                )
            if args.verify_cost:
                other = write_workbook(tmp / "other.xlsx", args.rows, prefix="Repo_plain")
                unverified = run_directorsync(sim, tenants, other, args.concurrency, verify=False)[
                    0
                ]
            legacy = run_legacy(sim, args.legacy_sample) if args.legacy_sample else 0.0
    per_row = (2 * args.latency_ms + args.job_ms) / 1000
    bound = args.rows * per_row / args.concurrency
    legacy_total = legacy / max(1, args.legacy_sample) * args.rows
    print(
        f"rows={args.rows} latency={args.latency_ms}ms job={args.job_ms}ms concurrency={args.concurrency}"
    )
    print(f"statuses: {statuses}")
    print(f"DirectorSync apply wall time: {wall:.1f} s")
    if args.ledger:
        print(f"as a ledger run (journaled):  {journaled:.1f} s  ({ledger_statuses})")
        print(
            f"journaling cost:              {journaled - wall:+.1f} s "
            f"({(journaled - wall) / wall:+.1%}, {(journaled - wall) / args.rows * 1000:+.2f} ms/row)"
        )
    if check.get("status") != "skipped":
        print(
            f"verification:                 {check.get('duration_s', 0):.2f} s "
            f"({check.get('status')}, {check.get('checked')} rows read back)"
        )
    if unverified:
        print(f"same apply, not verified:     {unverified:.1f} s")
    ratio = f"ratio {wall / bound:.2f}x" if bound else "no latency or job time"
    print(f"concurrency bound:            {bound:.1f} s  ({ratio})")
    if args.legacy_sample:
        print(
            f"sequential 1 s polling (est): {legacy_total:.0f} s  "
            f"({legacy_total / wall:.0f}x slower), from {args.legacy_sample} rows measured"
        )


if __name__ == "__main__":
    main()

"""CLI benchmark: `directorsync plan --out` then `directorsync apply --plan --dry-run`, end to end.

The same workbook, inventory and separate simulator process as ``bench_plan.py`` (100,000
devices × 3 nodes by default: a 300,000-row plan with about 30,000 changes). Each command runs as
a user runs it, in its own process: imports, workbook load, listings, the plan file, the reports.
Reported per command: wall seconds (median) and the peak memory of its process.

Run: ``python benchmarks/bench_cli.py [--devices 100000] [--nodes 3] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_plan import TOKEN, prepare, separate_simulator


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak resident MB and exit code of one command in its own process."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
        "w = time.perf_counter() - t; "
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    workbook, tenants, state = prepare(args.devices, args.nodes)
    exe = [sys.executable, "-m", "directorsync"]
    figures: dict[str, list[tuple[float, float]]] = {"plan": [], "apply": []}
    with separate_simulator(tenants, state) as url, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ)
        env.update(
            DSYNC_DIRECTOR__BASE_URL=url,
            DSYNC_DIRECTOR__TOKEN=TOKEN,
            LP_TENANTS_FILE=str(tenants),
            DSYNC_APP__REPORTS_DIR=str(work / "reports"),
        )
        plan_file = work / "plan.json"
        plan = [*exe, "plan", "--tenant", "bench", "--xlsx", str(workbook), "--out", str(plan_file)]
        plan += ["--resources", "device_groups,devices"]
        apply = [*exe, "apply", "--plan", str(plan_file), "--dry-run"]
        timed(plan, env, work)  # the simulator's first answers: not timed
        for _ in range(args.repeat):
            for name, command in (("plan", plan), ("apply", apply)):
                seconds, peak, code = timed(command, env, work)
                if code not in (0, 1):  # 1: the plan holds error rows, as generated
                    sys.exit(f"{name} exited with {code}")
                figures[name].append((seconds, peak))
        counts = json.loads(plan_file.read_text())["counts"]
        rows = sum(counts.values())
    print(f"devices={args.devices} nodes={args.nodes} plan rows={rows:,} counts={counts}")
    for name, label in (("plan", "plan --out"), ("apply", "apply --plan --dry-run")):
        runs = figures[name]
        seconds = statistics.median(s for s, _ in runs)
        peak = max(p for _, p in runs)
        print(f"{label:24} {seconds:6.2f} s (median of {len(runs)}), peak memory {peak:,.0f} MB")


if __name__ == "__main__":
    main()

"""Export benchmark: 100,000 devices × 3 nodes on Director → a workbook (target ≤ 5 s).

Reuses the plan benchmark's cached simulator state (``benchmarks/.cache/``, made by
``bench_plan.py``'s :func:`state_file`: ~95k devices per node and their groups) and runs the
simulator in its own process, as a remote Director would be. Each export runs in a fresh session
(new inventory): listing devices and device groups on the three nodes over HTTP, reading the
columns back, comparing the nodes, writing the workbook. The first export is not timed (the
simulator warms up).

Run: ``python benchmarks/bench_export.py [--devices 100000] [--nodes 3] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

from bench_plan import TOKEN, prepare, separate_simulator  # noqa: E402

from directorsync.config import load_settings  # noqa: E402
from directorsync.export import export_workbook  # noqa: E402
from directorsync.inventory import Inventory  # noqa: E402
from directorsync.session import Session  # noqa: E402


def export_once(url: str, tenants: Path, out: Path) -> dict:
    """One export in a fresh session; wall time and the export's own stage times."""
    settings = load_settings(env={}, overrides={"director.base_url": url, "director.token": TOKEN})
    with Session.open(settings=settings, tenants_file=tenants) as session:
        inventory = Inventory(session.client, session.tenant("bench"), session.profiles)
        t0 = time.perf_counter()
        result = export_workbook(inventory, session.profiles, out, ["devices"])
        wall = time.perf_counter() - t0
    return {
        "wall": wall,
        "objects": result.objects,
        "divergences": len(result.divergences),
        "seconds": result.seconds,
        "size": out.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _, tenants, state = prepare(args.devices, args.nodes)
    with tempfile.TemporaryDirectory() as folder, separate_simulator(tenants, state) as url:
        out = Path(folder) / "export.xlsx"
        export_once(url, tenants, out)  # warm-up, not timed
        runs = [export_once(url, tenants, out) for _ in range(args.repeat)]
    for i, run in enumerate(runs, 1):
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in run["seconds"].items() if k != "total")
        print(f"run {i}: export {run['wall']:.2f} s ({stages}); {run['size'] / 1e6:.1f} MB")
    first = runs[0]
    print(
        f"objects {first['objects']}, divergences between nodes {first['divergences']}; "
        f"median {statistics.median(r['wall'] for r in runs):.2f} s over {len(runs)} runs; "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()

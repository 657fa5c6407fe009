"""How big and how slow is the HTML report of a large result?

Builds a synthetic ``directorsync/result@1`` with N rows (default 100,000) spread over eight
resources, with a realistic mix of statuses and nested before/after values, then times
``summarize``, ``render_html`` and ``write_result_json`` and prints the sizes.

    python benchmarks/bench_report.py [--rows 100000] [--max-detail-rows 500] [--repeat 3]

Figures are in docs/reports.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from directorsync.report.console import summarize, write_result_json
from directorsync.report.customer import render_html

RESOURCES = (
    "repos", "routing_policies", "normalization_policies", "enrichment_policies",
    "processing_policies", "device_groups", "devices", "syslog_collectors",
)  # fmt: skip
# out of 100 rows: the steady state of a tenant with a workbook that mostly matches
MIX = ["UNCHANGED"] * 80 + ["UPDATED"] * 10 + ["CREATED"] * 6 + ["SKIP"] * 3 + ["ERROR"]


def make_row(i: int) -> dict:
    status = MIX[i % len(MIX)]
    resource = RESOURCES[i % len(RESOURCES)]
    before = {"criteria": [{"key": "EventID", "value": str(4600 + i % 50)}], "retention": 90}
    after = {"criteria": [{"key": "EventID", "value": str(4600 + i % 50)}], "retention": 180}
    changing = status in ("UPDATED", "CREATED", "ERROR")
    return {
        "resource": resource,
        "node_id": f"N{i % 3}",
        "node_name": f"lp-node-{i % 3:02d}",
        "key": f"{resource}-{i:06d}",
        "action": {"CREATED": "create", "UNCHANGED": "unchanged", "SKIP": "skip"}.get(status, "update"),
        "status": status,
        "reason": "referenced repo not found" if status == "SKIP" else None,
        "error": "Director: name already in use" if status == "ERROR" else None,
        "changes": [
            {"field": "policy", "before": None if status == "CREATED" else before, "after": after},
            {"field": "description", "before": "old text", "after": f"row {i} ünïcode"},
        ] if changing else [],
        "order_id": f"{i:08x}" if changing else None,
        "duration_ms": 150 + i % 400 if changing else None,
        "attempts": 1,
        "source": f"bench.xlsx › {resource} › row {i + 2}",
    }  # fmt: skip


def make_result(rows: int) -> dict:
    return {
        "schema": "directorsync/result@1",
        "run_id": "bench",
        "tenant": "bench",
        "pool_uuid": "pool",
        "workbook": "bench.xlsx",
        "dry_run": False,
        "started_at": "2024-06-11T09:00:00+00:00",
        "finished_at": "2024-06-11T09:30:00+00:00",
        "phases": {"load": 10.0, "plan": 30.0, "apply": 1760.0},
        "findings": [],
        "rows": [make_row(i) for i in range(rows)],
    }


def best_of(repeat: int, fn, *args, **kwargs) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--max-detail-rows", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    result = make_result(args.rows)
    t_sum, _ = best_of(args.repeat, summarize, result["rows"])
    t_html, html = best_of(args.repeat, render_html, result, max_detail_rows=args.max_detail_rows)
    with tempfile.TemporaryDirectory() as tmp:
        t_json, path = best_of(args.repeat, write_result_json, result, Path(tmp) / "result.json")
        json_size = path.stat().st_size
    html_size = len(html.encode("utf-8"))
    shown = html.count('<td class="key">')
    print(f"rows                 {args.rows:>12,}")
    print(
        f"max_detail_rows      {args.max_detail_rows:>12,} per resource ({len(RESOURCES)} resources)"
    )
    print(f"detail rows in HTML  {shown:>12,}")
    print(f"summarize            {t_sum * 1000:>10.0f} ms")
    print(f"render_html          {t_html * 1000:>10.0f} ms")
    print(f"report.html size     {html_size / 1e6:>10.2f} MB")
    print(f"write_result_json    {t_json * 1000:>10.0f} ms")
    print(f"result.json size     {json_size / 1e6:>10.2f} MB")


if __name__ == "__main__":
    main()

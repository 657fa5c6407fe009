"""``directorsync demo``: the whole flow against the embedded Director simulator.

Starts an in-process simulator seeded with the demo tenant, writes the project's own demo
workbook (``directorsync.synth``, with a few deliberately bad rows), shows the plan, applies it,
plans again to prove nothing is left to change, writes the reports and prints where they are.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from directorsync.apply import failed
from directorsync.config import load_settings
from directorsync.logs import setup_logging
from directorsync.report import print_plan, print_result, write_result_json
from directorsync.session import Session, result_dir

TENANT = "demo"


def run_demo(
    reports_dir: Path, console: Console, *, workbook: Path | None = None
) -> dict[str, Any]:
    """Run the demo; returns ``{"result", "second_plan", "folder"}``."""
    from directorsync.htmlreport import write_html
    from directorsync.simulator import DEMO_TENANTS_YAML, Simulator
    from directorsync.synth import write_demo_workbook

    token = secrets.token_hex(16)
    started = time.perf_counter()
    with Simulator(seed=None, token=token) as sim:
        settings = load_settings(
            env={},
            overrides={
                "director.base_url": sim.base_url,
                "director.token": token,
                "app.reports_dir": str(reports_dir),
                "logging.app_log": None,
            },
        )
        out = result_dir(settings, TENANT)
        inputs = out / "inputs"
        inputs.mkdir(parents=True, exist_ok=True)
        tenants_file = inputs / "tenants.yml"
        tenants_file.write_text(DEMO_TENANTS_YAML, encoding="utf-8")
        workbook = workbook or write_demo_workbook(inputs / "demo_config.xlsx")
        console.rule(f"DirectorSync demo — simulator at {sim.base_url}")
        console.print(f"workbook: {workbook}")
        logs = setup_logging(
            run_id=settings.run_id,
            console_level="WARNING",
            action_log=out / "actions.log",
            secrets=[token],
        )
        try:
            with Session.open(
                settings=settings,
                tenants_file=tenants_file,
                progress=lambda m: console.print(f"[dim]… {m}"),
            ) as session:
                plan = session.plan(TENANT, workbook)
                plan.save(out / "plan.json")
                console.rule("1. plan")
                print_plan(plan.to_dict(), console)
                console.rule("2. apply")
                result = session.apply(plan)
                print_result(result, console)
                console.rule("3. plan again")
                second = session.plan(TENANT, workbook)
        finally:
            logs.close()
        write_result_json(result, out / "result.json")
        write_html(result, out / "report.html")
    counts = second.counts()
    changes = counts["create"] + counts["update"]
    verdict = (
        "nothing left to change: the apply converged"
        if changes == 0
        else f"{changes} rows still differ"
    )
    console.print(
        f"second plan: {counts['unchanged']} unchanged, {counts['skip']} skipped (bad rows), "
        f"{changes} to change — {verdict}"
    )
    console.rule("reports")
    console.print(f"HTML report : {out / 'report.html'}")
    console.print(f"JSON result : {out / 'result.json'}")
    console.print(f"plan        : {out / 'plan.json'}")
    console.print(f"action log  : {out / 'actions.log'}")
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    return {"result": result, "second_plan": second, "folder": out}


@click.command("demo")
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the demo writes reports/<tenant>/<run_id>/.",
)
def demo_command(reports_dir: Path) -> int:
    """Run plan → apply → re-plan against the embedded simulator with the demo workbook."""
    outcome = run_demo(reports_dir, Console())
    second = outcome["second_plan"].counts()
    converged = second["create"] + second["update"] == 0
    return 0 if converged and not _unexpected(outcome["result"]) else 1


def _unexpected(result: dict[str, Any]) -> bool:
    """Errors other than the demo workbook's deliberate bad rows."""
    return failed(result) and any(r["status"] == "EXCEPTION" for r in result["rows"])

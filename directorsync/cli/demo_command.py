"""``directorsync demo``: the whole flow against the embedded Director simulator.

Starts an in-process simulator seeded with the demo tenant, writes the project's own demo
workbook (``directorsync.synth``, with a few deliberately bad rows), shows the plan, applies it,
checks that every deliberately bad row was caught, plans again to prove nothing is left to
change, writes the reports and prints where they are.

Tables and the summary go to stdout; progress (``… planning``) goes to stderr. The command exits
0 unless something other than a deliberately bad row failed, a deliberately bad row was not
caught, or the second plan still has changes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from directorsync.config import Settings, load_settings
from directorsync.logs import setup_logging
from directorsync.report.console import plural, print_plan, print_result, write_result_json
from directorsync.session import Session, result_dir
from directorsync.vocabulary import FAILED, NOT_OK

if TYPE_CHECKING:
    from directorsync.plan import Plan

TENANT = "demo"


def run_demo(
    reports_dir: Path,
    console: Console,
    *,
    workbook: Path | None = None,
    status: Console | None = None,
    bad_rows: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Run the demo: plan → apply → check the bad rows → re-plan → reports.

    Args:
        reports_dir: where ``<tenant>/<run_id>/`` is written.
        console: tables and summary (stdout for the command).
        workbook: another workbook instead of the generated demo workbook.
        status: progress lines (default: stderr).
        bad_rows: the rows expected to be caught (``sheet``, ``excel_row``, ``problem``);
            default: ``directorsync.synth.DEMO_BAD_ROWS`` for the demo workbook, none for
            another workbook.

    Returns:
        ``{"result", "second_plan", "folder", "bad_rows", "unexpected", "ok"}``:
        ``bad_rows`` as :func:`check_bad_rows` gives them, ``unexpected`` the failed rows that
        are not deliberately bad (:func:`unexpected_failures`), ``ok`` the demo's verdict.
    """
    from directorsync.synth import DEMO_BAD_ROWS

    if bad_rows is None:
        bad_rows = DEMO_BAD_ROWS if workbook is None else []
    status = status or Console(stderr=True)
    started = time.perf_counter()
    result, second, out = _run(reports_dir, console, status, workbook)
    outcome = {
        "result": result,
        "second_plan": second,
        "folder": out,
        "bad_rows": check_bad_rows(result, bad_rows),
        "unexpected": unexpected_failures(result, bad_rows),
    }
    outcome["ok"] = demo_ok(outcome)
    _print_outcome(console, outcome)
    console.print(f"done in {time.perf_counter() - started:.1f} s")
    return outcome


def _run(
    reports_dir: Path, console: Console, status: Console, workbook: Path | None
) -> tuple[dict[str, Any], Plan, Path]:
    """The simulator, the plan, the apply and the second plan; (result, second plan, folder)."""
    from directorsync.simulator import DEMO_TENANTS_YAML, Simulator
    from directorsync.synth import write_demo_workbook

    token = secrets.token_hex(16)
    with Simulator(seed=None, token=token) as sim:
        settings = _settings(sim.base_url, token, reports_dir)
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
                progress=lambda m: status.print(f"[dim]… {m}"),
            ) as session:
                result, second = _flow(session, workbook, out, console)
        finally:
            logs.close()
    return result, second, out


def _settings(base_url: str, token: str, reports_dir: Path) -> Settings:
    return load_settings(
        env={},
        overrides={
            "director.base_url": base_url,
            "director.token": token,
            "app.reports_dir": str(reports_dir),
            "logging.app_log": None,
        },
    )


def _flow(
    session: Session, workbook: Path, out: Path, console: Console
) -> tuple[dict[str, Any], Plan]:
    """Plan, apply, plan again; writes plan.json, result.json and report.html."""
    from directorsync.report.customer import write_html

    plan = session.plan(TENANT, workbook)
    data = plan.to_dict()
    plan.save(out / "plan.json", data)
    console.rule("1. plan")
    print_plan(data, console)
    console.rule("2. apply")
    result = session.apply(plan)
    print_result(result, console)
    write_result_json(result, out / "result.json")
    write_html(result, out / "report.html")
    console.rule("3. plan again")
    return result, session.plan(TENANT, workbook)


# --- the deliberately bad rows --------------------------------------------------------------


def _at(row_or_finding: Mapping[str, Any], bad: Mapping[str, Any], rows_field: str) -> bool:
    if row_or_finding.get("sheet") != bad.get("sheet"):
        return False
    where = row_or_finding.get(rows_field)
    rows = where if isinstance(where, list) else [where]
    return bad.get("excel_row") in rows


def check_bad_rows(
    result: Mapping[str, Any], bad_rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """How each deliberately bad row ended.

    A bad row is caught when its result row (same sheet and Excel row) is SKIP, ERROR or
    EXCEPTION with a reason, or, failing that, when a finding names its cell (a warning: the row
    was written without the bad value).

    Args:
        result: the ``directorsync/result@1`` dict of the apply.
        bad_rows: ``{sheet, excel_row, problem, …}`` each (``directorsync.synth.DEMO_BAD_ROWS``).

    Returns:
        One dict per bad row: ``sheet``, ``excel_row``, ``problem``, ``caught`` (bool) and
        ``how`` (``"SKIP: <reason>"``, ``"warning: <message> (row CREATED)"`` or why not).
    """
    return [{**_pick(bad), **_catch(result, bad)} for bad in bad_rows]


def _pick(bad: Mapping[str, Any]) -> dict[str, Any]:
    return {k: bad.get(k) for k in ("sheet", "excel_row", "problem")}


def _catch(result: Mapping[str, Any], bad: Mapping[str, Any]) -> dict[str, Any]:
    rows = [r for r in result.get("rows") or [] if _at(r, bad, "excel_rows")]
    for row in rows:
        why = row.get("reason") or row.get("error")
        if row.get("status") in NOT_OK and why:
            return {"caught": True, "how": f"{row['status']}: {why}"}
    findings = [f for f in result.get("findings") or [] if _at(f, bad, "row")]
    if findings:
        ended = ", ".join(str(r.get("status")) for r in rows) or "no row"
        finding = findings[0]
        level = {"warn": "warning"}.get(finding.get("severity"), finding.get("severity"))
        how = f"{level or 'finding'}: {finding.get('message')}; row {ended}"
        return {"caught": True, "how": how}
    ended = ", ".join(str(r.get("status")) for r in rows) or "no row in the result"
    return {"caught": False, "how": f"not caught: {ended}"}


def unexpected_failures(
    result: Mapping[str, Any], bad_rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Rows in ERROR / EXCEPTION that are not deliberately bad rows, and plan error notes."""
    rows = [
        r
        for r in result.get("rows") or []
        if r.get("status") in FAILED and not any(_at(r, bad, "excel_rows") for bad in bad_rows)
    ]
    notes = [
        {"resource": n.get("resource"), "status": "plan error", "error": n.get("message")}
        for n in result.get("notes") or []
        if n.get("level") == "error"
    ]
    return rows + notes


def demo_ok(outcome: Mapping[str, Any]) -> bool:
    """The demo's verdict: converged, no unexpected failure, every bad row caught."""
    counts = outcome["second_plan"].counts()
    converged = counts["create"] + counts["update"] == 0
    caught = all(b["caught"] for b in outcome["bad_rows"])
    return converged and caught and not outcome["unexpected"]


# --- what the demo prints at the end --------------------------------------------------------


def _print_outcome(console: Console, outcome: Mapping[str, Any]) -> None:
    second = outcome["second_plan"].counts()
    changes = second["create"] + second["update"]
    verdict = (
        "nothing left to change: the apply converged"
        if changes == 0
        else f"{plural(changes, 'row')} still differ"
    )
    console.print(
        f"second plan: {second['unchanged']} unchanged, {second['skip']} skipped (bad rows), "
        f"{changes} to change — {verdict}"
    )
    _print_bad_rows(console, outcome)
    _print_unexpected(console, outcome["unexpected"])
    folder = outcome["folder"]
    console.rule("reports")
    console.print(f"HTML report : {folder / 'report.html'}")
    console.print(f"JSON result : {folder / 'result.json'}")
    console.print(f"plan        : {folder / 'plan.json'}")
    console.print(f"action log  : {folder / 'actions.log'}")
    style = "bold green" if outcome["ok"] else "bold red"
    console.print(Text(f"demo {'OK' if outcome['ok'] else 'FAILED'}", style))


def _print_bad_rows(console: Console, outcome: Mapping[str, Any]) -> None:
    checks = outcome["bad_rows"]
    if not checks:
        return
    console.rule("4. deliberately bad rows")
    table = Table(title="Rows the demo workbook gets wrong on purpose", title_justify="left")
    for col in ("sheet", "row", "problem", "caught"):
        table.add_column(col, overflow="fold")
    for check in checks:
        mark, style = ("✓", "green") if check["caught"] else ("✗", "bold red")
        cells = (check["sheet"], check["excel_row"], check["problem"])
        table.add_row(*(Text(str(c)) for c in cells), Text(f"{mark} {check['how']}", style))
    console.print(table)
    missed = sum(not c["caught"] for c in checks)
    if missed:
        console.print(
            Text(f"{missed} of {len(checks)} deliberately bad rows NOT caught.", "bold red")
        )
    else:
        console.print(Text(f"All {len(checks)} deliberately bad rows were caught.", "green"))
    _print_expected_failures(console, outcome)


def _print_expected_failures(console: Console, outcome: Mapping[str, Any]) -> None:
    by_status = (outcome["result"].get("summary") or {}).get("by_status") or {}
    failed = sum(by_status.get(s, 0) for s in FAILED)
    unexpected = sum(r.get("status") in FAILED for r in outcome["unexpected"])
    expected = failed - unexpected
    if expected:
        which = "it is" if expected == 1 else "they are"
        console.print(
            Text(f"{plural(expected, 'row')} failed above: {which} deliberately bad (expected).")
        )


def _print_unexpected(console: Console, rows: list[Mapping[str, Any]]) -> None:
    if not rows:
        return
    console.print(Text(f"{plural(len(rows), 'unexpected failure')}:", "bold red"))
    for row in rows:
        what = f"{row.get('resource')} {row.get('key') or ''}".strip()
        console.print(Text(f"  {what}: {row.get('status')}: {row.get('error')}", "red"))


@click.command("demo")
@click.option(
    "--reports-dir",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Where the demo writes reports/<tenant>/<run_id>/.",
)
def demo_command(reports_dir: Path) -> int:
    """Run plan → apply → re-plan against the embedded simulator with the demo workbook.

    Exits 1 when a row other than the workbook's deliberately bad rows failed, a deliberately
    bad row was not caught, or the second plan still has changes.
    """
    outcome = run_demo(reports_dir, Console(), status=Console(stderr=True))
    return 0 if outcome["ok"] else 1

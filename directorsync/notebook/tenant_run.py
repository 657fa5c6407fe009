"""What the notebooks call: open a run, and show plans, findings and results as tables.

The notebooks stay thin (a parameters cell, then a handful of calls into this module)::

    run = open_run(tenant="core", workbook="core_config.xlsx", tenants_file="tenants.yml")
    plan = run.plan()
    show_summary(plan); show_plan(plan); show_findings(plan)
    result = run.apply(plan, dry_run=True)
    run.write_reports(result)

Secrets are never parameters: the Director URL and token come from the environment or the config
file (:func:`directorsync.config.load_settings`). With ``simulator=True`` an in-process Director
simulator seeded from the tenants file is started and the session points at it. The token is
registered with :mod:`directorsync.redact` so that nothing shown or written carries it.

Like ``directorsync apply``, a run logs to ``actions.log`` in its reports folder (and to the
application log of the settings) from :func:`open_run` until :meth:`NotebookRun.close`.

Table builders (``*_table``) are pure and return DataFrames; ``show_*`` display them.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from directorsync import redact
from directorsync.config import Settings, load_settings, new_run_id
from directorsync.errors import ConfigError, WorkbookError
from directorsync.logs import RunLogging, setup_logging
from directorsync.notebook.ledger_run import apply_recorded
from directorsync.plan import Plan
from directorsync.planner import desired_frame
from directorsync.profile.model import dependency_order
from directorsync.report.console import compact
from directorsync.session import Session, report_folder

#: rows shown per resource in the notebook (the HTML report and result.json hold every row)
MAX_ROWS = 200
CHANGES_CHARS = 160


def parse_resources(resources: str | Iterable[str] | None) -> list[str] | None:
    """``"repos, devices"`` or ``["repos"]`` → a list; empty → None (every resource)."""
    if resources is None:
        return None
    items = resources.split(",") if isinstance(resources, str) else list(resources)
    names = [str(r).strip() for r in items if str(r).strip()]
    return names or None


def _path(value: str | Path | None) -> Path | None:
    return Path(value).expanduser() if value not in (None, "") else None


@dataclass
class NotebookRun:
    """A session opened for one tenant and workbook, plus where its reports go."""

    session: Session
    tenant: str
    workbook: Path
    resources: list[str] | None
    output_dir: Path | None = None
    simulator: Any = None
    ledger_runs: list[str] = field(default_factory=list)
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    @property
    def settings(self) -> Settings:
        """The settings of the run's session."""
        return self.session.settings

    @property
    def run_id(self) -> str:
        """The run's id (names its report folder)."""
        return self.settings.run_id

    def describe(self) -> pd.DataFrame:
        """What this run works on (no secret: the token is never shown)."""
        info = {
            "tenant": self.tenant,
            "workbook": str(self.workbook),
            "resources": ", ".join(self.resources or ["(all with a sheet)"]),
            "director": self.settings.director.base_url
            + (" (in-process simulator)" if self.simulator else ""),
            "run id": self.run_id,
            "reports": str(self.reports_dir()),
        }
        return pd.DataFrame({"value": info})

    def reports_dir(self) -> Path:
        """``output_dir``, else ``<reports_dir>/<tenant>/<run_id>/`` (not created here)."""
        return reports_dir(self.settings, self.tenant, self.output_dir)

    def plan(self) -> Plan:
        """Plan the workbook against the live inventory."""
        return self.session.plan(self.tenant, self.workbook, self.resources)

    def apply(
        self, plan: Plan, *, dry_run: bool = False, trigger: str = "notebook"
    ) -> dict[str, Any]:
        """Apply the plan (or, with ``dry_run``, report what would be sent): the result dict.

        The apply is a run of the run ledger, like ``directorsync apply``: it holds the tenant's
        lease, journals its writes and records its state, counts and artifacts (the files
        :meth:`write_reports` writes). ``trigger``: ``notebook``, or ``cli`` for a tenant of
        ``directorsync run`` (its record is then of kind ``run``). See
        :mod:`directorsync.notebook.ledger_run`.
        """
        kind = "run" if trigger == "cli" else "apply"
        run_id = new_run_id() if self.ledger_runs else self.run_id
        # a tenant of `directorsync run` shares the run id of its fleet: its record adds the tenant
        record = f"{run_id}-{self.tenant}" if kind == "run" else run_id
        self.ledger_runs.append(record)
        return apply_recorded(
            self.session,
            plan,
            run_id=run_id,
            ledger_id=record,
            folder=self.reports_dir(),
            trigger=trigger,
            kind=kind,
            dry_run=dry_run,
            reports=False,
        )

    def write_reports(self, result: Mapping[str, Any], plan: Plan | None = None) -> pd.DataFrame:
        """Write ``result.json`` and ``report.html`` (and ``plan.json``) to :meth:`reports_dir`.

        Returns:
            The files written (a small table to show).
        """
        from directorsync.report.console import write_result_json
        from directorsync.report.customer import write_html

        out = self.reports_dir()
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "result": write_result_json(result, out / "result.json"),
            "report": write_html(result, out / "report.html"),
        }
        if plan is not None:
            files["plan"] = plan.save(out / "plan.json")
        return pd.DataFrame({"file": {k: str(v) for k, v in files.items()}})

    def mapped_frames(self) -> dict[str, pd.DataFrame]:
        """Each selected resource's mapped (desired) frame, before prechecks."""
        from directorsync.transforms import Context
        from directorsync.workbook import Workbook

        wb = Workbook(self.workbook)
        tenant = self.session.tenant(self.tenant)
        ctx = Context(sheets=wb.sheets(), tenant=tenant, options={})
        profiles = self.session.select(self.resources)
        frames = {}
        for name in dependency_order(profiles):
            try:
                frames[name] = desired_frame(profiles[name], wb, ctx)
            except WorkbookError as exc:
                frames[name] = pd.DataFrame({"note": [exc.message]})
        return frames

    def inventory_frames(self) -> dict[str, pd.DataFrame]:
        """Each selected resource as Director holds it now (write shape, one row per object)."""
        from directorsync.inventory import Inventory

        tenant = self.session.tenant(self.tenant)
        live = Inventory(self.session.client, tenant, self.session.profiles)
        profiles = self.session.select(self.resources)
        return {
            name: live.frames(name, tenant.nodes_for(name, profiles[name].targets))
            for name in dependency_order(profiles)
        }

    def close(self) -> None:
        """Close the session and stop the simulator (if one was started)."""
        self.session.close()
        self._stack.close()

    def __enter__(self) -> NotebookRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reports_dir(settings: Settings, tenant: str, output_dir: Path | None = None) -> Path:
    """``output_dir``, else ``<reports_dir>/<tenant>/<run_id>/`` (not created here)."""
    return output_dir or report_folder(settings.app.reports_dir, tenant, settings.run_id)


def start_logging(settings: Settings, folder: Path) -> RunLogging:
    """The run's logging, as ``directorsync apply`` sets it up: ``<folder>/actions.log``.

    Args:
        settings: the run's settings (run id, console level, application log, token).
        folder: the run's reports folder.

    Returns:
        The attached handlers (close them at the end of the run); the token is masked.
    """
    return setup_logging(
        run_id=settings.run_id,
        console_level=settings.logging.level,
        app_log=settings.logging.app_log,
        action_log=folder / "actions.log",
        secrets=[settings.token] if settings.token else [],
    )


def open_run(
    *,
    tenant: str,
    workbook: str | Path = "",
    tenants_file: str | Path = "",
    resources: str | Iterable[str] | None = None,
    config_path: str | Path = "",
    simulator: bool = False,
    output_dir: str | Path = "",
    run_id: str = "",
) -> NotebookRun:
    """Open a session for a notebook run (the notebook's parameters, as they are).

    Args:
        tenant: tenant name in the tenants file.
        workbook: the workbook; empty: ``inputs.workbooks.<tenant>`` or
            ``<inputs.xlsx_dir>/<tenant>_config.xlsx`` from the settings.
        tenants_file: the tenants file; empty: ``LP_TENANTS_FILE`` / ``inputs.tenants_file``.
        resources: resources to plan (list or comma-separated); empty: all with a sheet.
        config_path: settings YAML; empty: the usual search paths.
        simulator: start an in-process simulator seeded from the tenants file and use it.
        output_dir: where reports go; empty: ``<reports_dir>/<tenant>/<run_id>/``. The run's
            ``actions.log`` is written there from now until :meth:`NotebookRun.close`.
        run_id: the run's id; empty: a new one.

    Raises:
        ConfigError: no tenants file, no workbook, or no Director URL/token.
    """
    overrides = {"app.run_id": run_id or None}
    if tenants_file:
        overrides["inputs.tenants_file"] = str(tenants_file)
    settings = load_settings(_path(config_path), overrides=overrides)
    stack = contextlib.ExitStack()
    sim = None
    if simulator:
        seed = settings.inputs.tenants_file
        if not seed:
            raise ConfigError("simulator=True needs a tenants file to seed it (tenants_file)")
        from directorsync.simulator import Simulator

        token = settings.token or secrets.token_urlsafe(24)
        sim = stack.enter_context(Simulator(seed=str(seed), token=token))
        settings = load_settings(
            _path(config_path),
            overrides={
                **overrides,
                "app.run_id": settings.run_id,
                "director.base_url": sim.base_url,
                "director.token": token,
            },
        )
    redact.register_secret(settings.token)
    out = _path(output_dir)
    try:
        from directorsync.notebook.batch import workbook_for

        path = _path(workbook) or workbook_for(settings, tenant)
        stack.enter_context(start_logging(settings, reports_dir(settings, tenant, out)))
        session = stack.enter_context(Session.open(settings=settings))
    except BaseException:
        stack.close()
        raise
    return NotebookRun(
        session=session,
        tenant=tenant,
        workbook=path,
        resources=parse_resources(resources),
        output_dir=out,
        simulator=sim,
        _stack=stack,
    )


# --- tables ---------------------------------------------------------------------------------


def summary_table(plan: Plan) -> pd.DataFrame:
    """Rows per resource and node (index) × action (columns), with totals."""
    summary = plan.summary()
    if summary.empty:
        return pd.DataFrame(columns=["create", "update", "unchanged", "skip", "error"])
    table = summary.pivot_table(
        index=["resource", "node"], columns="action", values="count", aggfunc="sum", fill_value=0
    )
    cols = [a for a in ("delete", "create", "update", "unchanged", "skip", "error") if a in table]
    table = table[cols]
    table.columns.name = None
    return table


def _changes_text(changes: Any) -> str:
    if not isinstance(changes, list) or not changes:
        return ""
    text = "; ".join(
        f"{c.get('field')}: {compact(c.get('before'), 40)} → {compact(c.get('after'), 40)}"
        for c in changes
    )
    return compact(text, CHANGES_CHARS)


def plan_tables(plan: Plan, max_rows: int = MAX_ROWS) -> dict[str, pd.DataFrame]:
    """Per resource: its rows (changes first), at most ``max_rows`` each."""
    rank = {"delete": -1, "error": 0, "create": 1, "update": 2, "skip": 3, "unchanged": 4}
    tables = {}
    for resource, rows in plan.rows.groupby("resource", sort=False):
        order = rows["action"].map(rank).fillna(9).sort_values(kind="stable").index
        shown = rows.loc[order].head(max_rows)
        tables[str(resource)] = pd.DataFrame(
            {
                "node": shown["node_name"],
                "key": shown["key"],
                "action": shown["action"],
                "reason": shown["reason"].fillna(""),
                "changes": shown["changes"].map(_changes_text),
                "source": shown["source"],
            }
        )
    return tables


def findings_table(plan: Plan, kind: str | None = None) -> pd.DataFrame:
    """The findings with their Excel row numbers.

    Args:
        plan: the plan whose findings are shown.
        kind: ``"prechecks"`` (pandera failures), ``"unresolved"`` (names not found on
            Director) or None (both).
    """
    findings = plan.findings
    if kind == "unresolved":
        findings = findings[findings["check"] == "resolve"]
    elif kind == "prechecks":
        findings = findings[findings["check"] != "resolve"]
    cols = ["resource", "sheet", "row", "column", "node", "check", "severity", "message", "value"]
    return findings.reindex(columns=cols).reset_index(drop=True)


def result_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """Result rows per resource × status."""
    by_resource = (result.get("summary") or {}).get("by_resource") or {}
    return pd.DataFrame(by_resource).T.fillna(0).astype(int).rename_axis("resource")


def failed_rows_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """The rows that ended in ERROR or EXCEPTION, with Director's message."""
    rows = [r for r in result.get("rows") or [] if r.get("status") in ("ERROR", "EXCEPTION")]
    cols = ["resource", "node_name", "key", "status", "error", "source"]
    return pd.DataFrame(rows).reindex(columns=cols)


# --- display --------------------------------------------------------------------------------


def _display(*objs: Any) -> None:
    from IPython.display import display

    display(*objs)


def _md(text: str) -> Any:
    from IPython.display import Markdown

    return Markdown(text)


def show_summary(plan: Plan) -> None:
    """Counts per action, then rows per resource/node × action, then the plan's notes."""
    counts = ", ".join(f"{n:,} {a}" for a, n in plan.counts().items() if n)
    _display(_md(f"**{plan.tenant}** · plan `{plan.hash[:19]}…` · {counts or 'no rows'}"))
    _display(summary_table(plan))
    if plan.notes:
        _display(pd.DataFrame(plan.notes))


def show_plan(plan: Plan, max_rows: int = MAX_ROWS) -> None:
    """The plan as one DataFrame per resource (changes first; bounded)."""
    totals = plan.rows["resource"].value_counts()
    for resource, table in plan_tables(plan, max_rows).items():
        more = totals[resource] - len(table)
        note = f" (first {len(table)} of {totals[resource]:,})" if more > 0 else ""
        _display(_md(f"#### {resource}{note}"), table)


def show_findings(plan: Plan, kind: str | None = None) -> None:
    """The prechecks' failure table (Excel rows), or a line saying there is none."""
    table = findings_table(plan, kind)
    _display(table if len(table) else _md("_no findings_"))


def show_failures(plan: Plan) -> None:
    """The pandera precheck failures mapped to Excel rows."""
    show_findings(plan, "prechecks")


def show_unresolved(plan: Plan) -> None:
    """Names the workbook uses that Director does not know."""
    show_findings(plan, "unresolved")


def show_frames(frames: Mapping[str, pd.DataFrame], max_rows: int = 20) -> None:
    """A heading and the first rows of each frame."""
    for name, frame in frames.items():
        _display(_md(f"#### {name} ({len(frame):,} rows)"), frame.head(max_rows))


def show_result(result: Mapping[str, Any]) -> None:
    """Statuses per resource, then any failed row with Director's message."""
    mode = "dry run" if result.get("dry_run") else "apply"
    by_status = (result.get("summary") or {}).get("by_status") or {}
    counts = ", ".join(f"{n:,} {s}" for s, n in by_status.items())
    _display(_md(f"**{mode}**: {counts or 'nothing to do'}"), result_table(result))
    failed = failed_rows_table(result)
    if len(failed):
        _display(failed)

"""``directorsync run``: execute ``tenant_sync.ipynb`` once per tenant, then a fleet page.

Each tenant is a :class:`TenantJob`: papermill executes the notebook with the tenant's
parameters (checked first against the notebook with ``papermill.inspect_notebook``) into
``reports/<tenant>/<run_id>/`` — the executed notebook, ``report.html``, ``result.json``,
``plan.json`` and ``actions.log`` (the notebook's ``open_run`` sets up the run's logging). A tenant whose notebook fails keeps its failed notebook there and the other
tenants go on. ``reports/<run_id>/index.html`` links every tenant (``write_fleet_index``).

Jobs run on threads (``--executor local``, ``--parallel N``) or on Dask distributed
(``--executor dask``: a LocalCluster in this process, or ``--scheduler ADDRESS``). Each job
starts its own kernel, so the work itself happens in kernel processes either way.

Secrets are never parameters: the kernels read the Director URL and token from the environment
or the config file, like every other command.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from directorsync.config import Settings, load_settings
from directorsync.errors import ConfigError
from directorsync.fanout import on_dask
from directorsync.session import report_folder

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "tenant_sync.ipynb"
KERNEL = "python3"
OUTPUT_NOTEBOOK = "tenant_sync.ipynb"
#: parameters every job sets (``-p`` may not override them)
MANAGED = frozenset(
    ("tenant", "workbook", "tenants_file", "resources", "dry_run", "config_path", "simulator",
     "output_dir", "run_id", "trigger")
)  # fmt: skip


# --- inputs -----------------------------------------------------------------------------------


def workbook_for(settings: Settings, tenant: str, xlsx_dir: str | Path | None = None) -> Path:
    """The workbook of a tenant.

    Looks, in order, in ``xlsx_dir`` (``<tenant>_config.xlsx``), the config's
    ``inputs.workbooks.<tenant>``, then ``inputs.xlsx_dir``. The file need not exist yet (a
    missing workbook fails that tenant's run, not the batch).

    Raises:
        ConfigError: none of them is set.
    """
    if xlsx_dir:
        return Path(xlsx_dir).expanduser() / f"{tenant}_config.xlsx"
    if tenant in settings.inputs.workbooks:
        return Path(settings.inputs.workbooks[tenant]).expanduser()
    if settings.inputs.xlsx_dir:
        return Path(settings.inputs.xlsx_dir).expanduser() / f"{tenant}_config.xlsx"
    raise ConfigError(
        f"no workbook for tenant {tenant!r}: pass --xlsx-dir DIR (holding {tenant}_config.xlsx), "
        f"or set inputs.workbooks.{tenant} or inputs.xlsx_dir in the config file",
        tenant=tenant,
    )


def check_parameters(notebook: str | Path, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check parameter names against the notebook's ``parameters`` cell.

    Returns:
        The notebook's parameters (``papermill.inspect_notebook``).

    Raises:
        ConfigError: the notebook is missing or has no parameters cell, a parameter is unknown to
            it (named, with the known ones), or a parameter looks like a secret.
    """
    import papermill

    from directorsync.redact import is_secret_key

    path = Path(notebook)
    if not path.is_file():
        raise ConfigError(f"notebook {path} does not exist (pass --notebook PATH)", file=str(path))
    known = papermill.inspect_notebook(str(path))
    if not known:
        raise ConfigError(f"{path} has no cell tagged 'parameters'", file=str(path))
    secret = sorted(name for name in parameters if is_secret_key(name))
    if secret:
        raise ConfigError(
            f"parameter {', '.join(secret)} looks like a secret: secrets are never notebook "
            "parameters (set DSYNC_DIRECTOR__TOKEN or the config file instead)"
        )
    unknown = sorted(set(parameters) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown notebook parameter {', '.join(map(repr, unknown))} for {path.name} "
            f"(it takes: {', '.join(known)})",
            file=str(path),
        )
    return known


def ensure_kernel(name: str = KERNEL) -> None:
    """Make sure the Jupyter kernel exists.

    Raises:
        ConfigError: it does not (the message says how to install it).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel as exc:
        raise ConfigError(
            f"Jupyter kernel {name!r} not found: install it with "
            f"`python -m pip install ipykernel && python -m ipykernel install --user --name {name}`"
        ) from exc


def parse_parameter(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` (the value read as YAML: ``true``, ``3``, ``[a, b]``, text)."""
    import yaml

    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), yaml.safe_load(value) if value else ""


# --- one tenant -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TenantJob:
    """Everything needed to run one tenant's notebook (picklable, for Dask)."""

    tenant: str
    notebook: str
    output_dir: str
    parameters: dict[str, Any]
    kernel: str = KERNEL
    cwd: str = "."
    cell_timeout: float | None = None


@dataclass
class TenantOutcome:
    """How one tenant's run ended."""

    tenant: str
    ok: bool
    output_dir: str
    error: str | None = None
    result: dict[str, Any] | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def notebook(self) -> Path:
        """The executed notebook of this tenant's run."""
        return Path(self.output_dir) / OUTPUT_NOTEBOOK

    @property
    def rows_failed(self) -> bool:
        """Any row in ERROR/EXCEPTION, or a plan error note."""
        from directorsync.runresult import failed

        return self.result is not None and failed(self.result)

    @property
    def failed(self) -> bool:
        """The notebook failed, wrote no result, or a row failed."""
        return not self.ok or self.result is None or self.rows_failed


def _read_result(output_dir: Path) -> dict[str, Any] | None:
    path = output_dir / "result.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in result.items() if k != "rows"}  # the summary is enough here


def _close_thread_loop() -> None:
    """Close the event loop nbclient (through jupyter_core) made for this thread, if any.

    Each papermill run in a worker thread otherwise leaves an open loop (and its socket pair)
    behind for the garbage collector.
    """
    from jupyter_core import utils

    var = getattr(utils, "_loop", None)
    loop = var.get() if var is not None else None
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.close()


def run_tenant(job: TenantJob) -> TenantOutcome:
    """Execute the notebook for one tenant; never raises (the error is in the outcome)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from directorsync.redact import redact_text

    out = Path(job.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    error = None
    try:
        papermill.execute_notebook(
            job.notebook,
            str(out / OUTPUT_NOTEBOOK),
            parameters=job.parameters,
            kernel_name=job.kernel,
            cwd=job.cwd,
            progress_bar=False,
            log_output=False,
            execution_timeout=job.cell_timeout,
            # the kernel's own start-up warnings (transport, debugger) are noise for users
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue} (cell {exc.exec_count})"
    except Exception as exc:  # kernel died, timeout, unreadable notebook: the tenant fails
        error = f"{type(exc).__name__}: {exc}"
    finally:
        _close_thread_loop()
    try:
        result = _read_result(out) if error is None else None
    except (OSError, ValueError) as exc:
        result, error = None, f"unreadable result.json: {exc}"
    return TenantOutcome(
        tenant=job.tenant,
        ok=error is None,
        output_dir=str(out),
        error=redact_text(error) if error else None,
        result=result,
        seconds=round(time.perf_counter() - started, 2),
    )


# --- executors --------------------------------------------------------------------------------

Done = Callable[[TenantOutcome], None]


def run_local(
    jobs: list[TenantJob], parallel: int = 1, on_done: Done | None = None
) -> list[TenantOutcome]:
    """Run the jobs on ``parallel`` threads; outcomes in the jobs' order."""
    outcomes: dict[str, TenantOutcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = {pool.submit(run_tenant, job): job for job in jobs}
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[outcome.tenant] = outcome
            if on_done:
                on_done(outcome)
    return [outcomes[job.tenant] for job in jobs]


def run_dask(
    jobs: list[TenantJob],
    parallel: int = 1,
    on_done: Done | None = None,
    *,
    scheduler: str | None = None,
    run_id: str = "",
) -> list[TenantOutcome]:
    """Run the jobs on Dask distributed; outcomes in the jobs' order.

    Without ``scheduler`` a LocalCluster runs in this process (threads; each job still starts
    its own kernel process). With a scheduler address, the workers must see the same file
    system (notebook, workbooks, reports) and the Director settings.
    """
    local = {"n_workers": 1, "threads_per_worker": max(1, parallel), "processes": False}
    return on_dask(
        run_tenant,
        jobs,
        key=lambda job: f"directorsync-{run_id}-{job.tenant}",
        on_error=lambda job, exc: TenantOutcome(job.tenant, False, job.output_dir, f"dask: {exc}"),
        on_done=on_done,
        scheduler=scheduler,
        local=local,
    )


# --- the fleet --------------------------------------------------------------------------------


def fleet_entries(outcomes: Iterable[TenantOutcome], page_dir: Path) -> list[dict[str, Any]]:
    """The tenants of :func:`~directorsync.report.fleet_page.write_fleet_index`, links relative."""

    def rel(path: Path) -> str:
        return Path(os.path.relpath(path, page_dir)).as_posix()

    return [
        {
            "tenant": o.tenant,
            "ok": o.ok,
            "error": o.error,
            "result": o.result,
            "report_href": rel(Path(o.output_dir) / "report.html"),
            "notebook_href": rel(o.notebook),
        }
        for o in outcomes
    ]


def write_fleet(run_id: str, outcomes: list[TenantOutcome], reports_dir: Path) -> Path:
    """Write ``<reports_dir>/<run_id>/index.html``."""
    from directorsync.report.fleet_page import write_fleet_index

    page_dir = report_folder(reports_dir, run_id)
    return write_fleet_index(run_id, fleet_entries(outcomes, page_dir), page_dir / "index.html")


def describe(outcome: TenantOutcome) -> str:
    """One progress line for a finished tenant."""
    if not outcome.ok or outcome.result is None:
        why = outcome.error or "no result.json was written"
        return (
            f"{outcome.tenant}: FAILED after {outcome.seconds:.1f} s · {why} · {outcome.notebook}"
        )
    counts = (outcome.result.get("summary") or {}).get("by_status") or {}
    text = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no rows"
    state = "rows failed" if outcome.rows_failed else "ok"
    report = Path(outcome.output_dir) / "report.html"
    return f"{outcome.tenant}: {state} in {outcome.seconds:.1f} s · {text} · {report}"


# --- the command ------------------------------------------------------------------------------


def build_jobs(
    settings: Settings,
    tenants: list[str],
    *,
    notebook: Path,
    xlsx_dir: Path | None,
    resources: list[str],
    dry_run: bool,
    simulator: bool,
    config_file: Path | None,
    extra: Mapping[str, Any] | None = None,
    cell_timeout: float | None = None,
) -> list[TenantJob]:
    """One job per tenant; every path absolute (kernels and workers may run elsewhere).

    Raises:
        click.UsageError: an extra parameter would override one the run sets (use its option).
    """
    clash = sorted(set(extra or {}) & MANAGED)
    if clash:
        raise click.UsageError(
            f"-p {', '.join(clash)}: set by the run itself (use the matching option instead)"
        )
    reports = Path(settings.app.reports_dir).resolve()
    tenants_file = settings.inputs.tenants_file
    jobs = []
    for tenant in tenants:
        out = report_folder(reports, tenant, settings.run_id)
        params = {
            "tenant": tenant,
            "workbook": str(workbook_for(settings, tenant, xlsx_dir).resolve()),
            "tenants_file": str(Path(tenants_file).resolve()) if tenants_file else "",
            "resources": list(resources),
            "dry_run": dry_run,
            "config_path": str(config_file.resolve()) if config_file else "",
            "simulator": simulator,
            "output_dir": str(out),
            "run_id": settings.run_id,
            "trigger": "cli",
            **(extra or {}),
        }
        jobs.append(
            TenantJob(
                tenant, str(notebook), str(out), params, cwd=os.getcwd(), cell_timeout=cell_timeout
            )
        )
    return jobs


def _tenant_names(settings: Settings, names: str | None, every: bool) -> list[str]:
    from directorsync.tenants import load_tenants

    if bool(names) == every:
        raise click.UsageError("pass --tenants a,b,c or --all (one of them)")
    if not settings.inputs.tenants_file:
        raise ConfigError(
            "no tenants file: pass --tenants-file, set LP_TENANTS_FILE or inputs.tenants_file"
        )
    known = load_tenants(settings.inputs.tenants_file)
    if every:
        return list(known)
    wanted = [n.strip() for n in (names or "").split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ConfigError(
            f"unknown tenant {', '.join(unknown)} (the tenants file has: {', '.join(known)})"
        )
    return list(dict.fromkeys(wanted))


@click.command("run")
@click.option("--tenants", help="Comma-separated tenants (see --all).")
@click.option("--all", "every", is_flag=True, help="Every tenant of the tenants file.")
@click.option("--tenants-file", type=click.Path(path_type=Path), help="Tenants topology file.")
@click.option(
    "--xlsx-dir",
    type=click.Path(path_type=Path),
    help="Folder holding <tenant>_config.xlsx (default: inputs.workbooks / inputs.xlsx_dir).",
)
@click.option("--resources", "-r", help="Comma-separated resources (default: all with a sheet).")
@click.option("--dry-run", is_flag=True, help="Plan and report, send nothing.")
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Tenants run at the same time (each in its own kernel).",
)
@click.option(
    "--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True
)
@click.option("--scheduler", help="Dask scheduler address (default: a LocalCluster).")
@click.option(
    "--simulator",
    is_flag=True,
    help="Run against an embedded Director simulator seeded from the tenants file.",
)
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Settings YAML.")
@click.option(
    "--notebook",
    type=click.Path(path_type=Path),
    default=NOTEBOOK,
    show_default="notebooks/tenant_sync.ipynb",
    help="The notebook to execute per tenant.",
)
@click.option(
    "--parameter",
    "-p",
    "parameters",
    multiple=True,
    help="Extra notebook parameter NAME=VALUE (checked against the notebook).",
)
@click.option("--cell-timeout", type=float, help="Seconds a notebook cell may run.")
def run_command(
    tenants: str | None,
    every: bool,
    tenants_file: Path | None,
    xlsx_dir: Path | None,
    resources: str | None,
    dry_run: bool,
    parallel: int,
    executor: str,
    scheduler: str | None,
    simulator: bool,
    config_file: Path | None,
    notebook: Path,
    parameters: tuple[str, ...],
    cell_timeout: float | None,
) -> int:
    """Run tenant_sync.ipynb for each tenant (papermill), then write the fleet page.

    Writes reports/<tenant>/<run_id>/ (executed notebook, report.html, result.json, plan.json,
    actions.log) per tenant and reports/<run_id>/index.html. Exits 1 when a tenant failed or a row ended in
    ERROR/EXCEPTION.
    """
    settings = load_settings(
        config_file,
        overrides={"inputs.tenants_file": str(tenants_file) if tenants_file else None},
    )
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    if not simulator and not (settings.director.base_url and settings.token):
        raise ConfigError(
            "no Director URL/token for the notebooks: set DSYNC_DIRECTOR__BASE_URL and "
            "DSYNC_DIRECTOR__TOKEN (or LP_DIRECTOR_URL/LP_DIRECTOR_API_TOKEN) or the config "
            "file, or pass --simulator"
        )
    names = _tenant_names(settings, tenants, every)
    extra = dict(parse_parameter(p) for p in parameters)
    jobs = build_jobs(
        settings,
        names,
        notebook=Path(notebook).resolve(),
        xlsx_dir=xlsx_dir,
        resources=[r.strip() for r in (resources or "").split(",") if r.strip()],
        dry_run=dry_run,
        simulator=simulator,
        config_file=config_file,
        extra=extra,
        cell_timeout=cell_timeout,
    )
    check_parameters(notebook, jobs[0].parameters)
    ensure_kernel(KERNEL)
    run_id = settings.run_id
    plural = "s" if len(jobs) != 1 else ""
    click.echo(f"run {run_id}: {len(jobs)} tenant{plural} ({executor}, parallel {parallel})")

    def done(outcome: TenantOutcome) -> None:
        click.echo(describe(outcome))

    if executor == "dask":
        outcomes = run_dask(jobs, parallel, done, scheduler=scheduler, run_id=run_id)
    else:
        outcomes = run_local(jobs, parallel, done)
    page = write_fleet(run_id, outcomes, Path(settings.app.reports_dir).resolve())
    bad = [o.tenant for o in outcomes if o.failed]
    click.echo(f"fleet page: {page}")
    click.echo(
        f"{len(outcomes) - len(bad)} ok, {len(bad)} failed" + (f": {', '.join(bad)}" if bad else "")
    )
    return 1 if bad else 0

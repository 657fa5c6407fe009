"""Applies from the review widget and from notebooks are runs of the ledger, like CLI applies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conftest import session_for, writes

from directorsync.errors import TenantBusyError
from directorsync.lastapplied import load_state
from directorsync.ledger.database import open_configured
from directorsync.ledger.journal import entries
from directorsync.ledger.leases import acquire, release
from directorsync.notebook.batch import build_jobs
from directorsync.notebook.review import DiffReview
from directorsync.notebook.tenant_run import NotebookRun
from directorsync.ownership import owned


def _first_create(plan) -> int:
    return int(plan.rows.index[plan.rows["action"] == "create"][0])


def test_widget_apply_is_a_run_of_the_ledger(simulator, samples, tmp_path):
    with session_for(simulator, samples / "tenants.yml", tmp_path) as session:
        plan = session.plan("esait", samples / "esait_config.xlsx", ["repos"])
        review = DiffReview(plan, session)
        target = _first_create(plan)
        review.select([target])
        result = review.apply_selected(confirmed=True)
        ledger = open_configured(session.settings)
    (folder,) = review.written
    run = ledger.get_run(result["run_id"])
    assert folder.name == run["id"]
    assert (run["kind"], run["trigger"], run["state"], run["tenant"]) == (
        "apply",
        "notebook",
        "completed",
        "esait",
    )
    assert run["plan_id"] == plan.run_id and run["exit_code"] == 0
    assert run["counts"] == {"CREATED": 1, "SKIP": len(plan.rows) - 1}
    assert run["stages_completed"] == ["apply", "report"]
    assert run["artifacts"]["report"] == str((folder / "report.html").resolve())
    assert (folder / "report.html").is_file() and (folder / "result.json").is_file()
    (entry,) = entries(ledger, run["id"]).values()  # the one write, journaled to its end
    assert (entry["key"], entry["phase"], entry["status"]) == (
        plan.rows.at[target, "key"],
        "done",
        "CREATED",
    )
    node, key = plan.rows.at[target, "node_id"], plan.rows.at[target, "key"]
    assert (node, "repos", key) in owned(ledger, "esait")
    assert load_state(ledger, "esait", ["repos"])[(node, "repos", key)]["run_id"] == run["id"]
    acquire(ledger, "esait", "someone-else")  # the lease was given back


def test_widget_apply_of_a_busy_tenant_sends_nothing(simulator, samples, tmp_path):
    with session_for(simulator, samples / "tenants.yml", tmp_path) as session:
        plan = session.plan("esait", samples / "esait_config.xlsx", ["repos"])
        ledger = open_configured(session.settings)
        ledger.create_run("cli-run", tenant="esait", kind="apply", trigger="cli", state="running")
        acquire(ledger, "esait", "cli-run")  # a CLI apply of the tenant is writing
        review = DiffReview(plan, session)
        review.select([_first_create(plan)])
        before = len(writes(simulator))
        assert review.apply_selected(confirmed=True) is None
        assert "is busy: run cli-run" in review.message.value
        assert len(writes(simulator)) == before
        _, runs = ledger.history(tenant="esait")
        (failed,) = [r for r in runs if r["id"] != "cli-run"]
        assert failed["state"] == "failed" and failed["exit_code"] == TenantBusyError.exit_code
        release(ledger, "esait", "cli-run")


def test_notebook_run_apply_is_recorded_with_its_reports(simulator, samples, tmp_path):
    with session_for(simulator, samples / "tenants.yml", tmp_path) as session:
        out = tmp_path / "out"
        run = NotebookRun(session, "esait", samples / "esait_config.xlsx", ["repos"], out)
        plan = run.plan()
        result = run.apply(plan)
        run.write_reports(result, plan)
        again = run.apply(plan, dry_run=True)  # a second apply of the run: a record of its own
        ledger = open_configured(session.settings)
    record = ledger.get_run(run.run_id)
    assert result["run_id"] == run.run_id != again["run_id"]
    assert (record["kind"], record["trigger"], record["state"]) == (
        "apply",
        "notebook",
        "completed",
    )
    assert record["counts"]["CREATED"] == sum(r["status"] == "CREATED" for r in result["rows"]) > 0
    assert all(Path(record["artifacts"][k]).is_file() for k in ("plan", "result", "report"))
    assert len(entries(ledger, run.run_id)) == record["counts"]["CREATED"]
    assert ledger.get_run(again["run_id"])["dry_run"]
    # like a CLI apply: what it created is owned, what it applied is the last-applied state
    created = {(r["node_id"], r["key"]) for r in result["rows"] if r["status"] == "CREATED"}
    mine = {(node, key) for (node, resource, key), row in owned(ledger, "esait").items()}
    assert created <= mine
    state = load_state(ledger, "esait", ["repos"])
    recorded = {(node, key) for (node, _, key), item in state.items()}
    assert created <= recorded
    assert {state[(n, "repos", k)]["run_id"] for n, k in created} == {run.run_id}


def test_directorsync_run_tenants_are_runs_of_kind_run(simulator, samples, tmp_path):
    with session_for(simulator, samples / "tenants.yml", tmp_path) as session:
        (job,) = build_jobs(
            session.settings,
            ["esait"],
            notebook=Path("notebooks/tenant_sync.ipynb"),
            xlsx_dir=samples,
            resources=["repos"],
            dry_run=True,
            simulator=False,
            config_file=None,
        )
        assert job.parameters["trigger"] == "cli"
        run = NotebookRun(session, "esait", samples / "esait_config.xlsx", ["repos"], tmp_path)
        result = run.apply(run.plan(), dry_run=True, trigger="cli")
        record = open_configured(session.settings).get_run(run.ledger_runs[0])
    assert result["run_id"] == run.run_id  # the fleet's run id, as its page and folders use it
    assert record["id"] == f"{run.run_id}-esait"  # its record: per tenant
    assert (record["kind"], record["trigger"], record["state"]) == ("run", "cli", "completed")


def test_what_an_apply_wrote_is_listed_once_for_ownership_and_state(simulator, samples, tmp_path):
    """After the writes each written resource and node is listed once for the two records.

    (Verification lists it once more, inside the apply.)
    """
    with session_for(simulator, samples / "tenants.yml", tmp_path) as session:
        run = NotebookRun(session, "esait", samples / "esait_config.xlsx", ["repos"], tmp_path)
        plan = run.plan()
        written = {r for r, a in zip(plan.rows["node_id"], plan.rows["action"]) if a != "skip"}
        start = len(simulator.requests())
        result = run.apply(plan)
    listings = [
        r["path"]
        for r in simulator.requests()[start:]
        if r["method"] == "GET" and r["path"].endswith("/Repos")
    ]
    nodes = {r["node_id"] for r in result["rows"] if r["status"] in ("CREATED", "UPDATED")}
    assert nodes and nodes <= written
    # per written node: one listing to verify the writes, one for ownership and the state
    assert Counter(listings) == {path: 2 for path in listings}
    assert len(set(listings)) == len(nodes)

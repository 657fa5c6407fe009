"""Apply against the real simulator over loopback: idempotence, faults, dependencies, reports."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import TOKEN, core_args, session_for, use_simulator, writes

from directorsync.cli import cli
from directorsync.plan import load_plan

CORE = [
    "repos",
    "normalization_policies",
    "enrichment_policies",
    "routing_policies",
    "processing_policies",
]


@pytest.fixture
def sim(simulator):
    return simulator


def test_apply_then_second_run_is_all_unchanged_with_zero_writes(
    sim, samples, tenants_file, tmp_path
):
    with session_for(sim, tenants_file, tmp_path) as s:
        result = s.apply(s.plan("core", samples / "core_config.xlsx", CORE))
        by = result["summary"]["by_status"]
        assert by.get("ERROR", 0) == 0 and by.get("EXCEPTION", 0) == 0
        assert by["CREATED"] == 86 and by["SKIP"] == 2
        sent = len(writes(sim))
        assert sent == 86
        again = s.apply(s.plan("core", samples / "core_config.xlsx", CORE))
    assert set(again["summary"]["by_status"]) <= {"UNCHANGED", "SKIP"}
    assert len(writes(sim)) == sent, "the second run must not write anything"


def test_dependencies_resolve_to_ids_created_earlier_in_the_run(
    sim, samples, tenants_file, tmp_path
):
    node = "506caf32de83054497d07c3c632a98cb"
    pool = "a9fa7661c4f84b278b136e94a86b4ea2"
    with session_for(sim, tenants_file, tmp_path) as s:
        s.apply(s.plan("core", samples / "core_config.xlsx", CORE))
        rp_ids = {
            o["policy_name"]: o["id"] for o in s.client.list_objects(pool, node, "RoutingPolicies")
        }
        pps = {o["policy_name"]: o for o in s.client.list_objects(pool, node, "ProcessingPolicy")}
    assert "$ref:" not in json.dumps(sim.state())
    assert pps["pp_windows"]["routing_policy"] == rp_ids["rp_windows"]
    posted = [
        r["body"]["data"]
        for r in writes(sim)
        if r["path"].endswith(f"{pool}/{node}/ProcessingPolicy")
    ]
    assert {b["policy_name"] for b in posted} == set(pps)


def test_faults_every_row_accounted_for_no_duplicates(
    start_simulator, tenants_file, samples, tmp_path
):
    """The whole core workbook (hundreds of rows) with fail 10 %, drop 5 %, job-fail 5 %."""
    knobs = dict(fail_rate=0.1, drop_rate=0.05, job_fail_rate=0.05, rng_seed=11)
    sim = start_simulator(**knobs)
    with session_for(sim, tenants_file, tmp_path, **{"director.retries": 6}) as s:
        plan = s.plan("core", samples / "core_config.xlsx")
        result = s.apply(plan)
        faults = [r for r in sim.requests() if r.get("faults")]
        assert len(faults) > 50, "the faults really happened"
        assert len(result["rows"]) == len(plan.rows) > 300
        statuses = result["summary"]["by_status"]
        assert set(statuses) <= {"CREATED", "SKIP"}, [
            (r["key"], r["status"], r["error"])
            for r in result["rows"]
            if r["status"] not in ("CREATED", "SKIP")
        ]
        retried = [r for r in result["rows"] if r["attempts"] > 1]
        assert retried, "transient faults were retried to success"
        sim.configure(fail_rate=0, drop_rate=0, job_fail_rate=0)
        for path, key in [
            ("Repos", "name"),
            ("RoutingPolicies", "policy_name"),
            ("ProcessingPolicy", "policy_name"),
            ("NormalizationPolicy", "name"),
            ("Devices", "name"),
            ("DeviceGroups", "name"),
        ]:
            for node in (
                "506caf32de83054497d07c3c632a98cb",
                "01925abf82fe0db0a75c190c4316b8a6",
            ):
                keys = [o[key] for o in s.client.list_objects(plan.pool_uuid, node, path)]
                assert len(keys) == len(set(keys)), f"duplicate {path} on {node}"
        lists = [
            o["name"]
            for o in s.client.list_objects(
                plan.pool_uuid, "506caf82de83054597d07c3c632a98ce", "Lists"
            )
        ]
        assert len(lists) == len(set(lists))
        before = len(writes(sim))
        again = s.apply(s.plan("core", samples / "core_config.xlsx"))
    assert set(again["summary"]["by_status"]) <= {"UNCHANGED", "SKIP"}
    assert len(writes(sim)) == before


def test_dropped_create_is_confirmed_not_duplicated(sim, samples, tenants_file, tmp_path):
    sim.add_fault(kind="drop", method="POST", resource="Repos", count=2)
    with session_for(sim, tenants_file, tmp_path) as s:
        result = s.apply(s.plan("core", samples / "core_config.xlsx", ["repos"]))
        assert result["summary"]["by_status"] == {"CREATED": 12}
        listed = s.client.list_objects(
            "a9fa7661c4f84b278b136e94a86b4ea2", "506caf32de83054497d07c3c632a98cb", "Repos"
        )
    names = [o["name"] for o in listed]
    assert len(names) == len(set(names)) == 9
    confirmed = [r for r in result["rows"] if "confirmed" in (r["reason"] or "")]
    assert len(confirmed) == 2


def test_director_refusal_is_reported_with_its_message_and_exit_code(
    sim, samples, tenants_file, tmp_path, monkeypatch
):
    sim.add_fault(kind="http_400", method="POST", resource="Repos", count=100)
    use_simulator(monkeypatch, sim, tmp_path)
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "apply",
            *core_args(tenants_file, samples / "core_config.xlsx", "repos,routing_policies"),
            "--auto-approve",
        ],
        standalone_mode=False,
        catch_exceptions=False,
    )
    assert res.return_value == 1
    result = json.loads(next((tmp_path / "reports" / "core").glob("*/result.json")).read_text())
    errors = [r for r in result["rows"] if r["status"] == "ERROR"]
    assert errors and all(
        r["error"] and "cannot access local variable" not in r["error"] for r in errors
    )
    blocked = [
        r for r in result["rows"] if r["resource"] == "routing_policies" and r["status"] == "ERROR"
    ]
    assert blocked and all(
        r["error"].startswith("blocked: depends on repos:") for r in blocked if r["error"]
    )
    rp_posts = [r for r in writes(sim) if r["path"].endswith("/RoutingPolicies")]
    doomed = [
        r
        for r in rp_posts
        if r["body"]["data"]["catch_all"] not in ("default", "_logpoint", "_LogPointAlerts")
    ]
    assert doomed == [], "no request is sent for a row whose dependency failed"


def test_cli_plan_detailed_exitcode_save_and_apply_saved_plan(
    sim, samples, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, sim, tmp_path, token_variable="LP_DIRECTOR_API_TOKEN")
    runner = CliRunner()
    args = core_args(tenants_file, samples / "core_config.xlsx", "repos")
    out = tmp_path / "plan.json"
    res = runner.invoke(
        cli, ["plan", *args, "--out", str(out), "--detailed-exitcode"], standalone_mode=False
    )
    assert res.return_value == 2, res.output
    assert "Repo_system" in res.output
    # someone changes one repo on Director after the plan was made: that row is stale
    plan = load_plan(out)
    row = plan.rows.iloc[0]
    with session_for(sim, tenants_file, tmp_path) as s:
        s.client.write(
            "POST",
            plan.pool_uuid,
            row["node_id"],
            "Repos",
            {"name": row["key"], "hiddenrepopath": [{"path": "/data_hot/", "retention": 1}]},
        )
    res = runner.invoke(
        cli, ["apply", "--plan", str(out)], standalone_mode=False, catch_exceptions=False
    )
    result = json.loads(next((tmp_path / "reports" / "core").glob("*/result.json")).read_text())
    kept = next((tmp_path / "reports" / "core").glob("*/plan.json"))
    assert kept.read_bytes() == out.read_bytes()  # the plan applied, as it was verified
    stale = [r for r in result["rows"] if (r["reason"] or "").startswith("stale:")]
    assert len(stale) == 1 and stale[0]["key"] == row["key"]
    assert result["summary"]["by_status"]["CREATED"] == 11
    res = runner.invoke(cli, ["plan", *args, "--detailed-exitcode"], standalone_mode=False)
    assert res.return_value == 2  # the stale repo still differs from the workbook


def test_dry_run_never_writes(sim, samples, tenants_file, tmp_path):
    with session_for(sim, tenants_file, tmp_path) as s:
        result = s.apply(s.plan("core", samples / "core_config.xlsx", CORE), dry_run=True)
    assert writes(sim) == []
    assert result["summary"]["by_status"]["PLANNED_CREATE"] == 86


def test_token_appears_in_no_produced_file(sim, samples, tenants_file, tmp_path, monkeypatch):
    use_simulator(monkeypatch, sim, tmp_path)
    monkeypatch.setenv("DSYNC_LOGGING__LEVEL", "DEBUG")
    sim.add_fault(kind="http_500", method="POST", resource="Repos", count=3)
    res = CliRunner().invoke(
        cli,
        [
            "apply",
            *core_args(tenants_file, samples / "core_config.xlsx", "repos"),
            "--auto-approve",
        ],
        standalone_mode=False,
        catch_exceptions=False,
    )
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "actions.log" for p in files) and any(
        p.name == "report.html" for p in files
    )
    for p in files:
        assert TOKEN not in p.read_text(errors="ignore"), p
    assert TOKEN not in res.output


def test_rows_whose_dependency_is_not_selected_are_blocked_not_sent(
    sim, samples, tenants_file, tmp_path
):
    with session_for(sim, tenants_file, tmp_path) as s:
        plan = s.plan("core", samples / "core_config.xlsx", ["repos", "routing_policies"])
        rows = plan.rows.reset_index(drop=True)
        chosen = rows.index[
            (rows["resource"] == "routing_policies") & (rows["key"] == "rp_windows")
        ].tolist()
        result = s.apply(plan, selection=chosen)
    sent = [r for r in writes(sim) if r["path"].endswith("/RoutingPolicies")]
    assert sent == []
    blocked = [r for r in result["rows"] if r["key"] == "rp_windows"]
    assert {r["status"] for r in blocked} == {"ERROR"}
    assert all("not applied in this run: not selected" in r["error"] for r in blocked)

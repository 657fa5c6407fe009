"""The lifecycle (issue 16) end to end on the simulator.

Prune with ownership and protection, deletes in reverse dependency order, an object still used
skipped, rollback, rollback on error, quarantine.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import TOKEN, core_args, session_for, use_simulator

from directorsync.cli import cli
from directorsync.ledger.database import open_ledger
from directorsync.ownership import owned, run_pre_images

RES = "repos,routing_policies,normalization_policies,processing_policies,device_groups,devices"
BACKEND = "506caf32de83054497d07c3c632a98cb"  # lb-backend01 of core
POOL = "a9fa7661c4f84b278b136e94a86b4ea2"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=False)


def without(source: Path, target: Path, drops: dict[tuple[str, str], list[str]]) -> Path:
    """A copy of ``source`` without the rows whose column holds one of the values."""
    wb = openpyxl.load_workbook(source)
    for (sheet, column), values in drops.items():
        ws = wb[sheet]
        j = [c.value for c in ws[1]].index(column)
        for row in reversed(list(ws.iter_rows(min_row=2))):
            if row[j].value in values:
                ws.delete_rows(row[0].row)
    wb.save(target)
    return target


def last_result(tmp_path: Path) -> tuple[str, list[dict]]:
    # the last written: run ids sort by the second only (two runs in one second: random order)
    path = max(
        (tmp_path / "reports" / "core").glob("*/result.json"), key=lambda p: p.stat().st_mtime_ns
    )
    return path.parent.name, json.loads(path.read_text())["rows"]


def deletes(sim) -> list[str]:
    """The resource of every DELETE the simulator received, in order."""
    return [r["path"].split("/")[-2] for r in sim.requests() if r["method"] == "DELETE"]


def test_prune_deletes_in_order_keeps_protected_and_used_then_rollback_restores(
    simulator, samples, tenants_file, tmp_path, monkeypatch
):
    sim = simulator
    use_simulator(monkeypatch, sim, tmp_path)
    config = tmp_path / "directorsync.yml"
    config.write_text("prune:\n  protect: ['core-tajs']\n")
    core = samples / "core_config.xlsx"
    done = invoke("apply", *core_args(tenants_file, core, RES), "--auto-approve")
    assert done.return_value == 0, done.output
    with session_for(sim, tenants_file, tmp_path) as s:  # a repo made by hand: not owned
        s.client.write("POST", POOL, BACKEND, "Repos", {"name": "Repo_by_hand",
                       "hiddenrepopath": [{"path": "/data_hot/", "retention": 5}]})  # fmt: skip
    pruned = without(
        core,
        tmp_path / "core_pruned.xlsx",
        {
            ("Repo", "cleaned_repo_name"): ["Repo_cloud"],
            ("Device", "name"): ["core-ojs", "core-tajs"],  # core-tajs is protected
            ("RoutingPolicy", "cleaned_policy_name"): ["rp_cisco_amp", "rp_deception"],
            ("ProcessingPolicy", "cleaned_policy_name"): ["pp_cisco_amp"],  # pp_deception kept
        },
    )
    args = [*core_args(tenants_file, pruned, RES), "--config", str(config)]

    info = invoke("plan", *args)  # without --prune: information only
    assert "delete " not in info.output and "(--prune deletes them): Repo_cloud" in info.output
    wider = invoke("plan", *args, "--prune", "--prune-unowned", "--out", str(tmp_path / "w.json"))
    wide = json.loads((tmp_path / "w.json").read_text())
    assert {r["key"] for r in wide["rows"] if r["action"] == "delete"} >= {"Repo_by_hand"}
    assert any("--prune-unowned: 1 object(s)" in n["message"] for n in wide["notes"]), wider.output

    applied = invoke("apply", *args, "--prune", "--auto-approve")
    assert applied.return_value == 0, applied.output
    assert "8 deleted" in applied.output.splitlines()[-1]
    run_id, rows = last_result(tmp_path)
    gone = {(r["resource"], r["key"]) for r in rows if r["status"] == "DELETED"}
    assert gone == {("repos", "Repo_cloud"), ("devices", "core-ojs"),
                    ("routing_policies", "rp_cisco_amp"), ("processing_policies", "pp_cisco_amp")}  # fmt: skip
    used = [r for r in rows if r["key"] == "rp_deception"]
    assert {r["status"] for r in used} == {"SKIP"}
    assert all("still used by processing_policies 'pp_deception'" in r["reason"] for r in used)
    order = deletes(sim)  # devices, processing policies, routing policies, repos last
    assert order == sorted(
        order, key=["Devices", "ProcessingPolicy", "RoutingPolicies", "Repos"].index
    )
    with session_for(sim, tenants_file, tmp_path) as s:
        names = {o["name"] for o in s.client.list_objects(POOL, BACKEND, "Repos")}
        devices = {o["name"] for o in s.client.list_objects(POOL, BACKEND, "Devices")}
    assert "Repo_by_hand" in names and "Repo_cloud" not in names and "_logpoint" in names
    assert "core-tajs" in devices and "core-ojs" not in devices
    notes = json.loads((tmp_path / "reports" / "core" / run_id / "plan.json").read_text())["notes"]
    assert any("prune.protect): core-tajs" in n["message"] for n in notes)

    ledger = open_ledger(f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}")
    images = run_pre_images(ledger, run_id)
    assert len(images) == 8 and {i["action"] for i in images} == {"delete"}
    assert all(i["before"]["name" if i["resource"] in ("repos", "devices") else "policy_name"]
               == i["key"] for i in images)  # fmt: skip
    ours = owned(ledger, "core")
    assert (BACKEND, "repos", "Repo_cloud") not in ours and (
        BACKEND,
        "repos",
        "Repo_system",
    ) in ours

    plan = tmp_path / "rollback.json"
    back = invoke("rollback", run_id, "--out", str(plan), "--tenants-file", str(tenants_file))
    assert back.return_value == 0 and "8 to create" in back.output, back.output
    redone = invoke("apply", "--plan", str(plan))
    assert redone.return_value == 0, redone.output
    again = invoke("plan", *core_args(tenants_file, core, RES), "--detailed-exitcode")
    assert again.return_value == 0, again.output  # the original workbook: nothing to change
    stale = invoke("rollback", run_id, "--out", str(plan), "--tenants-file", str(tenants_file))
    assert "8 skipped" in stale.output  # rolled back already: every row is stale now


def test_quarantine_deletes_an_orphan_only_after_its_delay(
    simulator, samples, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator, tmp_path)
    core = samples / "core_config.xlsx"
    assert (
        invoke("apply", *core_args(tenants_file, core, "repos"), "--auto-approve").return_value == 0
    )
    pruned = without(
        core, tmp_path / "core_pruned.xlsx", {("Repo", "cleaned_repo_name"): ["Repo_cloud"]}
    )
    now = [dt.datetime(2026, 12, 1, tzinfo=dt.UTC)]
    ledger = open_ledger(
        f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}", clock=lambda: now[0]
    )
    with session_for(simulator, tenants_file, tmp_path, **{"prune.delay": "7d"}) as s:
        options = s.prune_options(prune=True)

        def planned():
            plan = s.plan("core", pruned, ["repos"], prune=options, ledger=ledger)
            return plan.rows[plan.rows["action"] == "delete"], plan.notes

        rows, notes = planned()
        assert rows.empty
        assert any("kept until prune.delay" in n["message"] and "2026-12-08" in n["message"]
                   for n in notes)  # fmt: skip
        now[0] += dt.timedelta(days=6)
        assert planned()[0].empty  # orphaned since the first plan: 6 days < 7
        now[0] += dt.timedelta(days=2)
        rows, _ = planned()
        assert sorted(rows["key"]) == ["Repo_cloud", "Repo_cloud"]  # one per backend
        result = s.apply(s.plan("core", pruned, ["repos"], prune=options, ledger=ledger))
    assert result["summary"]["by_status"]["DELETED"] == 2
    assert TOKEN not in json.dumps(result)


def test_rollback_on_error_leaves_director_as_before_the_run(
    simulator, samples, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator, tmp_path)
    refusal = "hiddenrepopath: retention 180 exceeds the licence limit"
    simulator.add_fault(
        kind="order_fail", method="POST", resource="Repos", name="Repo_cloud", count=None,
        message=refusal,
    )  # fmt: skip
    with session_for(simulator, tenants_file, tmp_path) as s:
        before = {o["name"] for o in s.client.list_objects(POOL, BACKEND, "Repos")}
    args = core_args(tenants_file, samples / "core_config.xlsx", "repos")
    done = invoke("apply", *args, "--auto-approve", "--rollback-on-error")
    assert done.return_value == 1, done.output
    _, rows = last_result(tmp_path)
    assert {r["status"] for r in rows if r["key"] == "Repo_cloud"} == {"ERROR"}
    created = [r for r in rows if r["status"] == "CREATED"]
    assert len(created) == 10 and all(r.get("undone") for r in created)
    assert all("undone by --rollback-on-error" in r["reason"] for r in created)
    with session_for(simulator, tenants_file, tmp_path) as s:
        after = {o["name"] for o in s.client.list_objects(POOL, BACKEND, "Repos")}
    assert after == before  # nothing of the run is left
    assert deletes(simulator).count("Repos") == 10


def test_rollback_puts_updated_objects_back_and_skips_those_changed_again(
    simulator, samples, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator, tmp_path)
    core = samples / "core_config.xlsx"
    args = core_args(tenants_file, core, "repos")
    assert invoke("apply", *args, "--auto-approve").return_value == 0
    wb = openpyxl.load_workbook(core)
    ws = wb["Repo"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[head.index("cleaned_repo_name")].value in ("Repo_cloud", "Repo_secu"):
            row[head.index("retention_days")].value = 30
    changed = tmp_path / "core_changed.xlsx"
    wb.save(changed)
    done = invoke("apply", *core_args(tenants_file, changed, "repos"), "--auto-approve")
    assert done.return_value == 0 and "4 updated" in done.output, done.output
    run_id, rows = last_result(tmp_path)
    updated = [r for r in rows if r["status"] == "UPDATED"]
    assert all(r["before"]["hiddenrepopath"][0]["retention"] != 30 for r in updated)
    with session_for(simulator, tenants_file, tmp_path) as s:  # changed again by hand
        secu = next(
            o for o in s.client.list_objects(POOL, BACKEND, "Repos") if o["name"] == "Repo_secu"
        )
        s.client.write("PUT", POOL, BACKEND, f"Repos/{secu['id']}", {
            "id": secu["id"], "hiddenrepopath": [{"path": "/data_hot/", "retention": 31}]})  # fmt: skip
    plan = tmp_path / "undo.json"
    back = invoke("rollback", run_id, "--out", str(plan), "--tenants-file", str(tenants_file))
    undo = json.loads(plan.read_text())["rows"]
    assert sorted((r["key"], r["action"]) for r in undo) == [
        ("Repo_cloud", "update"), ("Repo_cloud", "update"), ("Repo_secu", "skip"), ("Repo_secu", "update"),
    ], back.output  # fmt: skip
    stale = next(r for r in undo if r["action"] == "skip")
    assert stale["node_id"] == BACKEND and stale["reason"].startswith("stale: changed again")
    assert invoke("apply", "--plan", str(plan)).return_value == 0
    again = invoke("plan", *args, "--out", str(tmp_path / "again.json"))
    left = [
        r
        for r in json.loads((tmp_path / "again.json").read_text())["rows"]
        if r["action"] != "unchanged"
    ]
    assert [(r["key"], r["node_id"]) for r in left if r["action"] == "update"] == [
        ("Repo_secu", BACKEND)
    ], again.output


def test_profiles_and_settings_say_what_may_be_pruned():
    from directorsync.config import load_settings
    from directorsync.errors import ConfigError
    from directorsync.profile.model import load_profiles
    from directorsync.profile.schema import schema_errors

    assert [e[0] for e in schema_errors({"lifecycle": {"prun": True}})] == [["lifecycle", "prun"]]
    prunable = {n for n, p in load_profiles(None).items() if p.section("lifecycle").get("prune")}
    assert prunable == {"repos", "routing_policies", "normalization_policies",
                        "processing_policies", "device_groups", "devices"}  # fmt: skip
    settings = load_settings(env={}, overrides={"prune.delay": "7d", "prune.protect": ["x*"]})
    assert settings.prune.delay_seconds == 7 * 86400 and settings.prune.protect == ["x*"]
    assert load_settings(env={"DSYNC_PRUNE__DELAY": "90"}).prune.delay_seconds == 90
    with pytest.raises(ConfigError, match="not a delay"):
        load_settings(env={}, overrides={"prune.delay": "soon"})


def test_export_adopt_makes_hand_made_objects_prunable(
    simulator, tenants_file, tmp_path, monkeypatch
):
    use_simulator(monkeypatch, simulator, tmp_path)
    with session_for(simulator, tenants_file, tmp_path) as s:  # a tenant configured by hand
        for name in ("Repo_hand_a", "Repo_hand_b"):
            s.client.write("POST", POOL, BACKEND, "Repos", {"name": name,
                           "hiddenrepopath": [{"path": "/data_hot/", "retention": 5}]})  # fmt: skip
    out = tmp_path / "core_export.xlsx"
    common = ["--tenant", "core", "--tenants-file", str(tenants_file)]
    exported = invoke("export", *common, "--resources", "repos", "--out", str(out), "--adopt")
    assert exported.return_value == 0, exported.output
    assert "adopted" in exported.output and "how=adopted" in exported.output
    ledger = open_ledger(f"sqlite:///{tmp_path / 'reports' / 'ledger.sqlite'}")
    try:
        ours = owned(ledger, "core")
    finally:
        ledger.close()
    assert ours[(BACKEND, "repos", "Repo_hand_a")]["how"] == "adopted"
    assert ours[(BACKEND, "repos", "Repo_hand_b")]["remote_id"]

    pruned = without(
        out, tmp_path / "pruned.xlsx", {("Repo", "cleaned_repo_name"): ["Repo_hand_b"]}
    )
    plan = tmp_path / "plan.json"
    res = invoke("plan", *core_args(tenants_file, pruned, "repos"), "--prune", "--out", str(plan))
    assert res.return_value == 0, res.output
    rows = json.loads(plan.read_text())["rows"]
    deleting = {(r["node_id"], r["key"]) for r in rows if r["action"] == "delete"}
    assert (BACKEND, "Repo_hand_b") in deleting  # adopted, then gone from the workbook
    assert not {k for _, k in deleting} & {"Repo_hand_a", "_logpoint", "default"}

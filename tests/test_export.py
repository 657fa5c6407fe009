"""``directorsync export``: Director → workbook, and the round trip (export → plan = no change)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import session_for, use_simulator
from openpyxl import load_workbook

from directorsync.cli import cli
from directorsync.export import NOTES_SHEET, export_workbook
from directorsync.inventory import Inventory
from directorsync.workbook import Workbook
from directorsync.workbook_writer import write_workbook

ROOT = Path(__file__).resolve().parents[1]
#: issue 18 item 12: the sample tests opt into the public ip fallback (see test_faults_rows)
FALLBACK = {"inputs.public_ip_fallback": True}
SAMPLES = [
    ("core_config_light.xlsx", "core"),
    ("core_config.xlsx", "core"),
    ("esait_config.xlsx", "esait"),
    ("sccoe_config.xlsx", "sccoe"),
]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), standalone_mode=False, catch_exceptions=False)


def _rows(path, sheet):
    book = load_workbook(path, read_only=True)
    rows = [list(r) for r in book[sheet].iter_rows(values_only=True)]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


@pytest.mark.parametrize(("workbook", "tenant"), SAMPLES, ids=[w for w, _ in SAMPLES])
def test_apply_export_plan_is_no_change(
    workbook, tenant, simulator, samples, tenants_file, tmp_path, monkeypatch
):
    # the samples' tenants file has no ip_private: alert rules reach repos by the public ip
    with session_for(simulator, tenants_file, tmp_path, **FALLBACK) as s:
        s.apply(s.plan(tenant, samples / workbook))
    use_simulator(monkeypatch, simulator, tmp_path)
    monkeypatch.setenv("DSYNC_INPUTS__PUBLIC_IP_FALLBACK", "true")
    out, report = tmp_path / "export.xlsx", tmp_path / "export.json"
    common = ["--tenant", tenant, "--tenants-file", str(tenants_file)]
    res = _invoke("export", *common, "--out", str(out), "--report", str(report))
    assert res.return_value == 0, res.output
    assert "exported" in res.output
    res = _invoke("plan", *common, "--xlsx", str(out), "--detailed-exitcode")
    assert res.return_value == 0, res.output  # no change, no error
    data = json.loads(report.read_text())
    assert data["divergences"] == []  # an apply writes the same objects on every node
    notes = _rows(out, NOTES_SHEET)
    assert {"write_only"} <= {n["kind"] for n in notes}
    assert any(n["column"] == "compiled_normalizer" for n in notes)  # never returned
    if tenant == "core":
        repos = {r["cleaned_repo_name"]: r for r in _rows(out, "Repo")}
        assert repos["Repo_system"]["storage_paths"] == "/cold_nfs/ | /data_hot/"  # unzipped
        assert repos["Repo_system"]["retention_days"] == "275 | 90"  # … in the same order
    if workbook == "core_config.xlsx":
        devices = {r["name"]: r for r in _rows(out, "Device")}
        assert devices["core-ojs"]["device_groups"] == "windows"  # ids → names
        processing = {r["cleaned_policy_name"]: r for r in _rows(out, "ProcessingPolicy")}
        assert processing["pp_fortinet"]["enrich_policy"] == "Threat_Intelligence"
        alerts = {r["name"]: r for r in _rows(out, "Alert")}
        rule = alerts["QuickSign - Annulations importantes"]
        assert rule["settings.active"] is True and rule["settings.flush_on_trigger"] is True
        assert rule["settings.user"] == "admin"


def _create_through_the_api(s, tenant):
    """Objects written straight to Director (never from a workbook), the same on each node."""
    backends = tenant.nodes_for("devices", s.profiles["devices"].targets)
    pool = tenant.pool_uuid
    for node in backends:
        s.client.write(
            "POST", pool, node.id, "DeviceGroups", {"name": "api_dg", "description": "made by hand"}
        )
        s.client.write(
            "POST", pool, node.id, "DeviceGroups", {"name": "api_dg2", "description": "api_dg2"}
        )
        groups = Inventory(s.client, tenant, s.profiles).frame("device_groups", node)
        ids = dict(zip(groups["name"], groups["id"]))
        s.client.write(
            "POST", pool, node.id, "Devices",
            {"name": "api-dev", "ip": ["10.1.1.2", "10.1.1.1"], "availability": "Minor",
             "confidentiality": "Major", "integrity": "Critical", "timezone": "Europe/Paris",
             "devicegroup": [ids["api_dg2"], ids["api_dg"]]},
        )  # fmt: skip
        s.client.write(
            "POST", pool, node.id, "Repos",
            {"name": "api_repo", "hiddenrepopath": [
                {"path": "/data_hot/", "retention": 30}, {"path": "/cold_nfs/", "retention": 400}]},
        )  # fmt: skip
        s.client.write(
            "POST", pool, node.id, "RoutingPolicies",
            {"policy_name": "api_rp", "active": True, "catch_all": "api_repo", "routing_criteria": [
                {"type": "KeyPresentValueMatches", "key": "k1", "value": "v1", "repo": "api_repo",
                 "drop": "store"},
                {"type": "KeyPresent", "key": "k2", "value": "", "repo": "default", "drop": "drop"}]},
        )  # fmt: skip
    head = tenant.nodes_for("user_defined_lists", s.profiles["user_defined_lists"].targets)[0]
    s.client.write(
        "POST", pool, head.id, "Lists/static", {"s_name": "API_STATIC", "lists": ["b", "a"]}
    )
    s.client.write(
        "POST", pool, head.id, "Lists/dynamic",
        {"d_name": "API_DYNAMIC", "agelimit_day": 1, "agelimit_hour": 2, "agelimit_minute": 3},
    )  # fmt: skip
    return backends


API_RESOURCES = "device_groups,devices,repos,routing_policies,user_defined_lists"


def test_objects_made_through_the_api_export_and_plan_no_change(
    simulator, tenants_file, tmp_path, monkeypatch
):
    with session_for(simulator, tenants_file, tmp_path) as s:
        tenant = s.tenant("core")
        _create_through_the_api(s, tenant)
        out = tmp_path / "api.xlsx"
        result = export_workbook(
            Inventory(s.client, tenant, s.profiles), s.profiles, out, API_RESOURCES.split(",")
        )
        assert result.divergences == []
        plan = s.plan("core", out, API_RESOURCES.split(","))
        assert not plan.has_changes and not plan.has_errors, plan.changed().to_dict("records")
        assert plan.counts()["unchanged"] > 0
    device = {r["name"]: r for r in _rows(out, "Device")}["api-dev"]
    assert device["ip"] == "10.1.1.1 | 10.1.1.2" and device["device_groups"] == "api_dg | api_dg2"
    assert device["timezone"] == "Europe/Paris" and device["integrity"] == "Critical"
    criteria = [r for r in _rows(out, "RoutingPolicy") if r["cleaned_policy_name"] == "api_rp"]
    assert [(r["rule_type"], r["key"], r["repo"]) for r in criteria] == [
        ("KeyPresentValueMatches", "k1", "api_repo"),
        ("KeyPresent", "k2", "default"),
    ]  # one row per criterion, the policy's columns repeated
    lists = {r["name"]: r for r in _rows(out, "UserDefinedList")}
    assert json.loads(lists["API_STATIC"]["lists"]) == ["a", "b"]
    assert lists["API_DYNAMIC"]["age_limit"] == 86400 + 2 * 3600 + 3 * 60
    assert lists["API_DYNAMIC"]["list_type"] == "dynamic_list"
    use_simulator(monkeypatch, simulator, tmp_path)
    res = _invoke(
        "plan", "--tenant", "core", "--tenants-file", str(tenants_file), "--xlsx", str(out),
        "--resources", API_RESOURCES, "--detailed-exitcode",
    )  # fmt: skip
    assert res.return_value == 0, res.output


def test_an_object_that_differs_between_nodes_is_reported(simulator, tenants_file, tmp_path):
    with session_for(simulator, tenants_file, tmp_path) as s:
        tenant = s.tenant("core")
        first, second = _create_through_the_api(s, tenant)
        listed = Inventory(s.client, tenant, s.profiles).frame("devices", second)
        twin = listed[listed["name"].eq("api-dev")].iloc[0]
        body = {
            "name": "api-dev", "ip": ["10.1.1.9"], "availability": "Minor",
            "confidentiality": "Major", "integrity": "Minimal", "timezone": "Europe/Paris",
            "devicegroup": list(twin["devicegroup"]),
        }  # fmt: skip
        s.client.write("PUT", tenant.pool_uuid, second.id, f"Devices/{twin['id']}", body)
        out = tmp_path / "div.xlsx"
        result = export_workbook(
            Inventory(s.client, tenant, s.profiles), s.profiles, out, ["devices"]
        )
        (found,) = result.divergences
        assert found["object"] == "api-dev" and found["resource"] == "devices"
        assert (found["reference"], found["node"]) == (first.name, second.name)
        assert found["fields"] == {
            "ip": ["10.1.1.1 | 10.1.1.2", "10.1.1.9"],
            "integrity": ["Critical", "Minimal"],
        }
        # the row holds the reference node's values: the plan aligns the other node on them
        plan = s.plan("core", out, ["device_groups", "devices"])
        changed = plan.changed()
        assert list(changed["key"]) == ["api-dev"] and list(changed["node_id"]) == [second.id]
    device = {r["name"]: r for r in _rows(out, "Device")}["api-dev"]
    assert device["ip"] == "10.1.1.1 | 10.1.1.2"
    notes = [n for n in _rows(out, NOTES_SHEET) if n["kind"] == "divergence"]
    assert notes and notes[0]["object"] == "api-dev" and notes[0]["column"] == "ip, integrity"


def test_export_command_errors_are_one_line(simulator, tenants_file, tmp_path, monkeypatch):
    use_simulator(monkeypatch, simulator, tmp_path)
    common = ["--tenant", "core", "--tenants-file", str(tenants_file)]
    runner = CliRunner()
    res = runner.invoke(cli, ["export", *common, "--out", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "writes an .xlsx workbook" in res.output
    res = runner.invoke(
        cli, ["export", *common, "--out", str(tmp_path / "x.xlsx"), "--resources", "nope"]
    )
    assert res.exit_code != 0 and "unknown resource(s): nope" in str(res.exception or res.output)


def test_the_writer_keeps_types_and_text(tmp_path):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "text": ["=SUM(A1)", "a & <b>", " padded ", "bell\x07", ""],
            "number": [1, 2.5, None, 7, 3],
            "flag": [True, False, None, True, False],
        }
    )
    path = write_workbook(tmp_path / "w.xlsx", {"S": frame, "Empty": pd.DataFrame(columns=["x"])})
    sheet = Workbook(path).sheet("S")
    assert list(sheet["text"])[:4] == ["=SUM(A1)", "a & <b>", " padded ", "bell"]
    assert len(sheet) == 5 and sheet["text"].iloc[4] in (None, "")  # an empty text keeps its row
    book = load_workbook(path)
    assert book["S"]["A2"].data_type == "s"  # text, never a formula
    assert [c.value for c in book["S"]["B"][1:]] == [1, 2.5, None, 7, 3]
    assert [c.value for c in book["S"]["C"][1:]] == [True, False, None, True, False]
    assert book.sheetnames == ["S", "Empty"] and book["S"]["A1"].font.b


def test_the_linter_checks_that_every_column_reads_back(tmp_path):
    from directorsync.profile.lint import lint_file

    text = (ROOT / "profiles" / "device_groups.yml").read_text()
    unreadable = text.replace(
        "description: {col: description, transform: [norm_str], fallback: name}",
        "description: {col: description, transform: [norm_str, csv], fallback: name}",
    )
    assert unreadable != text
    path = tmp_path / "device_groups.yml"
    known = {"device_groups", "devices"}

    def codes(body: str) -> list[str]:
        path.write_text(body)
        return [f.message for f in lint_file(path, known) if f.code == "DS-LINT-019"]

    assert codes(text) == []
    (found,) = codes(unreadable)
    assert "mapping 'description': csv cannot be read back" in found
    assert codes(unreadable + "export:\n  skip: [description]\n") == []
    (found,) = codes(text + "export:\n  skip: [nope]\n")
    assert "export.skip names 'nope'" in found

"""The adopted workbook and the cell a Director value reads back to (``directorsync.adopt``)."""

from __future__ import annotations

import hashlib

import pytest
from conftest import session_for
from openpyxl import load_workbook

from directorsync.adopt import ADOPTED_SHEET, adopt_workbook, cell_text, lookup_tables
from directorsync.errors import WorkbookError
from directorsync.profile.model import load_profiles
from directorsync.workbook import Workbook


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(None)


def test_cell_text_reverses_the_profiles(profiles):
    groups = {"devicegroup": {"id-w": "windows", "id-l": "linux"}}
    assert cell_text(profiles, "devices", "device_groups", ["id-w", "id-l"], groups) == (
        "linux | windows"
    )
    paths = [{"path": "/b/", "retention": 5}, {"path": "/a/", "retention": 7}]
    assert cell_text(profiles, "repos", "storage_paths", paths) == "/a/ | /b/"
    assert cell_text(profiles, "repos", "retention_days", paths) == "7 | 5"  # pairs kept
    assert cell_text(profiles, "repos", "retention_days", [{"path": "/a/", "retention": 7}]) == 7
    alert = profiles["alert_rules"]
    assert cell_text(alert, "alert_rules", "settings.flush_on_trigger", "on") is True
    assert cell_text(alert, "alert_rules", "settings.repos", ["10.0.0.1:5504/R"]) == (
        '["10.0.0.1:5504/R"]'
    )
    assert cell_text(alert, "alert_rules", "settings.metadata", {"b": 1, "a": 2}) == (
        '{"a": 2, "b": 1}'
    )
    none = {"enrich_policy": {}}
    assert cell_text(profiles, "processing_policies", "enrich_policy", "None", none) is None
    # an alias of a column reads back like the column
    assert cell_text(profiles, "repos", "name", "Repo_x") == "Repo_x"


def test_adopt_writes_a_copy_that_reads_back(samples, tmp_path):
    source = samples / "core_config.xlsx"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    out = tmp_path / "adopted.xlsx"
    done = adopt_workbook(
        source,
        [("Device", 2, "ip", ["10.0.0.1", "10.0.0.2"]), ("repo", 3, "retention_days", 30)],
        out,
    )
    assert done == {"changes": 2, "cells": 2}
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest  # original untouched
    book = load_workbook(out)
    assert book["Device"]["F2"].value == "10.0.0.1 | 10.0.0.2"
    assert book["Device"]["F2"].fill.start_color.rgb.endswith("C6E0B4")
    assert "10.93.8.26" in book["Device"]["F2"].comment.text  # the former value
    assert book["Repo"]["F2"].value == "=TRUE()"  # formulas kept
    listing = [[c.value for c in row] for row in book[ADOPTED_SHEET].iter_rows()]
    assert listing[1][:3] == ["Device", "F2", "ip"] and listing[2][:3] == [
        "Repo",
        "E3",
        "retention_days",
    ]
    # formula results stay stored: the importers read the copy like the original
    wb = Workbook(out)
    assert list(wb.sheet("Repo")["active"][:2]) == [True, True]
    assert wb.sheet("Device")["ip"].iloc[0] == "10.0.0.1 | 10.0.0.2"


def test_adopt_errors_are_one_line(samples, tmp_path):
    source = samples / "core_config_light.xlsx"
    with pytest.raises(WorkbookError, match="no column 'nope'"):
        adopt_workbook(source, [("Device", 2, "nope", 1)], tmp_path / "a.xlsx")
    with pytest.raises(WorkbookError, match="no sheet 'Missing'"):
        adopt_workbook(source, [("Missing", 2, "ip", 1)], tmp_path / "a.xlsx")
    with pytest.raises(WorkbookError, match="copy"):
        adopt_workbook(source, [], source)


def test_adopting_director_changes_plans_no_change(simulator, samples, tmp_path):
    """A device changed on Director, read back with cell_text, adopted: the plan is clean."""
    wb = samples / "core_config_light.xlsx"
    with session_for(simulator, samples / "tenants.yml", tmp_path) as s:
        s.apply(s.plan("core", wb, ["device_groups", "devices"]))
        tenant = s.tenant("core")
        inv = s.inventory("core")
        node = tenant.nodes_for("devices", s.profiles["devices"].targets)[0]
        devices = inv.refresh("devices", node)
        groups = inv.refresh("device_groups", node)
        device = devices[devices["name"].eq("core-ojs")].iloc[0]
        other = groups[groups["name"].eq("linux")].iloc[0]
        changed = {"ip": ["10.9.9.9", "10.9.9.8"], "devicegroup": [other["id"]]}
        for n in tenant.nodes_for("devices", s.profiles["devices"].targets):
            listed = inv.refresh("devices", n)
            twin = listed[listed["name"].eq("core-ojs")].iloc[0]
            named = inv.refresh("device_groups", n)
            gid = named[named["name"].eq("linux")]["id"].iloc[0]
            body = {
                "name": "core-ojs",
                "ip": changed["ip"],
                "devicegroup": [gid],
                **{
                    k: twin[k] for k in ("availability", "confidentiality", "integrity", "timezone")
                },
            }
            s.client.write("PUT", tenant.pool_uuid, n.id, f"Devices/{twin['id']}", body)
        plan = s.plan("core", wb, ["device_groups", "devices"])
        assert plan.counts()["update"] == 2  # the workbook would revert the hand change
        tables = lookup_tables(s.profiles["devices"], lambda source: inv.frame(source, node))
        row = int(Workbook(wb).sheet("Device").set_index("name").loc["core-ojs", "_row"])
        changes = [
            ("Device", row, "ip", cell_text(s.profiles, "devices", "ip", changed["ip"])),
            (
                "Device",
                row,
                "device_groups",
                cell_text(s.profiles, "devices", "device_groups", changed["devicegroup"], tables),
            ),
        ]
        assert changes[1][3] == "linux" and device["name"] == "core-ojs"
        adopted = tmp_path / "adopted.xlsx"
        adopt_workbook(wb, changes, adopted)
        again = s.plan("core", adopted, ["device_groups", "devices"])
        assert not again.has_changes, again.changed().to_dict("records")[:2]

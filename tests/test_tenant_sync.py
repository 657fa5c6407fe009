"""Whole-tenant sync of the four sample workbooks against a fresh simulator (issue 5).

Every resource present in the workbook, dependency order, no ERROR or EXCEPTION, every SKIP
with a reason; the second apply is all UNCHANGED (or the same SKIPs) with zero writes.
"""

from __future__ import annotations

import pytest
from conftest import session_for, writes

CASES = [
    ("core_config.xlsx", "core"),
    ("core_config_light.xlsx", "core"),
    ("esait_config.xlsx", "esait"),
    ("sccoe_config.xlsx", "sccoe"),
]


@pytest.mark.parametrize(("workbook", "tenant"), CASES)
def test_sample_workbook_syncs_cleanly_and_idempotently(
    workbook, tenant, simulator, samples, tenants_file, tmp_path
):
    with session_for(simulator, tenants_file, tmp_path) as session:
        first = session.apply(session.plan(tenant, samples / workbook))
        by = first["summary"]["by_status"]
        problems = [
            (r["resource"], r["key"], r["error"])
            for r in first["rows"]
            if r["status"] in ("ERROR", "EXCEPTION")
        ]
        assert problems == []
        assert by.get("CREATED", 0) > 0
        assert all(r["reason"] for r in first["rows"] if r["status"] == "SKIP")
        assert {r["resource"] for r in first["rows"]} >= {"repos", "devices", "alert_rules"}
        written = len(writes(simulator))
        second = session.apply(session.plan(tenant, samples / workbook))
    assert set(second["summary"]["by_status"]) <= {"UNCHANGED", "SKIP"}, second["summary"]
    assert second["summary"]["by_status"].get("SKIP", 0) == by.get("SKIP", 0)
    assert len(writes(simulator)) == written, "the second apply sends no write at all"


def test_dry_run_of_devices_writes_nothing_not_even_group_membership(
    simulator, samples, tenants_file, tmp_path
):
    with session_for(simulator, tenants_file, tmp_path) as session:
        plan = session.plan("core", samples / "core_config.xlsx", ["device_groups", "devices"])
        result = session.apply(plan, dry_run=True)
    assert len(writes(simulator)) == 0
    assert result["summary"]["by_status"]["PLANNED_CREATE"] > 0


def test_turning_an_alert_flag_off_is_applied_and_converges(
    simulator, samples, tenants_file, tmp_path
):
    import pandas as pd

    sheets = pd.read_excel(samples / "core_config.xlsx", sheet_name=None, engine="calamine")
    book = tmp_path / "core.xlsx"

    def write(flush: bool) -> None:
        alert = sheets["Alert"]
        alert["settings.flush_on_trigger"] = alert["settings.flush_on_trigger"].astype(object)
        alert.loc[alert["name"] == RULE, "settings.flush_on_trigger"] = flush
        with pd.ExcelWriter(book, engine="openpyxl") as w:
            for name, frame in sheets.items():
                frame.to_excel(w, sheet_name=name, index=False)

    # the samples' nodes have no ip_private: their rules reach the repos by the public ip
    fallback = {"inputs.public_ip_fallback": True}
    with session_for(simulator, tenants_file, tmp_path, **fallback) as session:
        write(True)
        session.apply(session.plan("core", book, ["repos", "alert_rules"]))
        write(False)
        changed = session.apply(session.plan("core", book, ["repos", "alert_rules"]))
        rows = [r for r in changed["rows"] if r["status"] == "UPDATED"]
        assert [r["key"] for r in rows] == [RULE]
        again = session.plan("core", book, ["repos", "alert_rules"])
    assert set(again.rows["action"]) <= {"unchanged", "skip"}


RULE = "QuickSign - Annulations importantes"

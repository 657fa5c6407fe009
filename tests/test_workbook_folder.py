"""The workbook folder as a library: offline checks, template workbooks, changed since a sync.

Samples are read from ``../shared/samples``; every file written goes to ``tmp_path``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from directorsync.config import Settings
from directorsync.errors import ConfigError, WorkbookError
from directorsync.ledger.database import open_ledger
from directorsync.profile.model import load_profiles
from directorsync.synth.writers import write_xlsx
from directorsync.tenants import load_tenants
from directorsync.workbook_check import check_workbook, template_columns, write_template
from directorsync.workbook_folder import (
    CheckCache,
    check_tenant_name,
    fingerprint,
    folder_listing,
    initialise_workbook,
    open_folder,
    record_workbook,
    sync_state,
)


@pytest.fixture(scope="module")
def profiles():
    return load_profiles(None, [])


def test_a_sample_workbook_is_checked_offline_with_findings_by_sheet_row_and_column(
    samples, profiles
):
    tenants = load_tenants(samples / "tenants.yml")
    check = check_workbook(
        samples / "core_config.xlsx", profiles, tenant=tenants["core"], known_tenants=tenants
    )
    assert check.sheets["Repo"] == 6 and check.sheets["UserDefinedList"] == 300
    assert check.resources["repos"] == {"sheet": "Repo", "rows": 6, "ok": 6, "skip": 0, "error": 0}
    assert check.resources["alert_rules"]["rows"] == 108
    row_findings = [f for f in check.findings if f["row"] is not None]
    assert row_findings, "the sample's alert rules have findings"
    first = row_findings[0]
    assert set(first) == {
        "resource",
        "sheet",
        "row",
        "column",
        "check",
        "severity",
        "message",
        "value",
    }
    assert isinstance(first["row"], int) and first["row"] >= 2 and first["sheet"]
    skips = sum(v["skip"] for v in check.resources.values())
    assert check.counts["skip"] >= 1 and skips >= 1
    assert check.valid  # rows are skipped, nothing stops the plan
    unread = [f for f in check.findings if f["check"] == "unread_columns"]
    assert any(f["sheet"] == "Repo" and "used_size" in f["message"] for f in unread)


def test_a_workbook_named_for_another_tenant_is_a_warning(samples, profiles):
    tenants = load_tenants(samples / "tenants.yml")
    check = check_workbook(
        samples / "esait_config.xlsx",
        profiles,
        tenant=tenants["core"],
        known_tenants=tenants,
        resources=["repos"],
    )
    assert [f["check"] for f in check.findings if f["severity"] == "warn"] == ["tenant"]
    assert list(check.resources) == ["repos"]


def test_a_missing_required_column_is_an_error_naming_sheet_and_column(tmp_path, profiles):
    book = write_xlsx(
        {"Repo": pd.DataFrame({"cleaned_repo_name": ["r1"], "retention_days": [30]})},
        tmp_path / "broken_config.xlsx",
    )
    check = check_workbook(book, profiles, resources=["repos"])
    errors = [f for f in check.findings if f["severity"] == "error"]
    assert len(errors) == 1 and not check.valid
    assert errors[0]["sheet"] == "Repo" and errors[0]["column"] == "storage_paths"
    assert "storage_paths" in errors[0]["message"]
    # a resource asked for whose sheet is absent is an error too
    check = check_workbook(book, profiles, resources=["devices"])
    assert [(f["check"], f["severity"], f["sheet"]) for f in check.findings] == [
        ("tenant", "info", None),
        ("sheet", "error", "Device"),
    ]


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path, profiles):
    bad = tmp_path / "notes.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    with pytest.raises(WorkbookError, match="notes.xlsx"):
        check_workbook(bad, profiles)


def test_the_template_has_every_sheet_and_checks_clean(tmp_path, profiles):
    columns = template_columns(profiles)
    for profile in profiles.values():
        for sheet in profile.sheets:
            assert sheet in columns, f"{profile.name}: {sheet} missing from the template"
        for column in profile.xlsx.get("required_columns") or []:
            assert column in columns[profile.sheet], f"{profile.sheet}: {column}"
    assert columns["Repo"][:3] == ["original_repo_name", "cleaned_repo_name", "storage_paths"]
    path = tmp_path / "new_config.xlsx"
    assert write_template(path, profiles) == columns
    check = check_workbook(path, profiles)
    # every column is read, none is missing; the one note: no tenant was named
    assert [(f["check"], f["severity"]) for f in check.findings] == [("tenant", "info")]
    assert check.valid
    assert set(check.sheets) == set(columns) and not any(check.sheets.values())
    assert all(v["rows"] == 0 for v in check.resources.values())
    assert len(check.resources) == len(profiles)
    with pytest.raises(WorkbookError, match="already exists") as caught:
        write_template(path, profiles)
    assert caught.value.context["exists"] is True
    write_template(path, profiles, force=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "", ".hidden", "a\\b", "x" * 201])
def test_names_that_could_reach_other_files_are_refused(name):
    with pytest.raises(ConfigError) as caught:
        check_tenant_name(name)
    assert caught.value.context["field"] == "tenant"


def _settings(tmp_path: Path, samples: Path, **inputs) -> Settings:
    return Settings.model_validate(
        {
            "app": {"reports_dir": str(tmp_path / "reports")},
            "inputs": {"tenants_file": str(samples / "tenants.yml"), **inputs},
        }
    )


def test_the_listing_and_initialise(tmp_path, samples):
    books = tmp_path / "books"
    books.mkdir()
    (books / "sccoe_config.xlsx").write_text("garbage", encoding="utf-8")
    (books / "stray_config.xlsx").write_bytes(b"")
    settings = _settings(
        tmp_path,
        samples,
        xlsx_dir=str(books),
        workbooks={"core": str(samples / "core_config_light.xlsx")},
    )
    folder = open_folder(settings)
    assert open_folder(settings) is folder  # cached while nothing changed
    listing = folder_listing(folder)
    by_tenant = {e["tenant"]: e for e in listing["workbooks"]}
    assert listing["count"] == 3 and listing["unassigned"] == ["stray_config.xlsx"]
    core = by_tenant["core"]
    assert core["present"] and core["readable"] and core["valid"]
    assert core["sheets"]["Alert"] == 1 and core["resources"]["devices"] == 12
    assert core["findings"] == sum(core["counts"].values())
    assert not by_tenant["esait"]["present"]
    assert "not in the folder" in by_tenant["esait"]["message"]
    sccoe = by_tenant["sccoe"]
    assert sccoe["present"] and not sccoe["readable"] and "sccoe_config.xlsx" in sccoe["message"]
    made = initialise_workbook(folder, "esait")
    assert made["file"] == "esait_config.xlsx" and not made["replaced"]
    assert (books / "esait_config.xlsx").is_file()
    with pytest.raises(WorkbookError):
        initialise_workbook(folder, "esait")
    assert initialise_workbook(folder, "esait", force=True)["replaced"]
    with pytest.raises(ConfigError, match="unknown tenant") as caught:
        initialise_workbook(folder, "nobody")
    assert caught.value.context["known"] == ["core", "esait", "sccoe"]
    esait = {e["tenant"]: e for e in folder_listing(folder)["workbooks"]}["esait"]
    assert esait["readable"] and esait["valid"] and esait["findings"] == 0


def test_checks_are_cached_per_file_version(tmp_path, samples, profiles):
    settings = _settings(tmp_path, samples, xlsx_dir=str(tmp_path))
    folder = open_folder(settings)
    path = tmp_path / "core_config.xlsx"
    write_template(path, profiles)
    cache = CheckCache()
    first = cache.check(folder, path, "core")
    assert cache.check(folder, path, "core") is first and (cache.hits, cache.misses) == (1, 1)
    repo = {"cleaned_repo_name": ["r1"], "storage_paths": ["/a"], "retention_days": [30]}
    write_xlsx({"Repo": pd.DataFrame(repo)}, path)
    changed = cache.check(folder, path, "core")
    assert changed is not first and changed.resources["repos"]["rows"] == 1


def test_changed_since_the_last_sync(tmp_path, samples, profiles):
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    path = tmp_path / "core_config.xlsx"
    write_template(path, profiles)
    assert sync_state(ledger, "core", path) == {
        "changed_since_last_sync": None,
        "last_sync": None,
    }
    # a run that recorded its workbook: compared by content
    ledger.create_run("run-1", tenant="core", kind="apply", trigger="api", state="completed")
    seen = record_workbook(ledger, "run-1", "core", path)
    assert seen == fingerprint(path) and len(seen["sha256"]) == 64
    state = sync_state(ledger, "core", path)
    assert state["changed_since_last_sync"] is False
    assert state["last_sync"]["id"] == "run-1" and state["last_sync"]["basis"] == "sha256"
    os.utime(path, (1_000_000_000, 1_000_000_000))  # touched, same bytes: not changed
    assert sync_state(ledger, "core", path)["changed_since_last_sync"] is False
    frames = {"Repo": pd.DataFrame({"cleaned_repo_name": ["r1"], "storage_paths": ["/a"]})}
    write_xlsx(frames, path)
    assert sync_state(ledger, "core", path)["changed_since_last_sync"] is True
    # a newer run (a plan from the CLI) that did not record it: compared by modification time
    ledger.create_run(
        "run-2", tenant="core", kind="plan", trigger="cli", started_at="2000-01-01T00:00:00+00:00"
    )
    state = sync_state(ledger, "core", path)
    assert state["last_sync"]["id"] == "run-2" and state["last_sync"]["basis"] == "mtime"
    assert state["changed_since_last_sync"] is True  # written after 2000
    ledger.create_run("run-3", tenant="core", kind="plan", trigger="cli", started_at=ledger.now())
    assert sync_state(ledger, "core", path)["changed_since_last_sync"] is False
    ledger.close()


def test_initialise_writes_only_inside_the_folder(tmp_path, samples, profiles):
    elsewhere = tmp_path / "elsewhere" / "core.xlsx"
    write_template(elsewhere, profiles)
    before = elsewhere.read_bytes()
    books = tmp_path / "books"
    books.mkdir()
    settings = _settings(tmp_path, samples, xlsx_dir=str(books), workbooks={"core": str(elsewhere)})
    folder = open_folder(settings)
    with pytest.raises(WorkbookError, match="outside the workbook folder") as caught:
        initialise_workbook(folder, "core", force=True)
    assert caught.value.context["exists"] and elsewhere.read_bytes() == before
    initialise_workbook(folder, "esait")
    (books / "esait_config.xlsx").chmod(0o444)
    with pytest.raises(WorkbookError, match="read-only"):
        initialise_workbook(folder, "esait", force=True)
    no_folder = open_folder(_settings(tmp_path, samples, workbooks={"core": str(elsewhere)}))
    with pytest.raises(WorkbookError, match="outside the workbook folder"):
        initialise_workbook(no_folder, "core", force=True)
    assert elsewhere.read_bytes() == before


def test_an_enrichment_policy_without_rules_is_a_finding_not_a_crash(tmp_path, profiles):
    columns = template_columns(profiles)
    sheets = ("EnrichmentPolicy", "EnrichmentRules", "EnrichmentCriteria")
    frames = {sheet: pd.DataFrame(columns=columns[sheet]) for sheet in sheets}
    policy = {"spec_index": 1, "policy_name": "p1", "description": "d", "source": "src"}
    frames["EnrichmentPolicy"] = pd.DataFrame([policy])
    check = check_workbook(
        write_xlsx(frames, tmp_path / "e.xlsx"), profiles, resources=["enrichment_policies"]
    )
    assert check.resources["enrichment_policies"]["skip"] == 1
    (finding,) = [f for f in check.findings if f["row"] is not None]
    assert finding["row"] == 2 and "no enrichment rules" in finding["message"]

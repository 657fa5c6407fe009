"""Template drift: sheet names that differ by case or spaces, and columns no profile reads."""

import zipfile

import pandas as pd
import pytest
from conftest import session_for

from directorsync.inventory import Inventory
from directorsync.planner import build_plan
from directorsync.profile.model import load_profiles
from directorsync.template_check import (
    columns_read,
    fold,
    resolve_sheet_names,
    similarity,
    unread_column_notes,
)
from directorsync.tenants import load_tenants
from directorsync.workbook import Workbook

LISTINGS = {
    "Repos": [],
    "Repos/RepoPaths": [{"paths": ["/opt/immune/storage/", "/data_hot/", "/cold_nfs/"]}],
}
REPO_UNREAD = "repo_number, active, used_size"


def plan_repos(path, fake_director, tenants_file):
    tenant = load_tenants(tenants_file)["core"]
    everything = load_profiles()
    inventory = Inventory(fake_director(LISTINGS), tenant, everything)
    return build_plan(tenant, Workbook(path), {"repos": everything["repos"]}, inventory)


def write_repo_sheets(samples, tmp_path, names, edit=None):
    """``edited.xlsx`` holding the core sample's Repo sheet under each of ``names``."""
    repo = pd.read_excel(samples / "core_config.xlsx", sheet_name="Repo", engine="calamine")
    if edit:
        repo = edit(repo)
    path = tmp_path / "edited.xlsx"
    # openpyxl refuses names equal but for case (it writes REPO1): they are patched afterwards,
    # as a workbook written by another tool would have them
    stand_ins = [f"Sheet{i}" for i in range(len(names))]
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for stand_in in stand_ins:
            repo.to_excel(writer, sheet_name=stand_in, index=False)
    with zipfile.ZipFile(path) as book:
        parts = {info: book.read(info) for info in book.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for info, data in parts.items():
            if info.filename == "xl/workbook.xml":
                for stand_in, name in zip(stand_ins, names):
                    data = data.replace(f'name="{stand_in}"'.encode(), f'name="{name}"'.encode())
            book.writestr(info, data)
    assert Workbook(path).sheet_names == names
    return path


def test_an_extra_misspelt_column_is_one_info_note_with_a_suggestion(
    samples, tmp_path, fake_director, tenants_file
):
    path = write_repo_sheets(
        samples, tmp_path, ["Repo"], lambda f: f.assign(retension_days=f["retention_days"])
    )
    plan = plan_repos(path, fake_director, tenants_file)
    assert plan.notes == [
        {
            "resource": "repos",
            "level": "info",
            "message": (
                "edited.xlsx › Repo: 4 columns no profile reads (ignored): "
                f"{REPO_UNREAD}, retension_days (did you mean 'retention_days'?)"
            ),
        }
    ]
    assert len(plan.rows) == 12 and not plan.has_errors  # still planned: an info only


@pytest.mark.parametrize("name", ["repo ", "REPO", " Repo"])
def test_a_sheet_named_but_for_case_or_spaces_is_read_with_a_warning(
    samples, tmp_path, fake_director, tenants_file, name
):
    plan = plan_repos(write_repo_sheets(samples, tmp_path, [name]), fake_director, tenants_file)
    assert plan.notes == [
        {
            "resource": "repos",
            "level": "warning",
            "message": (
                f"edited.xlsx: sheet '{name}' is read as 'Repo' (the names differ only by case "
                "or spaces); rename it 'Repo'"
            ),
        },
        {
            "resource": "repos",
            "level": "info",
            "message": f"edited.xlsx › Repo: 3 columns no profile reads (ignored): {REPO_UNREAD}",
        },
    ]
    assert len(plan.rows) == 12 and set(plan.rows["action"]) == {"create"}


def test_two_sheets_equal_but_for_case_are_an_error_naming_both(
    samples, tmp_path, fake_director, tenants_file
):
    path = write_repo_sheets(samples, tmp_path, ["Repo", "REPO"])
    plan = plan_repos(path, fake_director, tenants_file)
    assert plan.notes == [
        {
            "resource": "repos",
            "level": "error",
            "message": (
                "edited.xlsx: sheets 'Repo' and 'REPO' differ only by case or spaces, so which "
                "one is 'Repo' is unclear: rename or delete one; repos not planned"
            ),
        }
    ]
    assert plan.has_errors and plan.rows.empty


def test_sheet_names_resolution_is_pure_and_names_every_reader():
    profiles = load_profiles(["repos", "routing_policies"])
    names = resolve_sheet_names("b.xlsx", ["REPO", "repo", "routingpolicy "], profiles)
    assert names.aliases == {"RoutingPolicy": "routingpolicy "}
    assert names.conflicts == {"Repo": ["REPO", "repo"]}
    # routing_policies reads Repo through sheet_map: it is not planned either
    assert names.blocked == {"repos", "routing_policies"}
    assert [n["level"] for n in names.notes] == ["error", "error", "warning"]


def test_what_profiles_read_comes_from_every_place_a_column_is_named():
    reads = columns_read(load_profiles().values())
    repo = reads.mentioned[fold("Repo")]
    # own mapping and required columns, alias, sheet_map of routing_policies, alert_rules' hook
    assert {"cleaned_repo_name", "storage_paths", "repoha_li", "repo_name"} <= repo
    assert "original_repo_name" in repo
    assert {"app", "device_name"} <= reads.mentioned[fold("DeviceFetcher")]  # filter identifiers
    assert "description" in reads.mentioned[fold("DeviceGroups")]  # expr identifiers
    assert {"policy_id", "cleaned_policy_name"} <= reads.mentioned[fold("RoutingPolicy")]
    assert "source" not in reads.mentioned[fold("EnrichmentRules")]  # the hook drops it
    assert not reads.opaque  # every built-in build hook declares its columns


def test_a_build_hook_without_declared_columns_leaves_its_sheets_unchecked(tmp_path):
    profile = tmp_path / "things.yml"
    profile.write_text(
        "version: 1\nhooks: {build: no_such_hook}\nxlsx: {sheet: Things, mapping: {a: {col: a}}}\n"
    )
    things = load_profiles(["things"], [tmp_path])["things"]
    assert columns_read([things]).opaque == {"things"}
    assert unread_column_notes("b.xlsx", {"Things": ("things", ["a", "b"])}, [things]) == []


def test_suggestions_ignore_a_shared_dotted_prefix():
    assert similarity("retension_days", "retention_days") > 0.9
    assert similarity("settings.vid", "settings.risk") < 0.5
    assert similarity("settings.livesearch_data.query", "settings.livesearch_data.limit") < 0.5


def test_the_samples_have_no_false_suggestion_and_the_known_unread_columns(samples):
    profiles = list(load_profiles().values())
    for book in ["core_config.xlsx", "esait_config.xlsx", "sccoe_config.xlsx"]:
        wb = Workbook(samples / book)
        headers = {
            s: (p.name, list(wb.sheet(s).columns))
            for p in profiles
            for s in p.sheets
            if wb.has_sheet(s)
        }
        notes = {
            n["message"].split(":")[0]: n["message"]
            for n in unread_column_notes(book, headers, profiles)
        }
        assert not any("did you mean" in m for m in notes.values())
        assert notes[f"{book} › Repo"].endswith(f"(ignored): {REPO_UNREAD}")
        assert notes[f"{book} › EnrichmentRules"].endswith("(ignored): source")
        assert f"{book} › NormalizationPolicy" not in notes  # every column is read


def test_the_core_sample_with_its_repo_sheet_renamed_plans_as_the_original(
    samples, tmp_path, simulator, tenants_file
):
    """Routing policies and alert rules read the Repo sheet too: nothing is skipped for it."""
    renamed = tmp_path / "core_config.xlsx"
    with zipfile.ZipFile(samples / "core_config.xlsx") as book:
        parts = {info: book.read(info) for info in book.infolist()}
    with zipfile.ZipFile(renamed, "w", zipfile.ZIP_DEFLATED) as book:
        for info, data in parts.items():
            if info.filename == "xl/workbook.xml":
                data = data.replace(b'name="Repo"', b'name="Repo "')
            book.writestr(info, data)
    # the samples' nodes have no ip_private: their rules reach the repos by the public ip
    fallback = {"inputs.public_ip_fallback": True}
    with session_for(simulator, tenants_file, tmp_path, **fallback) as session:
        original = session.plan("core", samples / "core_config.xlsx")
        plan = session.plan("core", renamed)
    assert Workbook(renamed).sheet_names[0] == "Repo "
    counts = plan.rows["action"].value_counts().to_dict()
    assert counts == original.rows["action"].value_counts().to_dict()
    assert counts["skip"] == 80  # 171 when the sheet was taken as absent
    assert [n for n in plan.notes if n["level"] != "info"] == [
        {
            "resource": "repos",
            "level": "warning",
            "message": (
                "core_config.xlsx: sheet 'Repo ' is read as 'Repo' (the names differ only by "
                "case or spaces); rename it 'Repo'"
            ),
        },
        *(
            {
                "resource": "alert_rules",
                "level": "warning",
                "message": f"node {node} has no ip_private: alert rules address its repos by its "
                "public ip 127.0.0.1 (inputs.public_ip_fallback); check that the search head "
                "reaches it there",
            }
            for node in ("lb-backend01", "lb-backend02")
        ),
    ]
    assert [n["message"] for n in plan.notes if n["level"] == "info"] == [
        n["message"] for n in original.notes if n["level"] == "info"
    ]

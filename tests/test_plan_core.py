"""Planning the core workbook's Repo, RoutingPolicy and ProcessingPolicy sheets.

And the precise messages a new user gets for bad inputs.
"""

import json

import pandas as pd
import pytest

from directorsync.errors import WorkbookError
from directorsync.inventory import Inventory
from directorsync.plan import load_plan
from directorsync.planner import build_plan
from directorsync.profile.model import load_profiles
from directorsync.tenants import load_tenants
from directorsync.workbook import Workbook

RESOURCES = ["repos", "routing_policies", "processing_policies"]
DEFAULT_REPOS = [
    {"id": f"{i:024x}", "name": n, "repopath": [{"path": "/opt/immune/storage/", "retention": 365}]}
    for i, n in enumerate(["default", "_logpoint", "_LogPointAlerts"], 1)
]
LISTINGS = {
    "Repos": DEFAULT_REPOS,
    "Repos/RepoPaths": [{"paths": ["/opt/immune/storage/", "/data_hot/", "/cold_nfs/"]}],
    "NormalizationPolicy": [
        {"id": "a" * 24, "name": n}
        for n in [
            "np_windows",
            "np_fortinet",
            "np_rfsa",
            "np_tenable",
            "np_linux",
            "np_edr",
            "np_deception",
            "np_cisco_amp",
            "np_rsa",
        ]
    ],
    "EnrichmentPolicy": [{"id": "e" * 24, "name": "Threat_Intelligence"}],
}


def plan_for(workbook, fake_director, tenants_file, listings=LISTINGS, resources=RESOURCES):
    tenant = load_tenants(tenants_file)["core"]
    everything = load_profiles()
    inventory = Inventory(fake_director(listings), tenant, everything)
    selected = {r: everything[r] for r in resources}
    return build_plan(tenant, Workbook(workbook), selected, inventory)


def rows_of(plan, resource):
    return plan.rows[plan.rows["resource"] == resource]


def test_core_workbook_fresh_node(samples, fake_director, tenants_file):
    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file)
    repos = rows_of(plan, "repos")
    assert len(repos) == 12 and set(repos["action"]) == {"create"}  # 6 repos x 2 backends
    system = repos[repos["key"] == "Repo_system"].iloc[0]
    assert system["payload"] == {
        "name": "Repo_system",
        "hiddenrepopath": [
            {"path": "/data_hot/", "retention": 90},
            {"path": "/cold_nfs/", "retention": 275},
        ],
    }
    assert system["source"] == "core_config.xlsx › Repo › row 2"
    rp = rows_of(plan, "routing_policies")
    assert len(rp) == 18 and set(rp["action"]) == {"create"}
    windows = rp[rp["key"] == "rp_windows"].iloc[0]
    assert windows["payload"]["catch_all"] == "Repo_system"  # original name mapped to cleaned
    assert windows["payload"]["routing_criteria"] == [
        {
            "type": "KeyPresentValueMatches",
            "key": "event_source",
            "value": "Microsoft-Windows-Sysmon",
            "repo": "Repo_system_verbose",
            "drop": "store",
        }
    ]
    assert sorted(windows["depends_on"]) == ["repos:Repo_system", "repos:Repo_system_verbose"]
    pp = rows_of(plan, "processing_policies")
    assert set(pp["action"]) == {"create"}
    win = pp[pp["key"] == "pp_windows"].iloc[0]
    assert win["payload"]["enrich_policy"] == "None"
    assert win["payload"]["norm_policy"] == "np_windows"
    assert win["payload"]["routing_policy"] == "$ref:routing_policies:rp_windows"
    forti = pp[pp["key"] == "pp_fortinet"].iloc[0]
    assert forti["payload"]["enrich_policy"] == "e" * 24  # source id → name → target id


def test_converged_state_is_unchanged(samples, fake_director, tenants_file):
    """What Director returns after applying the creates compares equal: no update loops."""
    first = plan_for(samples / "core_config.xlsx", fake_director, tenants_file)
    listings = {k: list(v) for k, v in LISTINGS.items()}
    created = first.rows[first.rows["action"] == "create"]
    for resource, path, rename in [
        ("repos", "Repos", {"hiddenrepopath": "repopath"}),
        ("routing_policies", "RoutingPolicies", {}),
    ]:
        seen = set()
        for i, row in enumerate(created[created["resource"] == resource].itertuples()):
            if row.key in seen:
                continue
            seen.add(row.key)
            obj = {rename.get(k, k): v for k, v in row.payload.items()}
            listings.setdefault(path, []).append(
                {"id": f"{resource[:1]}{i:023x}", "user": "admin", **obj}
            )
    ids = {o["policy_name"]: o["id"] for o in listings["RoutingPolicies"]}
    listings["ProcessingPolicy"] = []
    for row in (
        created[created["resource"] == "processing_policies"].drop_duplicates("key").itertuples()
    ):
        p = dict(row.payload)
        p["routing_policy"] = ids[p["routing_policy"].split(":")[-1]]
        listings["ProcessingPolicy"].append({"id": "f" * 24, "tid": "", **p})
    second = plan_for(samples / "core_config.xlsx", fake_director, tenants_file, listings)
    assert set(second.rows["action"]) == {"unchanged"}, second.rows[
        second.rows["action"] != "unchanged"
    ][["key", "reason"]]


def test_update_reports_every_differing_field(samples, fake_director, tenants_file):
    listings = dict(
        LISTINGS,
        Repos=DEFAULT_REPOS
        + [
            {
                "id": "9" * 24,
                "name": "Repo_system",
                "repopath": [
                    {"path": "/cold_nfs/", "retention": 275},
                    {"path": "/data_hot/", "retention": 30},
                ],
            }
        ],
    )
    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file, listings, ["repos"])
    row = plan.rows[(plan.rows["key"] == "Repo_system")].iloc[0]
    assert (
        row["action"] == "update" and row["method"] == "PUT" and row["path"] == "Repos/" + "9" * 24
    )
    assert [c["field"] for c in row["changes"]] == ["hiddenrepopath"]
    assert row["payload"]["id"] == "9" * 24 and "name" not in row["payload"]


def test_order_of_storage_paths_does_not_matter(samples, fake_director, tenants_file):
    listings = dict(
        LISTINGS,
        Repos=DEFAULT_REPOS
        + [
            {
                "id": "9" * 24,
                "name": "Repo_system",
                "repopath": [
                    {"path": "/cold_nfs/", "retention": "275"},
                    {"path": "/data_hot/", "retention": 90},
                ],
            }
        ],
    )
    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file, listings, ["repos"])
    assert plan.rows[plan.rows["key"] == "Repo_system"].iloc[0]["action"] == "update"  # "275" ≠ 275
    listings["Repos"][-1]["repopath"][0]["retention"] = 275
    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file, listings, ["repos"])
    assert plan.rows[plan.rows["key"] == "Repo_system"].iloc[0]["action"] == "unchanged"


# ---- bad inputs, tried as a new user would ------------------------------------------------


def rp_windows_on_backend01(workbook, fake_director, tenants_file) -> pd.Series:
    """The plan row of routing policy rp_windows on lb-backend01, repos planned with it."""
    plan = plan_for(workbook, fake_director, tenants_file, resources=["repos", "routing_policies"])
    rows = plan.rows
    return rows[(rows["key"] == "rp_windows") & (rows["node_name"] == "lb-backend01")].iloc[0]


def edited(samples, tmp_path, edit):
    sheets = pd.read_excel(samples / "core_config.xlsx", sheet_name=None, engine="calamine")
    edit(sheets)
    path = tmp_path / "edited.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as w:
        for name, frame in sheets.items():
            frame.to_excel(w, sheet_name=name, index=False)
    return path


def test_missing_sheet_is_reported_not_fatal(samples, tmp_path, fake_director, tenants_file):
    path = edited(samples, tmp_path, lambda s: s.pop("RoutingPolicy"))
    plan = plan_for(path, fake_director, tenants_file)
    absent, *unread = plan.notes
    assert absent == {
        "resource": "routing_policies",
        "level": "info",
        "message": "edited.xlsx: sheet 'RoutingPolicy' is absent; routing_policies not planned",
    }
    # the other notes are the template drift's unread columns of the sheets planned
    assert [(n["resource"], n["message"].split(":")[0]) for n in unread] == [
        ("repos", "edited.xlsx › Repo"),
        ("processing_policies", "edited.xlsx › ProcessingPolicy"),
    ]
    assert "repos" in set(plan.rows["resource"])


def test_renamed_required_column_names_file_sheet_and_suggests(
    samples, tmp_path, fake_director, tenants_file
):
    path = edited(
        samples,
        tmp_path,
        lambda s: s.update(Repo=s["Repo"].rename(columns={"retention_days": "retention_dayz"})),
    )
    plan = plan_for(path, fake_director, tenants_file, resources=["repos"])
    [note] = plan.notes
    assert note["level"] == "error" and plan.has_errors
    assert note["message"].startswith(
        "edited.xlsx › Repo: required column 'retention_days' (did you mean 'retention_dayz'?) is missing"
    )


def test_duplicate_names_skip_later_rows_with_first_row(
    samples, tmp_path, fake_director, tenants_file
):
    def dup(s):
        s["Repo"] = pd.concat([s["Repo"], s["Repo"].iloc[[0]]], ignore_index=True)

    plan = plan_for(
        edited(samples, tmp_path, dup), fake_director, tenants_file, resources=["repos"]
    )
    skipped = plan.rows[plan.rows["action"] == "skip"]
    assert set(skipped["reason"]) == {"duplicate name 'Repo_system' (first defined at row 2)"}
    assert set(skipped["source"]) == {"edited.xlsx › Repo › row 8"}
    f = plan.findings[plan.findings["check"] == "unique_in_sheet"].iloc[0]
    assert (f["sheet"], f["row"], f["column"]) == ("Repo", 8, "cleaned_repo_name")


def test_non_numeric_retention_is_a_cell_finding(samples, tmp_path, fake_director, tenants_file):
    def bad(s):
        s["Repo"]["retention_days"] = s["Repo"]["retention_days"].astype(object)
        s["Repo"].loc[5, "retention_days"] = "ninety"

    plan = plan_for(
        edited(samples, tmp_path, bad), fake_director, tenants_file, resources=["repos"]
    )
    f = plan.findings[plan.findings["check"] == "valid"].iloc[0]
    assert (f["sheet"], f["row"], f["column"], f["value"]) == (
        "Repo",
        7,
        "retention_days",
        "ninety",
    )
    assert f["message"] == "'ninety' is not an integer in [1, 36500]"
    row = plan.rows[plan.rows["excel_rows"].map(lambda r: r == [7])].iloc[0]
    assert row["action"] == "skip"


def test_unknown_repo_name_suggests_close_match(samples, tmp_path, fake_director, tenants_file):
    def bad(s):
        s["RoutingPolicy"].loc[0, "catch_all"] = "Repo_sytem"

    row = rp_windows_on_backend01(edited(samples, tmp_path, bad), fake_director, tenants_file)
    assert row["action"] == "skip"
    assert (
        row["reason"]
        == "unknown repo 'Repo_sytem' (did you mean 'Repo_system'?) on node lb-backend01"
    )


def test_unreadable_and_unsupported_files(tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(WorkbookError, match="cannot read broken.xlsx"):
        assert Workbook(bad).sheet_names
    text = tmp_path / "x.txt"
    text.write_text("x")
    with pytest.raises(WorkbookError, match="unsupported file type"):
        Workbook(text)


def test_csv_folder_is_a_workbook(tmp_path, samples, fake_director, tenants_file):
    for name in ("Repo", "RoutingPolicy", "ProcessingPolicy", "EnrichmentPolicy"):
        frame = pd.read_excel(samples / "core_config.xlsx", sheet_name=name, engine="calamine")
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    plan = plan_for(tmp_path, fake_director, tenants_file)
    assert len(plan.rows[plan.rows["resource"] == "repos"]) == 12


def test_plan_json_round_trip_and_hash(samples, tmp_path, fake_director, tenants_file):
    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file)
    path = plan.save(tmp_path / "plan.json")
    again = load_plan(path)
    assert again.hash == plan.hash and len(again.rows) == len(plan.rows)
    data = json.loads(path.read_text())
    data["rows"][0]["payload"]["name"] = "tampered"
    path.write_text(json.dumps(data))
    with pytest.raises(Exception, match="modified"):
        load_plan(path)


def test_a_plan_file_hashed_the_earlier_way_still_loads(
    samples, tmp_path, fake_director, tenants_file
):
    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file)
    data = json.loads(plan.save(tmp_path / "plan.json").read_text())
    assert data["hash"] == plan.hash != plan.legacy_hash()
    data["hash"] = plan.legacy_hash()
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert load_plan(tmp_path / "old.json").hash == plan.hash
    data["rows"][0]["key"] = "tampered"
    (tmp_path / "old.json").write_text(json.dumps(data))
    with pytest.raises(Exception, match="modified"):
        load_plan(tmp_path / "old.json")


def test_rows_become_plain_json_values():
    import math

    import numpy as np

    from directorsync.plan import _records

    frame = pd.DataFrame(
        {
            "a": pd.Series([np.int64(3), math.nan, None], dtype=object),
            "b": pd.Series([{"x": math.nan, "y": (1, 2)}, [np.float64(2.5)], pd.NA], dtype=object),
            "c": [1.5, math.nan, 2.0],
        }
    )
    assert _records(frame) == [
        {"a": 3, "b": {"x": None, "y": [1, 2]}, "c": 1.5},
        {"a": None, "b": [2.5], "c": None},
        {"a": None, "b": None, "c": 2.0},
    ]


def test_inventory_listed_once_per_resource_and_node(samples, fake_director, tenants_file):
    tenant = load_tenants(tenants_file)["core"]
    fake = fake_director(LISTINGS)
    everything = load_profiles()
    build_plan(
        tenant,
        Workbook(samples / "core_config.xlsx"),
        {r: everything[r] for r in RESOURCES},
        Inventory(fake, tenant, everything),
    )
    assert len(fake.calls) == len(set(fake.calls))


def test_reference_to_a_skipped_row_says_why(samples, tmp_path, fake_director, tenants_file):
    def bad(s):
        s["Repo"]["retention_days"] = s["Repo"]["retention_days"].astype(object)
        s["Repo"].loc[0, "retention_days"] = "90 | abc"

    row = rp_windows_on_backend01(edited(samples, tmp_path, bad), fake_director, tenants_file)
    assert row["action"] == "skip"
    assert (
        "repo 'Repo_system' is not created: its own row is skipped ('abc' is not an integer"
        in row["reason"]
    )
    assert "did you mean" not in row["reason"]


@pytest.mark.parametrize(
    "content",
    [
        '{"schema": "directorsync/plan@1"}',
        "[1, 2]",
        '{"schema": "x"}',
        '{"schema": "directorsync/plan@1", "tenant": "t", "pool_uuid": "p", "hash": "h", "rows": [1]}',
    ],
)
def test_malformed_plan_files_are_plan_errors(tmp_path, content):
    from directorsync.errors import PlanError

    path = tmp_path / "p.json"
    path.write_text(content)
    with pytest.raises(PlanError):
        load_plan(path)


def test_hash_covers_tenant_and_method(samples, tmp_path, fake_director, tenants_file):
    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file, resources=["repos"])
    path = plan.save(tmp_path / "plan.json")
    for edit in (
        lambda d: d.update(tenant="esait"),
        lambda d: d["rows"][0].update(method="DELETE"),
    ):
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))
        with pytest.raises(Exception, match="modified"):
            load_plan(path)


def test_an_unknown_name_of_a_resource_left_out_of_the_run_says_so(
    samples, fake_director, tenants_file
):
    """Processing policies name normalization policies, which may not be in the plan.

    Planned without them against a Director that has none, their unknown names say that
    normalization_policies are not in the plan.
    """
    listings = {k: v for k, v in LISTINGS.items() if k != "NormalizationPolicy"}
    book = samples / "core_config.xlsx"
    alone = plan_for(book, fake_director, tenants_file, listings, ["processing_policies"])
    said = alone.findings["message"].str.contains("normalization_policies are not in this plan")
    assert said.any()
    both = plan_for(
        book,
        fake_director,
        tenants_file,
        listings,
        ["normalization_policies", "processing_policies"],
    )
    assert not both.findings["message"].str.contains("not in this plan").any()


def test_the_console_view_prints_what_the_whole_plan_prints(samples, fake_director, tenants_file):
    """The CLI prints a large plan from its counts and the rows that change, not every row."""
    from io import StringIO

    from rich.console import Console

    from directorsync.report.console import print_plan

    plan = plan_for(samples / "core_config.xlsx", fake_director, tenants_file)
    shown = []
    for data in (plan.to_dict(), plan.console_view()):
        out = StringIO()
        print_plan(data, Console(file=out, width=200))
        shown.append(out.getvalue())
    assert shown[0] == shown[1]
    assert all(r["action"] != "unchanged" for r in plan.console_view()["rows"])

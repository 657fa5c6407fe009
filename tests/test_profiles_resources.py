"""The device group, device, syslog collector, alert rule and user list profiles.

Planned on the sample workbooks (and small CSV workbooks for the bad rows) against an in-memory
lister; then applied to the simulator, where a second plan must be all unchanged.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import TOKEN, new_simulator

from directorsync.inventory import Inventory
from directorsync.planner import build_plan
from directorsync.profile.model import load_profiles
from directorsync.simulator.catalog import catalog
from directorsync.tenants import load_tenants, parse_tenants
from directorsync.workbook import Workbook

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "shared" / "samples"
MINE = ["device_groups", "devices", "syslog_collectors", "alert_rules", "user_defined_lists"]
SAMPLES = [
    ("core_config.xlsx", "core"),
    ("core_config_light.xlsx", "core"),
    ("esait_config.xlsx", "esait"),
    ("sccoe_config.xlsx", "sccoe"),
]


def _id(n: int) -> str:
    return f"{n:024x}"


def catalog_listings() -> dict[str, list[dict]]:
    """What a fresh node lists: the vendor catalog (ids made up, stable)."""
    c = catalog()
    return {
        "Repos": [
            {"id": _id(i), "name": r["name"], "repopath": [{"path": r["path"], "retention": 365}]}
            for i, r in enumerate(c["default_repos"], 1)
        ],
        "Repos/RepoPaths": [{"paths": list(c["repo_paths"])}],
        "NormalizationPackage": [
            {"id": _id(100 + i), "name": p["name"]}
            for i, p in enumerate(c["normalization_packages"])
        ],
        "NormalizationPackage/CompiledNormalizers": list(c["compiled_normalizers"]),
        "EnrichmentSource": [
            {"id": _id(200 + i), "source_name": s["source_name"]}
            for i, s in enumerate(c["enrichment_sources"])
        ],
        "Charsets": [{"charsets": list(c["charsets"])}],
        "Timezone": list(c["timezones"]),
        "Users": [
            {"id": _id(300 + i), "username": u["username"]} for i, u in enumerate(c["users"])
        ],
        "MitreAttacks/fetch": [{"id": _id(400 + i), **m} for i, m in enumerate(c["mitre_attacks"])],
    }


class Lister:
    """An in-memory lister; a listing may be keyed by ``(node, path)`` or by ``path``."""

    def __init__(self, listings: dict) -> None:
        self.listings = copy.deepcopy(listings)

    def list_objects(self, pool, node, path):
        return copy.deepcopy(self.listings.get((node, path), self.listings.get(path, [])))

    def fetch(self, pool, node, path, data=None):
        return self.list_objects(pool, node, path)


#: the samples' tenants file gives storage nodes an ``ip`` only: alert rules reach their repos by
#: it only with the ``inputs.public_ip_fallback`` setting (issue 18 item 12), which the tests of
#: the samples' rules turn on (test_alert_repos_need_ip_private_unless_the_fallback_is_set)
SAMPLE_OPTIONS = {"public_ip_fallback": True}


def plan_for(workbook, tenant, listings=None, resources=None, options=SAMPLE_OPTIONS):
    """Plan ``resources`` (default: all) of a workbook for a tenant (name or Tenant)."""
    t = load_tenants(SAMPLES_DIR / "tenants.yml")[tenant] if isinstance(tenant, str) else tenant
    everything = load_profiles()
    inventory = Inventory(
        Lister(catalog_listings() if listings is None else listings), t, everything
    )
    selected = everything if resources is None else {r: everything[r] for r in resources}
    return build_plan(t, Workbook(workbook), selected, inventory, options=options)


def rows_of(plan, resource, action=None):
    rows = plan.rows[plan.rows["resource"] == resource]
    return rows if action is None else rows[rows["action"] == action]


def one(plan, resource, key, node=None):
    rows = rows_of(plan, resource)
    rows = rows[rows["key"] == key]
    if node:
        rows = rows[rows["node_name"] == node]
    return rows.iloc[0]


def csv_workbook(folder: Path, sheets: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in sheets.items():
        pd.DataFrame(records).to_csv(folder / f"{name}.csv", index=False)
    return folder


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


# ---------------------------------------------------------------- samples, plan side


@pytest.fixture(scope="module")
def core_plan():
    if not SAMPLES_DIR.is_dir():
        pytest.skip("../shared/samples is not beside the project")
    return plan_for(SAMPLES_DIR / "core_config.xlsx", "core")


def test_core_device_groups_and_devices(core_plan):
    dg = rows_of(core_plan, "device_groups")
    assert len(dg) == 24 and set(dg["action"]) == {"create"}  # 12 groups x 2 backends
    assert one(core_plan, "device_groups", "wireless")["payload"] == {
        "name": "wireless",
        "description": "Cisco Wireless Services Module (WiSM)",
    }
    dev = one(core_plan, "devices", "core-vs1-p001esarsam", "lb-backend02")
    assert dev["method"] == "POST" and dev["path"] == "Devices"
    assert dev["payload"] == {
        "name": "core-vs1-p001esarsam",
        "ip": ["10.93.11.14"],
        "availability": "Minimal",
        "confidentiality": "Minimal",
        "integrity": "Minimal",
        "timezone": "UTC",
        "devicegroup": ["$ref:device_groups:linux", "$ref:device_groups:RSA"],
    }
    assert sorted(dev["depends_on"]) == ["device_groups:RSA", "device_groups:linux"]
    assert "distributed_collector" not in json.dumps(
        rows_of(core_plan, "devices")["payload"].tolist()
    )


def test_core_syslog_collectors(core_plan):
    syslog = rows_of(core_plan, "syslog_collectors")
    assert len(syslog) == 24
    ojs = one(core_plan, "syslog_collectors", "core-ojs", "lb-backend01")
    assert ojs["method"] == "POST" and ojs["path"] == "SyslogCollector"
    assert ojs["payload"] == {
        "device_id": "$ref:devices:core-ojs",
        "proxy_condition": "None",  # the sheet's "None" is a value, not an empty cell
        "parser": "SyslogParser",
        "charset": "utf_8",
        "processpolicy": "$ref:processing_policies:pp_windows",  # source id → name → id
    }
    foreign = one(core_plan, "syslog_collectors", "sccoe-csoc-rfsa-rf-cas")
    assert foreign["action"] == "skip"
    assert (
        "'64f9e4688bcc05168e04c1a0' is not found in ProcessingPolicy.policy_id" in foreign["reason"]
    )


def test_core_alert_rules(core_plan):
    rules = rows_of(core_plan, "alert_rules")
    assert len(rules) == 108 and set(rules["node_name"]) == {"sh01"}
    repeated = rules[rules["key"].duplicated(keep=False)]
    assert len(repeated) == 41 and repeated["key"].nunique() == 20  # 21 repeated names
    created = repeated[repeated["action"] == "create"]
    assert created["key"].is_unique and len(created) == 12
    # another tenant's copy of a rule (row 4) does not take its name from the tenant's (row 5)
    assert created[created["key"] == "synthese_lente"].iloc[0]["excel_rows"] == [5]
    dups = rules[rules["reason"].fillna("").str.contains("duplicate searchname")]
    assert sorted(r[0] for r in dups["excel_rows"]) == [35, 45, 61]
    assert (
        "duplicate searchname 'MATMUT - ACTIVE DIRECTORY - MODIFICATION GROUPE T1' "
        "(first defined at row 12)" in dups.iloc[0]["reason"]
    )
    rule = one(core_plan, "alert_rules", "QuickSign - Annulations importantes")
    body = rule["payload"]
    assert rule["action"] == "create" and rule["path"] == "AlertRules"
    assert body["owner"] == _id(300)  # admin
    assert body["repos"] == ["127.0.0.1:5504/Repo_cloud", "127.0.0.1:5504/Repo_secu"]
    assert (body["timerange_day"], body["timerange_hour"], body["timerange_minute"]) == (0, 1, 0)
    assert body["condition_value"] == 20 and body["limit"] == 100
    assert body["flush_on_trigger"] == "on" and body["active"] is True
    tagged = rules[rules["payload"].map(lambda p: bool(p and p.get("attack_tag")))]
    assert len(tagged) > 0
    mitre = {m["id"] for m in catalog_listings()["MitreAttacks/fetch"]}
    assert all(set(p["attack_tag"]) <= mitre for p in tagged["payload"])  # hashes → ids
    only_foreign = rules[rules["reason"].fillna("").str.contains("not a repo of this tenant")]
    assert len(only_foreign) > 0 and set(only_foreign["action"]) == {"skip"}


def test_core_user_lists(core_plan):
    lists = rows_of(core_plan, "user_defined_lists")
    assert len(lists) == 300
    static = one(core_plan, "user_defined_lists", "DG_LINUX")
    assert (static["method"], static["path"]) == ("POST", "Lists/static")
    assert static["payload"] == {"s_name": "DG_LINUX", "lists": ["127.0.0.1/32"]}
    dynamic = one(core_plan, "user_defined_lists", "ATTACK_COMMANDS")  # 259260 s = 3 d 0 h 1 min
    assert (dynamic["method"], dynamic["path"]) == ("POST", "Lists/dynamic")
    assert dynamic["payload"] == {
        "d_name": "ATTACK_COMMANDS",
        "agelimit_day": 3,
        "agelimit_hour": 0,
        "agelimit_minute": 1,
    }
    empty = one(core_plan, "user_defined_lists", "EXISTING_USERS")
    assert empty["action"] == "skip"
    assert empty["reason"] == "lists is required when list_type is static_list"


@pytest.mark.parametrize(("workbook", "tenant"), SAMPLES)
def test_no_nan_text_in_any_payload(samples, workbook, tenant):
    plan = plan_for(samples / workbook, tenant)
    payloads = plan.rows.loc[plan.rows["resource"].isin(MINE), "payload"].dropna()
    assert len(payloads) > 0
    texts = [s.strip().lower() for p in payloads for s in _strings(p)]
    assert not [t for t in texts if t in ("nan", "null")]  # "None" is a Director value
    assert all(p.get("name") != "" for p in payloads)
    errors = plan.rows[plan.rows["resource"].isin(MINE) & (plan.rows["action"] == "error")]
    assert errors.empty, errors[["resource", "key", "reason"]].to_string()
    skipped = plan.rows[plan.rows["resource"].isin(MINE) & (plan.rows["action"] == "skip")]
    assert skipped["reason"].map(lambda r: isinstance(r, str) and len(r) > 10).all()


# ---------------------------------------------------------------- regressions, updates


def _plan_with(workbook, listings, resources):
    return plan_for(workbook, "core", listings, resources)


def test_device_group_update_sends_the_real_name(samples):
    listings = catalog_listings()
    listings["DeviceGroups"] = [
        {"id": "d" * 24, "name": "windows", "description": "old text", "devices": ["e" * 24]}
    ]
    plan = _plan_with(samples / "core_config.xlsx", listings, ["device_groups"])
    row = one(plan, "device_groups", "windows")
    assert row["action"] == "update" and row["method"] == "PUT"
    assert row["path"] == f"DeviceGroups/{'d' * 24}"
    assert row["payload"] == {"id": "d" * 24, "name": "windows", "description": "windows"}
    assert [c["field"] for c in row["changes"]] == ["description"]  # devices not compared


def test_device_read_shape_converges(samples):
    listings = catalog_listings()
    listings["DeviceGroups"] = [
        {"id": _id(900), "name": "linux", "description": "linux"},
        {"id": _id(901), "name": "RSA", "description": "RSA authentication server"},
    ]
    listings["Devices"] = [
        {
            "id": "f" * 24,
            "name": "core-vs1-p001esarsam",
            "ip": ["10.93.11.14"],
            "device_groups": [_id(901), _id(900)],
            "distributed_collector": ["x" * 24],
            "log_policies": [],
            "timezone": "UTC",
            "col_apps": [],
            "active": True,
            "risk_values": {
                "availability": "Minimal",
                "confidentiality": "Minimal",
                "integrity": "Minimal",
            },
        }
    ]
    plan = _plan_with(samples / "core_config.xlsx", listings, ["device_groups", "devices"])
    assert one(plan, "devices", "core-vs1-p001esarsam")["action"] == "unchanged"
    listings["Devices"][0]["risk_values"]["integrity"] = "Major"
    plan = _plan_with(samples / "core_config.xlsx", listings, ["device_groups", "devices"])
    row = one(plan, "devices", "core-vs1-p001esarsam")
    assert row["action"] == "update" and row["path"] == f"Devices/{'f' * 24}"
    assert [c["field"] for c in row["changes"]] == ["integrity"]


def test_syslog_update_is_a_put_to_the_collector_uuid(samples):
    listings = catalog_listings()
    uuid = "0123456789abcdef0123456789abcdef"
    listings["Devices"] = [
        {
            "id": "f" * 24,
            "name": "core-ojs",
            "ip": ["10.93.8.26"],
            "device_groups": [],
            "col_apps": [
                {
                    "app": "SyslogCollector",
                    "uuid": uuid,
                    "proxy_condition": "None",
                    "parser": "LineParser",
                    "charset": "utf_8",
                    "processpolicy": "p" * 24,
                    "proxy_ip": [],
                    "hostname": [],
                }
            ],
            "risk_values": {
                "availability": "Major",
                "confidentiality": "Major",
                "integrity": "Major",
            },
        }
    ]
    listings["ProcessingPolicy"] = [{"id": "p" * 24, "policy_name": "pp_windows"}]
    plan = _plan_with(samples / "core_config.xlsx", listings, ["syslog_collectors"])
    row = one(plan, "syslog_collectors", "core-ojs", "lb-backend01")
    assert row["action"] == "update" and row["method"] == "PUT"
    assert row["path"] == f"SyslogCollector/{uuid}" and row["remote_id"] == uuid
    assert [c["field"] for c in row["changes"]] == ["parser"]
    assert row["payload"]["device_id"] == "f" * 24 and row["payload"]["processpolicy"] == "p" * 24


# ---------------------------------------------------------------- bad rows (CSV workbooks)


def test_syslog_proxy_matrix(tmp_path, tenants_file):
    devices = [
        {
            "name": n,
            "ip": ip,
            "availability": "Major",
            "confidentiality": "Major",
            "integrity": "Major",
            "timezone": "UTC",
            "device_groups": "",
        }
        for n, ip in [
            ("proxy1", "10.0.0.1"),
            ("leaf1", "10.0.1.1"),
            ("leaf2", "10.0.1.2"),
            ("leaf3", "10.0.1.3"),
            ("leaf4", "10.0.1.4"),
            ("leaf5", "10.0.1.5"),
        ]
    ]
    base = {
        "app": "SyslogCollector",
        "parser": "SyslogParser",
        "charset": "utf_8",
        "proxy_ip": "",
        "hostname": "",
        "processpolicy": "",
    }
    fetchers = [
        {**base, "device_name": "proxy1", "proxy_condition": "use_as_proxy"},
        {
            **base,
            "device_name": "leaf1",
            "proxy_condition": "uses_proxy",
            "proxy_ip": "10.0.0.1",
            "hostname": "leaf1.example",
            "processpolicy": "PP1",
        },
        {
            **base,
            "device_name": "leaf2",
            "proxy_condition": "uses_proxy",
            "proxy_ip": "['10.0.0.1', '10.9.9.9', '10.5.5.5']",
            "hostname": "leaf2",
            "processpolicy": "PP1",
        },
        {**base, "device_name": "leaf3", "proxy_condition": "", "processpolicy": "PP1"},
        {
            **base,
            "device_name": "leaf4",
            "proxy_condition": "None",
            "processpolicy": "",
            "proxy_ip": "10.0.0.1",
        },
        {**base, "device_name": "leaf5", "proxy_condition": "sometimes", "processpolicy": "PP1"},
    ]
    wb = csv_workbook(
        tmp_path / "wb",
        {
            "Device": devices,
            "DeviceFetcher": fetchers,
            "ProcessingPolicy": [{"policy_id": "PP1", "cleaned_policy_name": "pp_x"}],
        },
    )
    listings = catalog_listings()
    listings["ProcessingPolicy"] = [{"id": "p" * 24, "policy_name": "pp_x"}]
    listings["Devices"] = [  # a proxy that Director already has (not in the workbook)
        {
            "id": "o" * 24,
            "name": "oldproxy",
            "ip": ["10.5.5.5"],
            "col_apps": [
                {"app": "SyslogCollector", "uuid": "u" * 32, "proxy_condition": "use_as_proxy"}
            ],
        },
    ]
    plan = _plan_with(wb, listings, ["devices", "syslog_collectors"])
    by_key = rows_of(plan, "syslog_collectors").drop_duplicates("key").set_index("key")
    assert by_key.loc["proxy1", "action"] == "create"
    assert by_key.loc["leaf1", "action"] == "create"  # its proxy gets a use_as_proxy collector
    assert by_key.loc["leaf1", "payload"]["proxy_ip"] == ["10.0.0.1"]
    assert by_key.loc["leaf2", "action"] == "skip"  # 10.0.0.1 planned, 10.5.5.5 on Director
    assert (
        "proxy_ip 10.9.9.9 is not the IP of a device with a use_as_proxy"
        in by_key.loc["leaf2", "reason"]
    )
    assert by_key.loc["leaf3", "reason"].startswith("proxy_condition is empty")
    assert "processpolicy is required when proxy_condition is None" in by_key.loc["leaf4", "reason"]
    assert "proxy_ip must be empty when proxy_condition is None" in by_key.loc["leaf4", "reason"]
    assert "proxy_condition 'sometimes' is not one of" in by_key.loc["leaf5", "reason"]


def test_device_bad_risk_and_unknown_group(tmp_path, tenants_file):
    wb = csv_workbook(
        tmp_path / "wb",
        {
            "Device": [
                {
                    "name": "d1",
                    "ip": "10.0.0.1 | 10.0.0.2",
                    "availability": "Huge",
                    "confidentiality": "Major",
                    "integrity": "Major",
                    "timezone": "",
                    "device_groups": "",
                },
                {
                    "name": "d2",
                    "ip": "10.0.0.3",
                    "availability": "minor",
                    "confidentiality": "Major",
                    "integrity": "Major",
                    "timezone": "Mars/Olympus",
                    "device_groups": "",
                },
                {
                    "name": "d3",
                    "ip": "10.0.0.4",
                    "availability": "Minor",
                    "confidentiality": "Major",
                    "integrity": "Major",
                    "timezone": "",
                    "device_groups": "ghosts",
                },
            ],
        },
    )
    plan = _plan_with(wb, catalog_listings(), ["devices"])
    assert (
        "'Huge' is not one of Minimal|Minor|Major|Critical" in one(plan, "devices", "d1")["reason"]
    )
    assert "unknown timezone 'Mars/Olympus'" in one(plan, "devices", "d2")["reason"]
    d3 = one(plan, "devices", "d3")
    assert d3["action"] == "create" and d3["payload"]["devicegroup"] == []
    assert d3["payload"]["timezone"] == "UTC"
    warn = plan.findings[plan.findings["severity"] == "warn"]
    assert warn["message"].str.contains("unknown device group 'ghosts'").any()


def test_list_names_and_kinds(tmp_path, tenants_file):
    wb = csv_workbook(
        tmp_path / "wb",
        {
            "UserDefinedList": [
                {
                    "name": "ok_list",
                    "list_type": "static_list",
                    "lists": "b, a | a",
                    "age_limit": 0,
                },
                {"name": "_bad", "list_type": "static_list", "lists": '["x"]', "age_limit": 0},
                {
                    "name": "dyn",
                    "list_type": "dynamic_list",
                    "lists": '["runtime"]',
                    "age_limit": 90061,
                },
                {"name": "weird", "list_type": "sometimes", "lists": '["x"]', "age_limit": 0},
            ]
        },
    )
    search_heads = {n.id for n in load_tenants(tenants_file)["core"].by_role("search_heads")}
    listings = {
        (sh, "Lists"): [
            {
                "id": "l" * 24,
                "name": "DYN",
                "list_type": "dynamic_list",
                "lists": ["filled", "by"],
                "age_limit": 90060,
            },
        ]
        for sh in search_heads
    }
    plan = _plan_with(wb, {**catalog_listings(), **listings}, ["user_defined_lists"])
    assert one(plan, "user_defined_lists", "OK_LIST")["payload"] == {
        "s_name": "OK_LIST",
        "lists": ["a", "b"],
    }
    assert "must be 2-100 letters" in one(plan, "user_defined_lists", "_BAD")["reason"]
    assert one(plan, "user_defined_lists", "DYN")["action"] == "unchanged"  # 1 d 1 h 1 min (+1 s)
    assert (
        "not one of static_list|dynamic_list" in one(plan, "user_defined_lists", "WEIRD")["reason"]
    )


def test_alert_repos_expand_per_storage_node(tmp_path):
    tenant = parse_tenants(
        {
            "tenants": {
                "t": {
                    "pool_uuid": "p" * 32,
                    "siems": {
                        "search_heads": [{"name": "sh", "id": "1" * 32}],
                        "backends": [
                            {
                                "name": "b1",
                                "id": "2" * 32,
                                "ip": "192.0.2.1",
                                "ip_private": "10.0.0.1",
                            },
                            {"name": "b2", "id": "3" * 32, "ip": "192.0.2.2"},
                        ],
                        "all_in_one": [{"name": "a1", "id": "4" * 32, "ip_private": "10.0.0.4"}],
                    },
                }
            }
        }
    )["t"]
    rule = {
        "settings.risk": "High",
        "settings.aggregate": "max",
        "settings.condition.condition_option": "GreaterThan",
        "settings.condition.condition_value": "0",
        "settings.livesearch_data.limit": 100.0,
        "settings.livesearch_data.timerange_minute": 5.0,
        "settings.user": "",
    }
    wb = csv_workbook(
        tmp_path / "wb",
        {
            "Repo": [{"original_repo_name": "Repo-t-secu", "cleaned_repo_name": "Repo_secu"}],
            "Alert": [
                {
                    **rule,
                    "name": "r1",
                    "settings.repos": json.dumps(
                        [
                            "10.9.9.9:5504/Repo-t-secu",
                            "10.9.9.9:5504/_logpoint",
                            "10.9.9.9:5504/Repo-x",
                            "127.0.0.1:5504",
                        ]
                    ),
                },
                {**rule, "name": "r2", "settings.repos": json.dumps(["10.9.9.9:5504/Repo-x"])},
                {**rule, "name": "r3", "settings.repos": "\"['1.2.3.4:5504/Repo_secu']\""},
            ],
        },
    )
    plan = plan_for(wb, tenant, resources=["alert_rules"], options=None)
    r1 = one(plan, "alert_rules", "r1")
    assert r1["payload"]["repos"] == [  # b2 has no ip_private: left out (no fallback)
        "10.0.0.1:5504/Repo_secu",
        "10.0.0.4:5504/Repo_secu",
        "127.0.0.1:5504/_logpoint",
    ]
    assert [n["message"] for n in plan.notes if n["level"] == "warning"] == [
        "node b2 has no ip_private: alert rules do not search its repos. Add ip_private to the "
        "tenants file, or set inputs.public_ip_fallback to use its ip 192.0.2.2"
    ]
    assert (r1["payload"]["risk"], r1["payload"]["condition_option"]) == ("high", "greaterthan")
    assert r1["payload"]["owner"] == _id(300)  # empty settings.user → admin
    warn = plan.findings[plan.findings["severity"] == "warn"]["message"].tolist()
    assert any("Repo-x, 127.0.0.1:5504" in m and "left out" in m for m in warn)
    assert "not a repo of this tenant" in one(plan, "alert_rules", "r2")["reason"]
    assert one(plan, "alert_rules", "r3")["payload"]["repos"][0] == "10.0.0.1:5504/Repo_secu"
    # repos are not planned in this run and Repo_secu is not on Director: blocked before sending
    assert (one(plan, "alert_rules", "r1")["action"], one(plan, "alert_rules", "r1")["reason"]) == (
        "skip",
        "repo 'Repo_secu' is not on b1 and is not planned in this run (the resources planned do "
        "not include repos): plan the Repo sheet with the alert rules, or create the repo first",
    )


def test_alert_repos_need_ip_private_unless_the_fallback_is_set():
    """Issue 18 item 12: the samples' storage nodes have an ``ip`` only."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip("../shared/samples is not beside the project")
    xlsx, both = SAMPLES_DIR / "core_config.xlsx", ["repos", "alert_rules"]
    plan = plan_for(xlsx, "core", resources=both, options=None)
    rules = rows_of(plan, "alert_rules")
    rule = one(plan, "alert_rules", "QuickSign - Annulations importantes")
    assert rule["action"] == "skip"
    assert "the tenant has no backend or all-in-one node with an ip_private" in rule["reason"]
    searched = rules["payload"].map(lambda p: (p or {}).get("repos") or [])
    assert not any("/Repo_" in r for repos in searched for r in repos)  # no node to search
    assert [n["message"] for n in plan.notes if n["level"] == "warning"] == [
        f"node {name} has no ip_private: alert rules do not search its repos. Add ip_private to "
        "the tenants file, or set inputs.public_ip_fallback to use its ip 127.0.0.1"
        for name in ("lb-backend01", "lb-backend02")
    ]
    fallback = plan_for(xlsx, "core", resources=both)
    rule = one(fallback, "alert_rules", "QuickSign - Annulations importantes")
    assert rule["action"] == "create"
    assert rule["payload"]["repos"] == ["127.0.0.1:5504/Repo_cloud", "127.0.0.1:5504/Repo_secu"]
    assert [n["message"] for n in fallback.notes if n["level"] == "warning"] == [
        f"node {name} has no ip_private: alert rules address its repos by its public ip "
        "127.0.0.1 (inputs.public_ip_fallback); check that the search head reaches it there"
        for name in ("lb-backend01", "lb-backend02")
    ]


# ---------------------------------------------------------------- a simulated write converges


def _read_shape(plan, listings_by_node):
    """Turn every create of the plan into what Director lists afterwards (per node)."""
    ids: dict[str, str] = {}
    creates = plan.rows[plan.rows["action"] == "create"]
    for n, row in enumerate(creates.itertuples()):
        ids[f"$ref:{row.resource}:{row.key}"] = ids.get(f"$ref:{row.resource}:{row.key}") or _id(
            5000 + n
        )

    def real(value):
        if isinstance(value, list):
            return [real(v) for v in value]
        return ids.get(value, value) if isinstance(value, str) else value

    for row in creates.itertuples():
        body = {k: real(v) for k, v in row.payload.items()}
        oid = ids[f"$ref:{row.resource}:{row.key}"]
        node = listings_by_node.setdefault(row.node_id, {})
        if row.resource == "processing_policies":
            node.setdefault("ProcessingPolicy", []).append({"id": oid, **body})
        elif row.resource == "device_groups":
            node.setdefault("DeviceGroups", []).append({"id": oid, **body, "devices": []})
        elif row.resource == "devices":
            risks = {k: body.pop(k) for k in ("availability", "confidentiality", "integrity")}
            node.setdefault("Devices", []).append(
                {
                    "id": oid,
                    "name": body["name"],
                    "ip": body["ip"],
                    "timezone": body["timezone"],
                    "device_groups": body["devicegroup"],
                    "risk_values": risks,
                    "col_apps": [],
                }
            )
        elif row.resource == "syslog_collectors":
            device = next(d for d in node["Devices"] if d["id"] == body["device_id"])
            device["col_apps"].append(
                {
                    "app": "SyslogCollector",
                    "uuid": oid.ljust(32, "0"),
                    "proxy_ip": [],
                    "hostname": [],
                    **body,
                }
            )
        elif row.resource == "alert_rules":
            node.setdefault("AlertRules/MyAlertRules/fetch", []).append(
                {
                    "id": oid,
                    "name": body["searchname"],
                    "query": "",
                    "description": "",
                    "assigned_to": "",
                    "attack_tag": [],
                    **body,
                }
            )
        elif row.resource == "user_defined_lists":
            static = "s_name" in body
            node.setdefault("Lists", []).append(
                {
                    "id": oid,
                    "name": body.get("s_name") or body.get("d_name"),
                    "list_type": "static_list" if static else "dynamic_list",
                    "lists": body.get("lists", []),
                    "age_limit": 0
                    if static
                    else body["agelimit_day"] * 86400
                    + body["agelimit_hour"] * 3600
                    + body["agelimit_minute"] * 60,
                }
            )


@pytest.mark.parametrize(("workbook", "tenant"), SAMPLES)
def test_second_plan_after_a_simulated_write_is_unchanged(samples, tenants_file, workbook, tenant):
    resources = ["processing_policies", *MINE]
    t = load_tenants(tenants_file)[tenant]
    profiles = load_profiles()
    selected = {r: profiles[r] for r in resources}
    first = build_plan(
        t,
        Workbook(samples / workbook),
        selected,
        Inventory(Lister(catalog_listings()), t, profiles),
    )
    by_node: dict[str, dict] = {}
    _read_shape(first, by_node)
    listings = catalog_listings()
    for node, paths in by_node.items():
        listings.update({(node, path): items for path, items in paths.items()})
    second = build_plan(
        t, Workbook(samples / workbook), selected, Inventory(Lister(listings), t, profiles)
    )
    mine = second.rows[second.rows["resource"].isin(MINE)]
    changed = mine[mine["action"].isin(["create", "update"])]
    assert changed.empty, changed[["resource", "key", "reason", "changes"]].head().to_string()
    assert (mine["action"] == "unchanged").sum() == (
        first.rows["resource"].isin(MINE) & (first.rows["action"] == "create")
    ).sum()


def test_lint_strict_is_clean():
    done = subprocess.run(
        [sys.executable, "-m", "directorsync", "lint", "--strict"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 finding(s), 0 error(s)" in done.stdout + done.stderr


# ---------------------------------------------------------------- against the simulator


class Site:
    """A simulator seeded with the samples' tenants, a client, and plan/apply helpers."""

    def __init__(self, sim, tenant: str) -> None:
        from directorsync.director.client import DirectorClient

        self.sim = sim
        self.client = DirectorClient(sim.base_url, TOKEN)
        self.tenant = load_tenants(SAMPLES_DIR / "tenants.yml")[tenant]
        self.profiles = load_profiles()

    def plan(self, workbook: str, resources=None):
        selected = self.profiles if resources is None else {r: self.profiles[r] for r in resources}
        self.inventory = Inventory(self.client, self.tenant, self.profiles)
        return build_plan(
            self.tenant,
            Workbook(SAMPLES_DIR / workbook),
            selected,
            self.inventory,
            options=SAMPLE_OPTIONS,
        )

    def apply(self, plan):
        from directorsync.apply import ApplyOptions, apply_plan

        options = ApplyOptions(concurrency=8)
        return apply_plan(
            plan, self.client, self.tenant, self.inventory, self.profiles, options=options
        )

    def node(self, name: str) -> str:
        return next(n.id for n in self.tenant.nodes if n.name == name)


def _statuses(result, resources=MINE):
    rows = [r for r in result["rows"] if r["resource"] in resources]
    return {s: sum(r["status"] == s for r in rows) for s in {r["status"] for r in rows}}


@pytest.fixture(scope="module")
def core_site():
    with new_simulator(job_ms=0) as sim:
        site = Site(sim, "core")
        site.first = site.apply(site.plan("core_config.xlsx"))
        yield site
        site.client.close()


def test_core_applies_cleanly_and_converges(core_site):
    first = _statuses(core_site.first)
    assert not first.get("ERROR") and not first.get("EXCEPTION"), [
        (r["resource"], r["key"], r["error"])
        for r in core_site.first["rows"]
        if r["status"] in ("ERROR", "EXCEPTION")
    ][:5]
    assert first["CREATED"] == 24 + 24 + 22 + 33 + 299
    again = core_site.plan("core_config.xlsx")
    mine = again.rows[again.rows["resource"].isin(MINE)]
    assert set(mine["action"]) == {"unchanged", "skip"}


def test_device_group_update_is_accepted_by_a_strict_director(core_site):
    node = core_site.node("lb-backend01")
    pool = core_site.tenant.pool_uuid
    group = next(
        g for g in core_site.client.list_objects(pool, node, "DeviceGroups") if g["name"] == "RSA"
    )
    core_site.client.write(
        "PUT",
        pool,
        node,
        f"DeviceGroups/{group['id']}",
        {"name": "RSA", "description": "edited by hand"},
    )
    plan = core_site.plan("core_config.xlsx", ["device_groups"])
    row = one(plan, "device_groups", "RSA", "lb-backend01")
    assert row["action"] == "update" and row["payload"]["name"] == "RSA"
    result = core_site.apply(plan)
    assert _statuses(result) == {"UPDATED": 1, "UNCHANGED": 23}
    after = next(
        g for g in core_site.client.list_objects(pool, node, "DeviceGroups") if g["name"] == "RSA"
    )
    assert after["description"] == "RSA authentication server"
    assert len(after["devices"]) == 2  # membership kept (driven by the devices)


def test_syslog_update_is_sent_to_the_collector(core_site):
    node = core_site.node("lb-backend02")
    pool = core_site.tenant.pool_uuid
    device = next(
        d for d in core_site.client.list_objects(pool, node, "Devices") if d["name"] == "core-ijs"
    )
    app = device["col_apps"][0]
    core_site.client.write(
        "PUT",
        pool,
        node,
        f"SyslogCollector/{app['uuid']}",
        {
            "device_id": device["id"],
            "proxy_condition": "None",
            "parser": "LineParser",
            "charset": "ascii",
            "processpolicy": app["processpolicy"],
        },
    )
    plan = core_site.plan("core_config.xlsx", ["syslog_collectors"])
    row = one(plan, "syslog_collectors", "core-ijs", "lb-backend02")
    assert (row["action"], row["method"], row["path"]) == (
        "update",
        "PUT",
        f"SyslogCollector/{app['uuid']}",
    )
    assert sorted(c["field"] for c in row["changes"]) == ["charset", "parser"]
    assert _statuses(core_site.apply(plan)).get("UPDATED") == 1
    again = core_site.plan("core_config.xlsx", ["syslog_collectors"])
    assert set(rows_of(again, "syslog_collectors")["action"]) == {"unchanged", "skip"}


def test_alert_rule_state_follows_settings_active(core_site):
    node = core_site.node("sh01")
    pool = core_site.tenant.pool_uuid
    rules = core_site.client.fetch(pool, node, "AlertRules/MyAlertRules/fetch", {})
    plan = core_site.plan("core_config.xlsx", ["alert_rules"])
    wanted = {r["key"]: r for r in rows_of(plan, "alert_rules", "unchanged").to_dict("records")}
    inactive = [r for r in rules if r["name"] in wanted and r["active"] is False]
    # a name the sheet holds once (copies of shared rules for other tenants are SKIP rows of
    # the same name; the rules come back in creation order, which concurrent writes vary)
    once = rows_of(plan, "alert_rules")["key"].value_counts() == 1
    active = [r for r in rules if r["name"] in wanted and r["active"] is True and once[r["name"]]]
    assert inactive and active  # the sheet's settings.active was applied after the creates
    core_site.client.write("POST", pool, node, f"AlertRules/{active[0]['id']}/deactivate", {})
    plan = core_site.plan("core_config.xlsx", ["alert_rules"])
    row = one(plan, "alert_rules", active[0]["name"])
    assert row["action"] == "update", row["reason"]
    assert [c["field"] for c in row["changes"]] == ["active"]
    assert _statuses(core_site.apply(plan)).get("UPDATED") == 1
    again = core_site.plan("core_config.xlsx", ["alert_rules"])
    assert set(rows_of(again, "alert_rules")["action"]) == {"unchanged", "skip"}


def test_esait_proxies_apply_and_converge(start_simulator):
    sim = start_simulator(job_ms=0)
    site = Site(sim, "esait")
    plan = site.plan("esait_config.xlsx")
    proxies = rows_of(plan, "syslog_collectors")
    assert sorted(p["proxy_condition"] for p in proxies["payload"]) == [
        "None",
        "None",
        "use_as_proxy",
        "use_as_proxy",
        "use_as_proxy",
    ]
    result = site.apply(plan)
    statuses = _statuses(result)
    assert not statuses.get("ERROR") and not statuses.get("EXCEPTION")
    again = site.plan("esait_config.xlsx")
    mine = again.rows[again.rows["resource"].isin(MINE)]
    assert set(mine["action"]) == {"unchanged", "skip"}
    site.client.close()

"""The built-in catalog covers the sample workbooks, and a valid workbook applies cleanly.

Reads ``../shared/samples`` (skipped only when that folder is absent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from directorsync.simulator.catalog import catalog

from .support import Api

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples"
WORKBOOKS = ("core_config.xlsx", "core_config_light.xlsx", "esait_config.xlsx", "sccoe_config.xlsx")

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is absent")


@pytest.fixture(scope="module")
def workbooks() -> dict[str, dict[str, pd.DataFrame]]:
    return {
        name: pd.read_excel(SAMPLES / name, sheet_name=None, engine="calamine")
        for name in WORKBOOKS
    }


def _tokens(column: pd.Series, sep: str = " | ") -> set[str]:
    return {t.strip() for v in column.dropna() for t in str(v).split(sep.strip()) if t.strip()}


def _json_tokens(column: pd.Series) -> set[str]:
    return {t for v in column.dropna() for t in json.loads(v)}


def _references(wb: dict[str, pd.DataFrame]) -> dict[str, set[str]]:
    """Every catalog value a workbook refers to, by kind."""
    np_sheet = wb["NormalizationPolicy"]
    return {
        "package": _tokens(np_sheet["normalization_packages"]),
        "compiled": _tokens(np_sheet["compiled_normalizer"]),
        "source": set(wb["EnrichmentPolicy"]["source"].dropna()),
        "charset": set(wb["DeviceFetcher"]["charset"].dropna()),
        "parser": set(wb["DeviceFetcher"]["parser"].dropna()),
        "timezone": set(wb["Device"]["timezone"].dropna()),
        "mitre": _json_tokens(wb["Alert"]["settings.attack_tag"]),
        "owner": set(wb["Alert"]["settings.user"].dropna()),
        "path": {p.rstrip("/") + "/" for p in _tokens(wb["Repo"]["storage_paths"], "|")},
    }


def _served(sh: Api) -> dict[str, set[str]]:
    """The same kinds, as the simulator serves them."""
    mitre = sh.fetch("MitreAttacks/fetch")
    return {
        "package": {p["name"] for p in sh.items("NormalizationPackage")},
        "compiled": {c["name"] for c in sh.items("NormalizationPackage/CompiledNormalizers")},
        "source": {s["source_name"] for s in sh.items("EnrichmentSource")},
        "charset": set(sh.items("Charsets")[0]["charsets"]),
        "parser": set(catalog()["syslog_parsers"]),
        "timezone": {t["name"] for t in sh.items("Timezone")},
        "mitre": {m["hash"] for m in mitre} | {m["attack_id"] for m in mitre},
        "owner": {u["username"] for u in sh.items("Users")},
        "path": set(sh.items("Repos/RepoPaths")[0]["paths"]),
    }


@pytest.mark.parametrize("name", WORKBOOKS)
def test_catalog_covers_every_sample_reference(workbooks, sh, name):
    served = _served(sh)
    for kind, values in _references(workbooks[name]).items():
        assert values <= served[kind], (name, kind, sorted(values - served[kind]))


def test_the_samples_reference_every_kind(workbooks):
    refs = [_references(wb) for wb in workbooks.values()]
    assert all(set().union(*(r[kind] for r in refs)) for kind in refs[0])
    assert len(set().union(*(r["mitre"] for r in refs))) == 18


def test_catalog_has_the_admin_user_and_default_repos(sh):
    assert "admin" in {u["username"] for u in sh.items("Users")}
    assert {"default", "_logpoint", "_LogPointAlerts"} <= {r["name"] for r in sh.items("Repos")}


# -- a valid workbook applies cleanly ----------------------------------------------------------


def _ids(api: Api, path: str, key: str = "name") -> dict[str, str]:
    return {item[key]: item["id"] for item in api.items(path)}


def _apply_repos_and_policies(be: Api, wb: dict[str, pd.DataFrame]) -> dict[str, str]:
    repos = dict(
        zip(wb["Repo"]["original_repo_name"], wb["Repo"]["cleaned_repo_name"], strict=True)
    )
    for row in wb["Repo"].itertuples():
        paths, days = str(row.storage_paths).split("|"), str(row.retention_days).split("|")
        hidden = [
            {"path": p.strip(), "retention": int(d)} for p, d in zip(paths, days, strict=True)
        ]
        be.ok("POST", "Repos", {"name": row.cleaned_repo_name, "hiddenrepopath": hidden})
    for name, rows in wb["RoutingPolicy"].groupby("cleaned_policy_name", sort=False):
        rules = rows.dropna(subset=["rule_type"])
        criteria = [
            {
                "type": r.rule_type,
                "key": r.key,
                "value": str(r.value),
                "repo": repos[r.repo],
                "drop": r.drop,
            }
            for r in rules.itertuples()
        ]
        body = {
            "policy_name": name,
            "catch_all": repos[rows.iloc[0]["catch_all"]],
            "routing_criteria": criteria,
        }
        be.ok("POST", "RoutingPolicies", body)
    packages = _ids(be, "NormalizationPackage")
    for row in wb["NormalizationPolicy"].fillna("").itertuples():
        ids = ",".join(
            packages[p.strip()] for p in row.normalization_packages.split("|") if p.strip()
        )
        compiled = ",".join(c.strip() for c in row.compiled_normalizer.split("|") if c.strip())
        be.ok(
            "POST",
            "NormalizationPolicy",
            {"name": row.policy_name, "norm_packages": ids, "compiled_normalizer": compiled},
        )
    return repos


def _apply_enrichment(be: Api, wb: dict[str, pd.DataFrame]) -> None:
    rules, criteria = wb["EnrichmentRules"], wb["EnrichmentCriteria"].fillna("")
    for policy, specs in wb["EnrichmentPolicy"].groupby("policy_name", sort=False):
        out: list[dict[str, Any]] = []
        for source, rows in specs.groupby("source", sort=False):
            keys = set(rows["spec_index"])
            mine = rules[(rules.policy_name == policy) & rules.spec_index.isin(keys)]
            crit = criteria[(criteria.policy_name == policy) & criteria.spec_index.isin(keys)]
            out.append({
                "source": source,
                "rules": mine[["category", "source_key", "prefix", "operation", "type", "event_key"]].to_dict("records"),
                "criteria": crit[["type", "key", "value"]].to_dict("records"),
            })  # fmt: skip
        be.ok("POST", "EnrichmentPolicy", {"name": policy, "specifications": out})


def _apply_processing(be: Api, wb: dict[str, pd.DataFrame]) -> None:
    ep_names = dict(
        zip(wb["EnrichmentPolicy"]["policy_id"], wb["EnrichmentPolicy"]["policy_name"], strict=True)
    )
    rp_names = dict(
        zip(
            wb["RoutingPolicy"]["policy_id"],
            wb["RoutingPolicy"]["cleaned_policy_name"],
            strict=True,
        )
    )
    eps, rps = _ids(be, "EnrichmentPolicy"), _ids(be, "RoutingPolicies", "policy_name")
    for row in wb["ProcessingPolicy"].itertuples():
        enrich = eps[ep_names[row.enrich_policy]] if isinstance(row.enrich_policy, str) else "None"
        body = {"policy_name": row.cleaned_policy_name, "norm_policy": row.norm_policy, "enrich_policy": enrich,
                "routing_policy": rps[rp_names[row.routing_policy_id]]}  # fmt: skip
        be.ok("POST", "ProcessingPolicy", body)


def _apply_devices(be: Api, wb: dict[str, pd.DataFrame]) -> None:
    for row in wb["DeviceGroups"].itertuples():
        be.ok("POST", "DeviceGroups", {"name": row.name, "description": row.description})
    groups = _ids(be, "DeviceGroups")
    for row in wb["Device"].itertuples():
        body = {"name": row.name, "ip": [i.strip() for i in str(row.ip).split("|")], "timezone": row.timezone,
                "availability": row.availability, "confidentiality": row.confidentiality, "integrity": row.integrity,
                "devicegroup": [groups[g.strip()] for g in row.device_groups.split("|")]}  # fmt: skip
        be.ok("POST", "Devices", body)


def _apply_alerts_and_lists(
    sh: Api, wb: dict[str, pd.DataFrame], lists: pd.DataFrame, address: str
) -> None:
    users = _ids(sh, "Users", "username")
    for row in wb["Alert"].to_dict("records"):
        tokens = json.loads(row["settings.repos"].replace("'", '"'))
        body = {
            "searchname": row["name"], "owner": users[row["settings.user"]], "risk": row["settings.risk"],
            "aggregate": row["settings.aggregate"], "condition_option": row["settings.condition.condition_option"],
            "condition_value": int(row["settings.condition.condition_value"]),
            "limit": int(row["settings.livesearch_data.limit"]),
            "repos": sorted({f"{address}:5504/{t.split('/', 1)[1]}" for t in tokens}),
            "attack_tag": json.loads(row["settings.attack_tag"]), "query": row["settings.extra_config.query"],
            "description": row["settings.description"], "flush_on_trigger": "on",
            **{f"timerange_{u}": int(row[f"settings.livesearch_data.timerange_{u}"]) for u in ("day", "hour", "minute")},
        }  # fmt: skip
        sh.ok("POST", "AlertRules", body)
    for row in lists.itertuples():
        if row.list_type == "static_list":
            sh.ok("POST", "Lists/static", {"s_name": row.name, "lists": json.loads(row.lists)})
        else:
            days, rest = divmod(int(row.age_limit), 86400)
            body = {
                "d_name": row.name,
                "agelimit_day": days,
                "agelimit_hour": rest // 3600,
                "agelimit_minute": rest % 3600 // 60,
            }
            sh.ok("POST", "Lists/dynamic", body)


def test_core_light_workbook_applies_cleanly(workbooks, be, sh):
    wb = workbooks["core_config_light.xlsx"]
    _apply_repos_and_policies(be, wb)
    _apply_enrichment(be, wb)
    _apply_processing(be, wb)
    _apply_devices(be, wb)
    _apply_alerts_and_lists(sh, wb, workbooks["core_config.xlsx"]["UserDefinedList"], "10.1.0.1")
    assert len(be.items("ProcessingPolicy")) == len(wb["ProcessingPolicy"])
    assert sum(len(g["devices"]) for g in be.items("DeviceGroups")) == sum(
        len(d["device_groups"]) for d in be.items("Devices")
    )
    assert len(sh.items("Lists")) == 300
    assert [r["name"] for r in sh.fetch("AlertRules/MyAlertRules/fetch")] == list(
        wb["Alert"]["name"]
    )

"""Contract §6 statements 12–18.

Natural keys, ids for edits and actions, Repos, routing, normalization, processing and
enrichment policies.
"""

from __future__ import annotations

import pytest

from .support import rule_body

HOT = [{"path": "/data_hot/", "retention": 90}]


def _np_ids(api, *names):
    packages = {p["name"]: p["id"] for p in api.items("NormalizationPackage")}
    return ",".join(packages[n] for n in names)


# -- 12: natural keys ------------------------------------------------------------------------


def _dup_cases(api, sh):
    owner = sh.one("Users", "username", "admin")["id"]
    group = sh.one("UserGroups", "name", "SOC Analysts")["id"]
    user = {
        "password": "secret",
        "email": "a@b.c",
        "firstname": "A",
        "lastname": "B",
        "usergroup": [group],
    }
    return [
        (api, "Repos", {"name": "k", "hiddenrepopath": HOT}, {"name": "k", "hiddenrepopath": HOT}),
        (api, "RoutingPolicies", {"policy_name": "k", "catch_all": "default"}, {"policy_name": "k", "catch_all": "_logpoint"}),
        (api, "NormalizationPolicy", {"name": "k"}, {"name": "k", "compiled_normalizer": "JSONCompiledNormalizer"}),
        (api, "ProcessingPolicy", *[{"policy_name": "k", "norm_policy": "None", "enrich_policy": "None", "routing_policy": "None"}] * 2),
        (api, "DeviceGroups", *[{"name": "k", "description": ""}] * 2),
        (api, "Devices", *[{"name": "k", "ip": ["10.0.0.1"], "availability": "Minor", "confidentiality": "Minor", "integrity": "Minor"}] * 2),
        (sh, "AlertRules", rule_body("k", owner), rule_body("k", owner, risk="high")),
        (sh, "Lists/static", {"s_name": "k_list", "lists": []}, {"s_name": "K_LIST", "lists": ["x"]}),
        (sh, "Lists/dynamic", {"s_name": "x", "d_name": "Mixed_Case", "agelimit_day": 1, "agelimit_hour": 0, "agelimit_minute": 0},
         {"s_name": "x", "d_name": "MIXED_case", "agelimit_day": 2, "agelimit_hour": 0, "agelimit_minute": 0}),
        (sh, "Users", {"username": "kk", **user}, {"username": "kk", **user}),
        (sh, "UserGroups", *[{"name": "k", "object_permission": {}}] * 2),
    ]  # fmt: skip


def test_s12_duplicate_natural_key_fails_the_order_and_creates_nothing(be, sh):
    for api, path, first, second in _dup_cases(be, sh):
        api.ok("POST", path, first)
        listing = "Lists" if path.startswith("Lists") else path
        before = (
            len(api.items(listing))
            if path != "AlertRules"
            else len(api.fetch("AlertRules/MyAlertRules/fetch"))
        )
        message = api.fails("POST", path, second)
        assert "already exists" in message, (path, message)
        after = (
            len(api.items(listing))
            if path != "AlertRules"
            else len(api.fetch("AlertRules/MyAlertRules/fetch"))
        )
        assert after == before, path


def test_s12_same_name_on_another_node_is_fine(be, be2):
    be.repo("same")
    be2.repo("same")


def test_s12_renaming_onto_an_existing_key_fails(be):
    be.ok("POST", "RoutingPolicies", {"policy_name": "a", "catch_all": "default"})
    rid = be.one("RoutingPolicies", "policy_name", "default")["id"]
    assert "already exists" in be.fails(
        "PUT", f"RoutingPolicies/{rid}", {"policy_name": "a", "catch_all": "default"}
    )


# -- 13: ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "Repos/{x}"),
        ("DELETE", "Repos/{x}"),
        ("PUT", "RoutingPolicies/{x}"),
        ("DELETE", "Devices/{x}"),
        ("PUT", "Lists/static/{x}"),
        ("PUT", "Lists/dynamic/{x}"),
        ("PUT", "SyslogCollector/{x}"),
        ("DELETE", "SyslogCollector/{x}"),
        *(
            ("POST", f"AlertRules/{{x}}/{a}")
            for a in ("activate", "deactivate", "share", "unshare", "transferOwnership")
        ),
        ("POST", "Users/{x}/deactivate"),
    ],
)
def test_s13_edit_trash_and_actions_need_an_existing_id(sh, method, path):
    data = {"rbac_config": []} if path.endswith("share") else {"userid": "u"}
    message = sh.bad(method, path.format(x="0" * 24), data, status=404)
    assert "0" * 24 in message


def test_s13_object_gone_before_the_order_runs_fails_the_order(be, sim):
    rid = be.repo("gone")
    sim.configure(job_ms=1_000)
    r1 = be.send("DELETE", f"Repos/{rid}")
    r2 = be.send("PUT", f"Repos/{rid}", {"hiddenrepopath": HOT})
    sim.advance(1_000)
    assert be.poll(r1)["response"]["success"] is True
    assert "no longer exists" in be.poll(r2)["response"]["message"]


# -- 14: Repos -------------------------------------------------------------------------------


def test_s14_repos_read_repopath_not_hiddenrepopath(be):
    be.ok(
        "POST",
        "Repos",
        {
            "name": "r",
            "hiddenrepopath": [
                {"path": "/data_hot", "retention": 90},
                {"path": "/cold_nfs/", "retention": 275},
            ],
        },
    )
    repo = be.one("Repos", "name", "r")
    assert "hiddenrepopath" not in repo
    assert repo["repopath"] == [
        {"path": "/data_hot/", "retention": 90},
        {"path": "/cold_nfs/", "retention": 275},
    ]
    assert {"id", "name", "repo_number", "repoha", "active", "tid", "used_size"} <= set(repo)
    assert be.get(f"Repos/{repo['id']}").json() == repo


def test_s14_retention_must_be_an_int(be):
    message = be.bad(
        "POST",
        "Repos",
        {"name": "r", "hiddenrepopath": [{"path": "/data_hot/", "retention": "90"}]},
    )
    assert message.startswith("hiddenrepopath[0].retention:")


def test_s14_paths_outside_repo_paths_fail_the_order(be):
    paths = be.items("Repos/RepoPaths")[0]["paths"]
    assert "/opt/immune/storage/" in paths
    message = be.fails(
        "POST", "Repos", {"name": "r", "hiddenrepopath": [{"path": "/nowhere/", "retention": 1}]}
    )
    assert "hiddenrepopath[0].path" in message and "'/nowhere/'" in message
    assert "r" not in {x["name"] for x in be.items("Repos")}


def test_s14_default_repos_are_seeded_and_protected(be):
    repos = {r["name"]: r for r in be.items("Repos")}
    for name in ("default", "_logpoint", "_LogPointAlerts"):
        assert repos[name]["repopath"] == [{"path": "/opt/immune/storage/", "retention": 365}]
    assert "built-in" in be.fails("DELETE", f"Repos/{repos['default']['id']}")


def test_s14_edit_keeps_name_and_records_old_paths(be):
    rid = be.repo("edit_me")
    be.ok("PUT", f"Repos/{rid}", {"id": rid, "name": "ignored", "hiddenrepopath": HOT})
    repo = be.one("Repos", "name", "edit_me")
    assert repo["repopath"] == HOT
    assert repo["old_repo_paths"] == [{"path": "/opt/immune/storage/", "retention": 30}]


# -- 15: RoutingPolicies ---------------------------------------------------------------------


def test_s15_routing_policy_round_trip_in_written_order(be):
    be.repo("Repo_a")
    criteria = [
        {
            "type": "KeyPresentValueMatches",
            "key": "k2",
            "value": "v",
            "repo": "Repo_a",
            "drop": "store",
        },
        {"type": "KeyPresent", "key": "k1", "drop": "store"},
    ]
    be.ok(
        "POST",
        "RoutingPolicies",
        {"policy_name": "rp", "active": True, "catch_all": "Repo_a", "routing_criteria": criteria},
    )
    rp = be.one("RoutingPolicies", "policy_name", "rp")
    assert rp["catch_all"] == "Repo_a"
    assert rp["routing_criteria"] == [criteria[0], {**criteria[1], "value": "", "repo": ""}]
    assert rp["user"] == "admin" and rp["active"] is True


def test_s15_unknown_repo_names_fail_the_order(be):
    assert "catch_all: unknown repo 'nope'" in be.fails(
        "POST", "RoutingPolicies", {"policy_name": "rp", "catch_all": "nope"}
    )
    crit = [{"type": "KeyPresent", "key": "k", "repo": "nope2", "drop": "store"}]
    message = be.fails(
        "POST",
        "RoutingPolicies",
        {"policy_name": "rp", "catch_all": "default", "routing_criteria": crit},
    )
    assert "routing_criteria[0].repo" in message and "'nope2'" in message


def test_s15_built_in_routing_policies_exist(be):
    assert {"default", "_logpoint", "_LogPointAlerts"} <= {
        rp["policy_name"] for rp in be.items("RoutingPolicies")
    }


def test_s15_repo_in_use_cannot_be_deleted(be):
    rid = be.repo("used")
    be.ok("POST", "RoutingPolicies", {"policy_name": "rp", "catch_all": "used"})
    assert "used by routing policy 'rp'" in be.fails("DELETE", f"Repos/{rid}")


# -- 16: NormalizationPolicy -----------------------------------------------------------------


def test_s16_normalization_policy_csv_in_ids_out(be):
    ids = _np_ids(be, "LP_Common Unix System", "EDR")
    be.ok(
        "POST",
        "NormalizationPolicy",
        {
            "name": "np",
            "norm_packages": ids,
            "compiled_normalizer": "UnixCompiledNormalizer, JSONCompiledNormalizer",
        },
    )
    np = be.one("NormalizationPolicy", "name", "np")
    assert np["normalization_packages"] == ids.split(",")
    assert "compiled_normalizer" not in np  # documented read shape
    assert {"active", "tid", "selected_signatures", "ordered_signatures"} <= set(np)


def test_s16_switch_echoes_compiled_normalizer(be, sim):
    be.ok(
        "POST",
        "NormalizationPolicy",
        {"name": "np", "compiled_normalizer": "UnixCompiledNormalizer,JSONCompiledNormalizer"},
    )
    sim.configure(np_read_compiled_normalizer=True)
    assert (
        be.one("NormalizationPolicy", "name", "np")["compiled_normalizer"]
        == "UnixCompiledNormalizer,JSONCompiledNormalizer"
    )


@pytest.mark.parametrize("field", ["norm_packages", "compiled_normalizer"])
def test_s16_json_arrays_are_refused(be, field):
    message = be.bad("POST", "NormalizationPolicy", {"name": "np", field: ["a", "b"]})
    assert message.startswith(f"{field}: expected a comma-separated string")


def test_s16_unknown_packages_and_normalizers_fail_the_order(be):
    assert "norm_packages: unknown normalization package id 'abc'" in be.fails(
        "POST", "NormalizationPolicy", {"name": "np", "norm_packages": "abc"}
    )
    assert "'NoSuchNormalizer'" in be.fails(
        "POST", "NormalizationPolicy", {"name": "np", "compiled_normalizer": "NoSuchNormalizer"}
    )


def test_s16_edit_without_name_keeps_absent_fields(be):
    ids = _np_ids(be, "EDR")
    be.ok("POST", "NormalizationPolicy", {"name": "np", "norm_packages": ids})
    npid = be.one("NormalizationPolicy", "name", "np")["id"]
    be.ok("PUT", f"NormalizationPolicy/{npid}", {"compiled_normalizer": "CEFCompiledNormalizer"})
    assert be.one("NormalizationPolicy", "name", "np")["normalization_packages"] == [ids]


def test_s16_package_and_compiled_lists_are_served(be):
    packages = be.items("NormalizationPackage")
    assert all(p["type"] == "vendor" for p in packages)
    assert be.get(f"NormalizationPackage/{packages[0]['id']}").json()["name"] == packages[0]["name"]
    assert {"name", "version"} == set(be.items("NormalizationPackage/CompiledNormalizers")[0])


# -- 17: ProcessingPolicy --------------------------------------------------------------------


def _pp_refs(be):
    be.ok("POST", "NormalizationPolicy", {"name": "np"})
    be.ok(
        "POST",
        "EnrichmentPolicy",
        {"name": "ep", "specifications": [{"source": "GeoIp", "rules": [], "criteria": []}]},
    )
    return be.one("EnrichmentPolicy", "name", "ep")["id"], be.one(
        "RoutingPolicies", "policy_name", "default"
    )["id"]


def test_s17_processing_policy_references(be):
    ep, rp = _pp_refs(be)
    be.ok(
        "POST",
        "ProcessingPolicy",
        {
            "policy_name": "pp",
            "active": True,
            "norm_policy": "np",
            "enrich_policy": ep,
            "routing_policy": rp,
        },
    )
    be.ok(
        "POST",
        "ProcessingPolicy",
        {
            "policy_name": "pp2",
            "norm_policy": "None",
            "enrich_policy": "None",
            "routing_policy": "None",
        },
    )
    pp = be.one("ProcessingPolicy", "policy_name", "pp")
    assert (pp["norm_policy"], pp["enrich_policy"], pp["routing_policy"]) == ("np", ep, rp)
    assert set(pp) == {
        "id",
        "policy_name",
        "active",
        "norm_policy",
        "enrich_policy",
        "routing_policy",
        "tid",
    }
    assert be.one("ProcessingPolicy", "policy_name", "pp2")["enrich_policy"] == "None"


@pytest.mark.parametrize(
    "field,value,text",
    [
        ("norm_policy", "np_missing", "normalization policy name"),
        ("norm_policy", "", "normalization policy name"),
        ("enrich_policy", "ep", "enrichment policy id"),
        ("routing_policy", "default", "routing policy id"),
    ],
)
def test_s17_unknown_references_fail_the_order(be, field, value, text):
    body = {
        "policy_name": "pp",
        "norm_policy": "None",
        "enrich_policy": "None",
        "routing_policy": "None",
        field: value,
    }
    message = be.fails("POST", "ProcessingPolicy", body)
    assert message.startswith(f"{field}: unknown {text}") and repr(value) in message


def test_s17_all_four_fields_are_required(be):
    assert be.bad(
        "POST",
        "ProcessingPolicy",
        {"policy_name": "pp", "norm_policy": "None", "enrich_policy": "None"},
    ).startswith("routing_policy:")


def test_s17_policies_in_use_cannot_be_deleted(be):
    ep, _ = _pp_refs(be)  # the built-in routing policy is refused as such: use one of ours
    be.ok("POST", "RoutingPolicies", {"policy_name": "rp", "catch_all": "default"})
    rp = be.one("RoutingPolicies", "policy_name", "rp")["id"]
    be.ok(
        "POST",
        "ProcessingPolicy",
        {"policy_name": "pp", "norm_policy": "np", "enrich_policy": ep, "routing_policy": rp},
    )
    assert "used by processing policy 'pp'" in be.fails("DELETE", f"EnrichmentPolicy/{ep}")
    assert "used by processing policy 'pp'" in be.fails("DELETE", f"RoutingPolicies/{rp}")


# -- 18: EnrichmentPolicy --------------------------------------------------------------------

SPEC = {
    "source": "threat_intelligence",
    "rules": [
        {
            "category": "simple",
            "source_key": "ip_address",
            "prefix": False,
            "operation": "Equals",
            "type": "ip",
            "event_key": "source_address",
        }
    ],
    "criteria": [{"type": "KeyPresents", "key": "source_address", "value": "found"}],
}


def test_s18_enrichment_policy_specs_returned_as_written(be):
    be.ok(
        "POST", "EnrichmentPolicy", {"name": "ti", "description": "nan", "specifications": [SPEC]}
    )
    ep = be.one("EnrichmentPolicy", "name", "ti")
    assert ep["specifications"] == [SPEC] and ep["description"] == "nan"
    assert set(ep) == {"id", "name", "description", "specifications"}


def test_s18_name_and_specifications_are_required(be):
    assert be.bad("POST", "EnrichmentPolicy", {"specifications": [SPEC]}).startswith("name:")
    assert be.bad("POST", "EnrichmentPolicy", {"name": "x", "specifications": []}).startswith(
        "specifications:"
    )
    bad_rule = {**SPEC, "rules": [{"category": "simple"}]}
    assert be.bad(
        "POST", "EnrichmentPolicy", {"name": "x", "specifications": [bad_rule]}
    ).startswith("specifications[0].rules[0].event_key")


def test_s18_sources_must_exist_on_the_node(be):
    sources = {s["source_name"] for s in be.items("EnrichmentSource")}
    assert "threat_intelligence" in sources
    message = be.fails(
        "POST",
        "EnrichmentPolicy",
        {"name": "x", "specifications": [SPEC, {**SPEC, "source": "nope"}]},
    )
    assert message.startswith("specifications[1].source: unknown enrichment source 'nope'")

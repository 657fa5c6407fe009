"""The profile language.

The spec's forms (§7, §14, §20.3), the typed profile, the earlier forms still read, declarative
filters and expressions, the update body's default, and the hook points.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import TOKEN, FakeDirector

from directorsync.config import load_settings
from directorsync.errors import ProfileError
from directorsync.hooks.registry import HOOKS
from directorsync.inventory import Inventory
from directorsync.mapping import map_sheet
from directorsync.planner import build_plan
from directorsync.profile.lint import lint_paths
from directorsync.profile.model import BUILTIN_DIR, Profile, load_profile, load_profiles
from directorsync.profile.schema import ProfileSpec
from directorsync.session import Session
from directorsync.simulator import Simulator
from directorsync.tenants import parse_tenants
from directorsync.transforms import Context
from directorsync.workbook import Workbook

SPEC = Path(__file__).resolve().parent / "data" / "spec_profiles"
NODE = "1" * 32
LISTINGS = {
    "Users": [{"id": "u1", "username": "admin"}],
    "Repos/RepoPaths": [{"paths": ["/opt/immune/storage/", "/data_hot/", "/cold_nfs/"]}],
    "Repos": [
        {"id": "r1", "name": "repo_cold", "path": ["/cold_nfs/"], "type": "warm", "owner": "u1"}
    ],
}


def spec_tenant():
    data = {
        "tenants": {
            "t": {
                "pool_uuid": "p" * 32,
                "siems": {"backends": [{"name": "be1", "id": NODE, "ip": "127.0.0.1"}]},
            }
        },
        "defaults": {"target": {"repositories": ["backends"]}},
    }
    return parse_tenants(data)["t"]


def plan_spec(profile: Profile):
    tenant = spec_tenant()
    profiles = {"repositories": profile}
    inventory = Inventory(FakeDirector(LISTINGS), tenant, profiles)
    return build_plan(tenant, Workbook(SPEC / "workbook"), profiles, inventory)


def by_key(plan) -> dict[str, dict]:
    return {r["key"]: r for r in plan.rows.to_dict("records")[::-1]}


# ---------------------------------------------------------------- the spec's profile


def test_a_profile_written_from_the_spec_loads_lints_and_plans():
    profile = load_profile(SPEC / "repositories.yml")
    assert isinstance(profile.spec, ProfileSpec)
    assert profile.spec.resolve["owner"].lookup.by == "username"
    assert profile.spec.prechecks[4].type == "must_exist_many"
    assert profile.spec.payload.create["label"] == "${label}"  # §8: payload is the create body
    findings = lint_paths([SPEC], strict=False)
    assert [f.code for f in findings] == ["DS-LINT-014"]  # the spec's example has no title

    plan = plan_spec(profile)
    rows = by_key(plan)
    hot = rows["repo_hot"]
    assert (hot["action"], hot["path"]) == ("create", "Repos")
    assert hot["payload"] == {
        "name": "repo_hot",
        "path": ["/data_hot/", "/opt/immune/storage/"],  # {fn: split, sep: ";"}, uniq, sort
        "type": "hot",
        "owner": "u1",
        "label": "repo_hot|hot",  # expr: "${name}|${type}"
    }
    cold = rows["repo_cold"]
    assert (cold["action"], cold["path"]) == ("update", "Repos/r1")
    assert cold["payload"]["id"] == "r1" and cold["payload"]["type"] == "cold"  # create + id
    assert rows["repo_lost"]["action"] == "error"  # must_exist_many with severity error
    assert "unknown repo path '/nowhere/'" in rows["repo_lost"]["reason"]
    assert rows["repo_orphan"]["action"] == "skip"
    assert "unknown user 'nobody'" in rows["repo_orphan"]["reason"]
    assert set(plan.findings["check"]) == {"resolve", "non_empty", "unique_in_sheet"}


# ---------------------------------------------------------------- earlier forms


EARLIER = """\
version: 1
resource: things
title: Things
endpoint: {list: Repos, create: Repos, update: "Repos/{id}"}
identity: {natural_key: [name]}
xlsx:
  sheet: Repositories
  mapping:
    name: {col: name, transforms: [norm_str]}
    path: {col: path, transforms: [{split: ";"}]}
    owner_name: {col: owner, transforms: [norm_str]}
prechecks:
  - {non_empty: name, severity: error}
  - {one_of: {field: name, values: [a, b]}}
resolve:
  owner: {from: users, lookup: owner_name, match: username}
  path_check: {from: repo_paths, lookup_many: path, match: path, return: null, label: path}
inventory:
  transforms: {name: [upper]}
payload:
  create: {name: "${name}", owner: "${owner}"}
"""

SPEC_FORM = """\
version: 1
resource: things
title: Things
endpoint: {list: Repos, create: Repos, update: "Repos/{id}"}
identity: {natural_key: [name]}
xlsx:
  sheet: Repositories
  mapping:
    name: {col: name, transform: [norm_str]}
    path: {col: path, transform: [{split: ";"}]}
    owner_name: {col: owner, transform: [norm_str]}
prechecks:
  - {type: non_empty, field: name, severity: error}
  - {type: one_of, field: name, values: [a, b]}
  - {type: must_exist_many, field: path, from: repo_paths, by: path, label: path}
resolve:
  owner: {from: users, lookup: {by: username, using: "${owner_name}"}}
inventory:
  transform: {name: [upper]}
payload:
  create: {name: "${name}", owner: "${owner}"}
"""


def test_earlier_forms_are_read_as_the_spec_forms_with_a_deprecation_note(tmp_path):
    old, new = tmp_path / "old" / "things.yml", tmp_path / "new" / "things.yml"
    for path, text in ((old, EARLIER), (new, SPEC_FORM)):
        path.parent.mkdir()
        path.write_text(text)
    assert load_profile(old).raw == load_profile(new).raw
    findings = lint_paths([old], strict=True)
    assert {f.code for f in findings} == {"DS-LINT-017"}
    assert all(f.severity == "warning" for f in findings)
    lines = sorted(f.line for f in findings)
    assert lines == [9, 10, 11, 13, 14, 16, 17, 17, 19]
    assert lint_paths([new], strict=True) == []


def test_shipped_profiles_use_only_the_spec_forms_and_no_code():
    for path in sorted(BUILTIN_DIR.glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert "transforms:" not in text and "return: null" not in text, path.name
        assert ".astype(" not in text and ".str." not in text, path.name
    for profile in load_profiles().values():
        assert profile.notes == [], profile.name  # nothing rewritten from an earlier form
        for spec in profile.mapping.values():
            if isinstance(spec, dict) and "expr" in spec:
                assert "${" in spec["expr"], profile.name


# ---------------------------------------------------------------- filters, expressions


def test_filter_expr_and_fallback_are_declarative(tmp_path):
    (tmp_path / "S.csv").write_text(
        "app,name,kind,description\n"
        " SyslogCollector ,a,x,\n"
        "SyslogCollector,b,y,described\n"
        "Other,c,x,\n"
        "SyslogCollector,d,z,-\n"
    )
    raw = {
        "xlsx": {
            "sheet": "S",
            "filter": [
                {"column": "app", "equals": "SyslogCollector"},
                {"column": "kind", "in": ["x", "y", "z"]},
                {"column": "name", "matches": "[a-c]"},
            ],
            "mapping": {
                "name": {"col": "name"},
                "tag": {"expr": "${name}|${kind}|${missing}"},
                "description": {
                    "col": "description",
                    "transform": ["norm_str"],
                    "fallback": "name",
                },
            },
        }
    }
    profile = Profile("s", None, raw)
    wb = Workbook(tmp_path)
    out = map_sheet(wb.sheet("S"), profile, Context(sheets={}), wb.name)
    assert out["name"].tolist() == ["a", "b"]  # Other and d (no match for [a-c]) left out
    assert out["tag"].tolist() == ["a|x|", "b|y|"]
    assert out["description"].tolist() == ["a", "described"]


def test_a_text_filter_is_refused_in_one_line(tmp_path):
    raw = {"xlsx": {"sheet": "S", "filter": "app == 'x'", "mapping": {"n": {"col": "n"}}}}
    with pytest.raises(ProfileError) as info:
        Profile("s", tmp_path / "s.yml", raw)
    assert "xlsx.filter" in info.value.message and "\n" not in info.value.message
    path = tmp_path / "s.yml"
    body = {"version": 1, "resource": "s", "title": "S", "endpoint": {"list": "X"}}
    body |= {"identity": {"natural_key": ["n"]}, "payload": {"create": {"n": "${n}"}}}
    path.write_text(yaml.safe_dump({**body, **raw}))
    [finding] = lint_paths([path])
    assert finding.code == "DS-LINT-016" and "not text" in finding.message
    assert path.read_text().splitlines()[finding.line - 1].strip().startswith("filter:")


# ---------------------------------------------------------------- payload.update


def test_update_body_defaults_to_the_create_body_plus_the_id():
    profiles = load_profiles()
    devices = profiles["devices"]
    assert "update" not in devices.payload
    assert devices.update_template == {"id": "${id}", **devices.payload["create"]}
    alert = profiles["alert_rules"].update_template
    assert "owner" not in alert and alert["id"] == "${id}"
    assert (
        profiles["syslog_collectors"].update_template
        == (profiles["syslog_collectors"].payload["create"])
    )
    explicit = Profile("x", None, {"payload": {"create": {"a": "${a}"}, "update": {"b": "${b}"}}})
    assert explicit.update_template == {"b": "${b}"}


# ---------------------------------------------------------------- hooks


@pytest.fixture
def test_hooks():
    added: list[str] = []

    def add(name, kind, fn, frame=False):
        HOOKS.add(name, kind, fn, frame=frame)
        added.append(name)

    yield add
    for name in added:
        HOOKS.remove(name)


def test_preprocess_row_and_post_payload_hooks_row_and_frame_forms(test_hooks):
    def shout(mapped: dict) -> dict:
        return {**mapped, "type": str(mapped["type"]).upper()}

    def stamp(frame: pd.DataFrame, profile, ctx) -> pd.DataFrame:
        out = frame.copy()
        out["payload"] = [
            {**p, "stamped": True} if isinstance(p, dict) else p for p in out["payload"]
        ]
        return out

    test_hooks("t_shout", "preprocess_row", shout)
    test_hooks("t_stamp", "post_payload", stamp, frame=True)
    raw = copy.deepcopy(load_profile(SPEC / "repositories.yml").raw)
    raw["hooks"] = {"preprocess_row": "t_shout", "post_payload": "t_stamp"}
    rows = by_key(plan_spec(Profile("repositories", SPEC / "repositories.yml", raw)))
    assert rows["repo_hot"]["payload"]["type"] == "HOT"  # before the payload: in every body
    assert rows["repo_hot"]["payload"]["label"] == "repo_hot|hot"  # mapped before the hook
    assert rows["repo_hot"]["payload"]["stamped"] is True
    assert rows["repo_lost"]["payload"] is None  # rows not sent keep no payload
    with pytest.raises(ValueError, match="take a frame"):
        HOOKS.add("t_bad", "pre_apply", shout, frame=True)


def test_pre_apply_and_post_apply_hooks_run_around_each_write(
    test_hooks, tenants_file, samples, tmp_path
):
    seen = []

    def shorten(ctx: dict, payload: dict) -> dict:
        seen.append((ctx["resource"], ctx["node"], ctx["row"]["key"]))
        return {**payload, "hiddenrepopath": [{**payload["hiddenrepopath"][0], "retention": 7}]}

    def annotate(ctx: dict, result: dict) -> dict:
        return {**result, "reason": f"{result.get('reason')} (post_apply)"}

    test_hooks("t_shorten", "pre_apply", shorten)
    test_hooks("t_annotate", "post_apply", annotate)
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "repos.yml").write_text(
        f"extends: {BUILTIN_DIR / 'repos.yml'}\nhooks: {{pre_apply: t_shorten, post_apply: t_annotate}}\n"
    )
    settings = load_settings(
        env={},
        overrides={
            "director.token": TOKEN,
            "app.reports_dir": str(tmp_path / "reports"),
            "profiles.search_paths": [str(folder)],
        },
    )
    with Simulator(seed=tenants_file, token=TOKEN) as sim:
        settings.director.base_url = sim.base_url
        with Session.open(settings=settings, tenants_file=tenants_file) as s:
            result = s.apply(s.plan("core", samples / "core_config.xlsx", ["repos"]))
        posted = [
            r["body"]["data"]
            for r in sim.requests()
            if r["method"] == "POST" and r["path"].endswith("/Repos")
        ]
    created = [r for r in result["rows"] if r["status"] == "CREATED"]
    assert len(created) == len(seen) == len(posted) == 12
    assert {k for _, _, k in seen} >= {"Repo_system"} and {n for _, n, _ in seen} == {
        "lb-backend01",
        "lb-backend02",
    }
    assert all(p["hiddenrepopath"][0]["retention"] == 7 for p in posted)
    assert all(r["reason"].endswith("(post_apply)") for r in created)


def test_fields_nothing_maps_are_lint_errors(tmp_path):
    path = tmp_path / "things.yml"
    path.write_text(
        SPEC_FORM.replace("field: name, values", "field: nmae, values").replace(
            'using: "${owner_name}"', 'using: "${owner_nam}"'
        )
    )
    found = [(f.code, f.line, f.message) for f in lint_paths([path])]
    assert [(c, line) for c, line, _ in found] == [("DS-LINT-018", 14), ("DS-LINT-018", 17)]
    assert "precheck 'one_of' names 'nmae'" in found[0][2]


def test_a_profile_file_changed_on_disk_is_read_again(tmp_path):
    """Parsed profiles are kept while their file is unchanged; an edit is seen at once."""
    import os

    from directorsync.profile.model import load_profile

    path = tmp_path / "devices.yml"
    path.write_text("version: 1\nresource: devices\ntitle: One\n", encoding="utf-8")
    first = load_profile(path)
    first.raw["title"] = "changed by its caller"  # the caller's copy, not the kept parse
    assert load_profile(path).raw["title"] == "One"
    path.write_text("version: 1\nresource: devices\ntitle: Two, longer\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_profile(path).raw["title"] == "Two, longer"

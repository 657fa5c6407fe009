"""Tenants file, profile loading (extends, deep merge, cycles), dependency order, lint."""

import pytest
from click.testing import CliRunner

from directorsync.cli import cli
from directorsync.errors import ConfigError, ProfileError
from directorsync.profile.lint import lint_paths
from directorsync.profile.model import deep_merge, dependency_order, load_profile, load_profiles
from directorsync.tenants import load_tenants, parse_tenants


def test_sample_tenants_and_targets(tenants_file):
    tenants = load_tenants(tenants_file)
    assert set(tenants) == {"core", "esait", "sccoe"}
    core = tenants["core"]
    assert [n.name for n in core.nodes_for("repos")] == ["lb-backend01", "lb-backend02"]
    assert [n.name for n in core.nodes_for("alert_rules")] == ["sh01"]
    assert [n.name for n in tenants["esait"].nodes_for("repos")] == ["esait-aio01"]


def test_tenant_without_pool_is_an_error():
    with pytest.raises(ConfigError, match="pool_uuid"):
        parse_tenants({"tenants": {"x": {"siems": {}}}})


def test_deep_merge_maps_merge_lists_override():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    assert deep_merge(base, {"a": {"y": [3]}, "c": 2}) == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}


def test_extends_and_cycles(tmp_path):
    (tmp_path / "base.yml").write_text("version: 1\ndiff: {ignore_fields: [a]}\nxlsx: {sheet: S}\n")
    (tmp_path / "child.yml").write_text(
        "extends: base.yml\nresource: child\nxlsx: {required_columns: [n]}\n"
    )
    p = load_profile(tmp_path / "child.yml")
    assert p.xlsx == {"sheet": "S", "required_columns": ["n"]}
    (tmp_path / "a.yml").write_text("version: 1\nextends: b.yml\n")
    (tmp_path / "b.yml").write_text("version: 1\nextends: a.yml\n")
    with pytest.raises(ProfileError, match="cycle"):
        load_profile(tmp_path / "a.yml")


def test_dependency_order_follows_depends_on():
    order = dependency_order(load_profiles())
    assert (
        order.index("repos") < order.index("routing_policies") < order.index("processing_policies")
    )
    assert order.index("normalization_policies") < order.index("processing_policies")


def test_unknown_resource_lists_known_ones():
    with pytest.raises(ProfileError, match="known: .*repos"):
        load_profiles(["reposs"])


def test_shipped_profiles_lint_clean_in_strict_mode():
    findings = lint_paths(strict=True)
    assert [f.text() for f in findings] == []


def test_lint_reports_codes_file_and_line(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "version: 1\nresource: bad\ntitle: Bad\nendpoint: {list: X}\nidentity: {natural_key: [name]}\n"
        "xlsx:\n  sheet: S\n  mapping:\n    name: {col: n, transforms: [nope]}\n"
        "payload:\n  create: {name: '${name}', other: '${missing}'}\nwhatever: 1\n"
    )
    findings = lint_paths([bad], strict=True)
    codes = {f.code: f for f in findings}
    assert {"DS-LINT-003", "DS-LINT-006", "DS-LINT-010"} <= set(codes)
    assert codes["DS-LINT-006"].line == 9
    result = CliRunner().invoke(cli, ["lint", str(bad), "--format", "json"], standalone_mode=False)
    assert result.return_value == 1
    assert '"DS-LINT-010"' in result.output


def _sample_tenants(tenants_file):
    import yaml

    return yaml.safe_load(tenants_file.read_text(encoding="utf-8"))


def test_misspelled_role_under_siems_names_key_tenant_and_known_ones(tenants_file):
    data = _sample_tenants(tenants_file)
    siems = data["tenants"]["core"]["siems"]
    siems["backend"] = siems.pop("backends")
    with pytest.raises(ConfigError) as info:
        parse_tenants(data, source="tenants.yml")
    assert str(info.value) == (
        "tenants.yml: unknown key 'backend' in tenant 'core' siems (did you mean 'backends'?); "
        "known keys: search_heads, backends, all_in_one"
    )
    assert info.value.exit_code == 2 and info.value.context["tenant"] == "core"


def test_unknown_tenant_key_is_an_error_but_defaults_and_name_are_accepted(tenants_file):
    data = _sample_tenants(tenants_file)
    data["tenants"]["esait"]["defaults"] = {"target": {"repos": ["backends"]}}
    data["tenants"]["esait"]["name"] = "ESA IT"
    assert set(parse_tenants(data)) == {"core", "esait", "sccoe"}
    data["tenants"]["sccoe"]["pool_uid"] = data["tenants"]["sccoe"].pop("pool_uuid")
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'pool_uid' in tenant 'sccoe' \(did you "
        r"mean 'pool_uuid'\?\); known keys: pool_uuid, siems, defaults, name",
    ):
        parse_tenants(data)


def test_siems_must_be_a_mapping():
    with pytest.raises(ConfigError, match="siems must map roles"):
        parse_tenants({"tenants": {"x": {"pool_uuid": "p", "siems": [{"id": "1", "name": "n"}]}}})


UNKNOWN_KEYS_PROFILE = """\
version: 1
resource: bad
title: Bad
endpoint: {list: X, craete: X}
identity: {natural_key: [name]}
xlsx:
  sheet: S
  required_colums: [n]
  mapping:
    name: {col: n, transfroms: [norm_str]}
    paths: {col: p, transforms: [{split: "|"}]}
    hiddenrepopath:
      zip:
        path: paths
        retention: {col: r, tranforms: [to_int]}
resolve:
  paths: {from: repo_paths, lookup_many: paths, mach: path, return: null}
diff:
  compare: [name]
  list_as_set: [name]
payload:
  create: {name: '${name}'}
"""


def test_unknown_keys_inside_sections_are_errors_with_line_and_close_match(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(UNKNOWN_KEYS_PROFILE)
    found = [(f.line, f.message) for f in lint_paths([bad]) if f.code == "DS-LINT-015"]
    assert [(line, msg.split(";")[0]) for line, msg in found] == [
        (4, "unknown key 'craete' in endpoint (did you mean 'create'?)"),
        (8, "unknown key 'required_colums' in xlsx (did you mean 'required_columns'?)"),
        (20, "unknown key 'list_as_set' in diff (did you mean 'list_as_sets'?)"),
        (17, "unknown key 'mach' in resolve 'paths' (did you mean 'match'?)"),
        (10, "unknown key 'transfroms' in mapping 'name' (did you mean 'transforms'?)"),
        (
            15,
            "unknown key 'tranforms' in mapping 'hiddenrepopath.retention' (did you mean "
            "'transforms'?)",
        ),
    ]
    assert all(f.severity == "error" for f in lint_paths([bad]) if f.code == "DS-LINT-015")
    assert "known: aliases, extra_sheets, filter" in found[1][1]
    result = CliRunner().invoke(cli, ["lint", str(bad), "--strict"], standalone_mode=False)
    assert result.return_value == 1 and "DS-LINT-015" in result.output


def test_unknown_keys_are_checked_in_underscore_files_too(tmp_path):
    base = tmp_path / "_base.yml"
    base.write_text("version: 1\npayload:\n  omit_emtpy: true\n")
    [finding] = lint_paths([base])
    assert (finding.code, finding.line) == ("DS-LINT-015", 3)
    assert "did you mean 'omit_empty'?" in finding.message

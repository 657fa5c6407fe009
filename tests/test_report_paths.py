"""Nothing escapes the reports folder: tenant names and run ids are checked. Issue 18, item 9."""

import pytest
from conftest import cli_env, run_cli
from test_cli_errors import check

from directorsync.config import load_settings
from directorsync.errors import ConfigError
from directorsync.session import result_dir
from directorsync.tenants import parse_tenants

NODE = {"search_heads": [{"name": "sh", "id": "a" * 32}]}


@pytest.mark.parametrize("name", ["../../escaped", "a/b", "..", "a\\b", "/abs", ".hidden", ""])
def test_tenant_names_that_would_leave_the_reports_folder_are_refused(name):
    with pytest.raises(ConfigError, match="tenant name"):
        parse_tenants({"tenants": {name: {"pool_uuid": "p" * 32, "siems": NODE}}})


def test_usual_tenant_names_are_accepted():
    names = ["core", "esait", "Tenant_2", "acme-eu.prod"]
    tenants = parse_tenants({"tenants": {n: {"pool_uuid": "p" * 32, "siems": NODE} for n in names}})
    assert list(tenants) == names


@pytest.mark.parametrize(("tenant", "run_id"), [("../../escaped", "r1"), ("core", "../../x")])
def test_result_dir_never_leaves_the_reports_folder(tmp_path, tenant, run_id):
    settings = load_settings(env={}, overrides={"app.reports_dir": str(tmp_path / "reports")})
    with pytest.raises(ConfigError):
        result_dir(settings, tenant, run_id)
    assert sorted(p.name for p in tmp_path.rglob("*")) in ([], ["reports"])


def test_cli_refuses_an_escaping_tenant_and_writes_nothing_outside(tmp_path, samples):
    tenants = tmp_path / "work" / "tenants.yml"
    tenants.parent.mkdir()
    tenants.write_text(
        "tenants:\n  ../../escaped:\n    pool_uuid: " + "a" * 32 + "\n"
        "    siems: {search_heads: [{name: sh, id: " + "b" * 32 + "}]}\n"
    )
    proc = run_cli(
        "plan",
        "--tenant",
        "../../escaped",
        "--tenants-file",
        str(tenants),
        "--xlsx",
        str(samples / "core_config.xlsx"),
        "--url",
        "http://127.0.0.1:1",
        env=cli_env(extra={"DSYNC_DIRECTOR__TOKEN": "x" * 20}),
        cwd=tenants.parent,
    )
    check(proc, 2, "tenant name '../../escaped'")
    assert not (tmp_path / "escaped").exists()

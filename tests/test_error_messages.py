"""Messages users read, each checked on its exact text. Issue 18, item 16."""

from __future__ import annotations

import openpyxl
import pytest
from click.testing import CliRunner
from conftest import TOKEN
from test_apply import session_for

from directorsync.cli import cli
from directorsync.config import load_settings
from directorsync.director.client import DirectorClient
from directorsync.errors import ConfigError, PlanError, TransportError
from directorsync.simulator import Simulator

ALERT_HEADER = [
    "name",
    "settings.risk",
    "settings.aggregate",
    "settings.condition.condition_option",
    "settings.condition.condition_value",
    "settings.livesearch_data.limit",
    "settings.repos",
    "settings.livesearch_data.query",
]


@pytest.fixture(scope="module")
def planned(tmp_path_factory, tenants_file_module):
    """One plan of a workbook that holds each message's case."""
    tmp = tmp_path_factory.mktemp("messages")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "ProcessingPolicy"
    sheet.append(["cleaned_policy_name", "norm_policy", "enrich_policy", "routing_policy_id"])
    sheet.append(["pp1", "None", "None", "65a7f00d"])
    lists = book.create_sheet("UserDefinedList")
    lists.append(["name", "list_type", "lists", "age_limit"])
    lists.append(["EMPTYLIST", "static_list", "", ""])
    alerts = book.create_sheet("Alert")
    alerts.append(ALERT_HEADER)
    alerts.append(["r1", "low", "max", "greaterthan", 0, 100, "['127.0.0.1:5504/']", "x"])
    book.save(tmp / "messages.xlsx")
    with Simulator(seed=tenants_file_module, token=TOKEN) as sim:
        with session_for(sim, tenants_file_module, tmp) as s:
            plan = s.plan(
                "core",
                tmp / "messages.xlsx",
                ["processing_policies", "user_defined_lists", "alert_rules"],
            )
    return plan.findings.to_dict("records")


@pytest.fixture(scope="module")
def tenants_file_module():
    from conftest import SAMPLES

    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not beside the project")
    return SAMPLES / "tenants.yml"


def finding(findings, resource):
    return next(f for f in findings if f["resource"] == resource)


def test_a_value_looked_up_in_an_absent_sheet(planned):
    assert finding(planned, "processing_policies")["message"] == (
        "'65a7f00d' cannot be resolved: the sheet RoutingPolicy that translates it "
        "(policy_id → cleaned_policy_name) is absent from the workbook; add that sheet, or write "
        "the name itself in this cell"
    )


def test_a_repo_token_without_a_repo_name(planned):
    found = finding(planned, "alert_rules")
    assert found["column"] == "settings.repos"
    assert found["message"] == (
        "'127.0.0.1:5504/' names no repo: write each repo as ip:port/<repo> "
        "(e.g. 10.0.0.5:5504/Repo_system)"
    )


def test_the_empty_static_list_finding_names_its_column(planned):
    found = finding(planned, "user_defined_lists")
    assert found["column"] == "lists"
    assert found["message"] == "lists is required when list_type is static_list"


def test_https_to_a_plain_http_port_says_the_server_does_not_speak_tls(tenants_file):
    with Simulator(seed=tenants_file, token=TOKEN) as sim:
        plain = sim.base_url
        url = plain.replace("http://", "https://")
        client = DirectorClient(url, TOKEN, retries=0)
        with pytest.raises(TransportError) as caught:
            client.get("p", "n", "Repos")
        client.close()
    assert caught.value.message == (
        f"GET configapi/p/n/Repos: {url} does not speak TLS (the server answered in plain "
        f"text): use {plain} in director.base_url, or enable HTTPS on the server"
    )


def test_tls_error_text_is_never_cut_mid_word():
    from directorsync.errors import shorten

    text = "certificate verify failed: unable to get local issuer certificate " * 10
    short = shorten(text, 100)
    assert len(short) <= 100 and short.endswith("…")
    assert text.startswith(short[:-1].rstrip()) and text[len(short[:-1].rstrip())] == " "


def test_a_semicolon_separated_csv_gets_a_hint(tmp_path, tenants_file):
    csv = tmp_path / "Repo.csv"
    csv.write_text("cleaned_repo_name;storage_paths;retention_days\nRepo_a;/data_hot;30\n")
    from directorsync.workbook import Workbook

    with pytest.raises(Exception) as caught:
        Workbook(csv).sheet("Repo")
    assert caught.value.message == (
        "Repo.csv: the header 'cleaned_repo_name;storage_paths;retention_days' is separated by "
        "';', not ',': save the file as CSV with commas (in Excel: CSV UTF-8), or as .xlsx"
    )


def test_an_unknown_key_from_the_environment_says_so(tmp_path):
    config = tmp_path / "directorsync.yml"
    config.write_text("app:\n  strict: true\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={"DSYNC_APP__COLOUR": "red"})
    assert caught.value.message == (
        "unknown setting 'app.colour' (from the environment: DSYNC_APP__COLOUR); remove it or "
        "fix its spelling"
    )
    config.write_text("app:\n  strict: true\n  colour: red\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert f"(from {config})" in caught.value.message


def test_apply_a_missing_plan_file_exits_3(tmp_path, monkeypatch):
    monkeypatch.setenv("DSYNC_DIRECTOR__BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("DSYNC_DIRECTOR__TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(cli, ["apply", "--plan", "missing.json"], standalone_mode=False)
    assert isinstance(res.exception, PlanError), res.output
    assert res.exception.exit_code == 3
    assert res.exception.message == "plan file missing.json does not exist"

"""Reports: summaries, console view, result.json, HTML report and fleet page."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from directorsync import redact
from directorsync.errors import DirectorSyncError
from directorsync.report import console as report
from directorsync.report import customer as htmlreport
from directorsync.report.console import (
    print_plan,
    print_result,
    result_json_schema,
    summarize,
    summarize_plan,
    write_result_json,
)
from directorsync.report.customer import render_html, write_html
from directorsync.report.fleet_page import render_fleet_index, write_fleet_index
from directorsync.vocabulary import STATUSES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reports.md"
SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
ACTION = {"CREATED": "create", "PLANNED_CREATE": "create", "UNCHANGED": "unchanged"}
ACTION |= {"SKIP": "skip", "ERROR": "update", "EXCEPTION": "update"}


# --- factory ------------------------------------------------------------------------------


def make_row(status: str = "CREATED", resource: str = "repos", key: str = "k", **extra) -> dict:
    """A result row; ``action`` follows the status unless given."""
    row = {
        "resource": resource,
        "node_id": "N1",
        "node_name": "lp-01",
        "key": key,
        "action": ACTION.get(status, "update"),
        "status": status,
        "reason": None,
        "error": None,
        "changes": [],
        "order_id": None,
        "duration_ms": None,
        "attempts": 1,
    }
    return row | extra


def make_result(rows: list[dict] | None = None, **extra) -> dict:
    result = {
        "schema": "directorsync/result@1",
        "run_id": "run-1",
        "tenant": "core",
        "pool_uuid": "pool-1",
        "workbook": "core_config.xlsx",
        "dry_run": False,
        "started_at": "2024-06-11T09:15:02+00:00",
        "finished_at": "2024-06-11T11:15:21+02:00",
        "phases": {"load": 1.5, "plan": 2.25, "apply": 75.0},
        "plan_hash": "sha256:abc",
        "findings": [],
        "rows": every_status_rows() if rows is None else rows,
    }
    return result | extra


def every_status_rows() -> list[dict]:
    nested_before = {"criteria": [{"key": "EventID", "value": 4624}], "enabled": True}
    nested_after = {"criteria": [{"key": "EventID", "value": 4625}], "enabled": False}
    return [
        make_row("CREATED", key="Repo_fw", order_id="o-1", duration_ms=412,
                 changes=[{"field": "retention", "before": None, "after": 365}]),
        make_row("UPDATED", key="Repo_win", order_id="o-2", duration_ms=1500,
                 changes=[{"field": "policy", "before": nested_before, "after": nested_after}]),
        make_row("UNCHANGED", key="Repo_linux"),
        make_row("SKIP", "routing_policies", "RP_Überwachung", reason="repo 'X' missing"),
        make_row("ERROR", "routing_policies", "RP_fw", error="Director says: name taken",
                 attempts=3, node_name="lp-02"),
        make_row("EXCEPTION", "devices", SCRIPT, error=f"boom {SCRIPT}", reason=SCRIPT,
                 changes=[{"field": SCRIPT, "before": SCRIPT, "after": [SCRIPT]}]),
    ]  # fmt: skip


def console() -> Console:
    return Console(file=io.StringIO(), width=200, record=True, color_system=None)


# --- summaries ----------------------------------------------------------------------------


def test_summarize_counts_by_status_resource_and_node():
    summary = summarize(every_status_rows())
    assert summary["by_status"] == dict.fromkeys(
        ["CREATED", "UPDATED", "UNCHANGED", "SKIP", "ERROR", "EXCEPTION"], 1
    )
    assert list(summary["by_resource"]) == ["repos", "routing_policies", "devices"]
    assert summary["by_resource"]["repos"] == {"CREATED": 1, "UPDATED": 1, "UNCHANGED": 1}
    assert summary["by_node"] == {
        "lp-01": {"CREATED": 1, "UPDATED": 1, "UNCHANGED": 1, "SKIP": 1, "EXCEPTION": 1},
        "lp-02": {"ERROR": 1},
    }


def test_summarize_counts_rows_without_status_and_planned_statuses():
    rows = [make_row("PLANNED_CREATE"), make_row("PLANNED_UPDATE"), make_row(None)]
    assert summarize(rows)["by_status"] == {"PLANNED_CREATE": 1, "PLANNED_UPDATE": 1, "UNKNOWN": 1}


def test_summarize_plan_counts_actions():
    summary = summarize_plan(every_status_rows())
    assert summary["by_action"] == {"create": 1, "update": 3, "unchanged": 1, "skip": 1}
    assert summary["by_resource"]["devices"] == {"update": 1}


def test_status_columns_follow_the_mode():
    assert report.status_columns({}) == [
        "CREATED",
        "UPDATED",
        "UNCHANGED",
        "SKIP",
        "ERROR",
        "EXCEPTION",
    ]
    dry = report.status_columns({"ODD": 2, "CREATED": 0}, dry_run=True)
    assert dry == [
        "PLANNED_CREATE",
        "PLANNED_UPDATE",
        "UNCHANGED",
        "SKIP",
        "ERROR",
        "EXCEPTION",
        "ODD",
    ]


def test_compact_values():
    assert report.compact(None) == "null"
    assert report.compact("a b") == "a b"
    assert report.compact({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert report.compact("x" * 100, 10) == "x" * 9 + "…"


# --- console ------------------------------------------------------------------------------


def test_print_result_counts_and_problem_rows():
    out = console()
    print_result(make_result(), out)
    text = out.export_text()
    assert "core · run run-1 · apply" in text
    assert "Director says: name taken" in text and "repo 'X' missing" in text
    assert SCRIPT in text and "Skipped rows (1), by reason" in text
    assert "      1 routing_policies: repo 'X' missing" in text  # skips: one line per reason
    assert "Repo_linux" not in text  # OK rows are only counted
    assert "2 rows failed." in text


def test_a_row_without_a_name_is_shown_by_where_it_comes_from():
    where = "devices.xlsx › Device › row 5228"
    nameless = make_row("ERROR", "devices", "", action="error", error="name is empty", source=where)
    named = make_row("ERROR", "devices", "fw01", action="error", error="bad ip", source="x › y")
    out = console()
    print_result(make_result([nameless, named]), out)
    text = out.export_text()
    assert where in text and "fw01" in text and "x › y" not in text
    out = console()
    plan_rows = [{**nameless, "action": "create", "reason": "new"}]
    print_plan({"tenant": "core", "rows": plan_rows}, out)
    assert where in out.export_text()


def test_print_result_is_bounded_and_prints_markup_literally():
    rows = [make_row("ERROR", key=f"k{i}", error="[bold]no[/bold]") for i in range(120)]
    out = console()
    print_result(make_result(rows), out)
    text = out.export_text()
    assert "[bold]no[/bold]" in text
    assert text.count("[bold]no[/bold]") == 50
    assert "… and 70 more, see report.html" in text


def test_print_result_all_ok_still_shows_plan_notes():
    notes = [{"resource": "devices", "level": "error", "message": "inventory failed: 503"}]
    out = console()
    print_result(make_result([make_row("UNCHANGED")] * 3, notes=notes), out)
    text = out.export_text()
    assert "All 3 rows OK." in text and "error: devices: inventory failed: 503" in text


def test_print_result_dry_run_says_nothing_was_written():
    rows = [make_row("PLANNED_CREATE", key=f"k{i}") for i in range(12)] + [make_row("UNCHANGED")]
    out = console()
    print_result(make_result(rows, dry_run=True), out)
    text = out.export_text()
    assert "Dry run: 12 rows would change; nothing was written." in text
    assert "OK." not in text
    out = console()
    print_result(make_result([make_row("UNCHANGED")], dry_run=True), out)
    assert "Dry run: no row would change; nothing was written." in out.export_text()
    skipped = [make_row("PLANNED_UPDATE"), make_row("SKIP", reason="missing repo")]
    out = console()
    print_result(make_result(skipped, dry_run=True), out)
    text = out.export_text()
    assert "missing repo" in text and "Dry run: 1 row would change" in text


def test_print_plan_lists_changes_bounded():
    changes = [{"field": f"f{i}", "before": i, "after": {"v": [i, i + 1]}} for i in range(7)]
    rows = [
        make_row("UPDATED", key=f"k{i}", changes=changes, reason="7 fields differ")
        for i in range(60)
    ]
    rows.append(make_row("UNCHANGED", key="same"))
    out = console()
    print_plan({"tenant": "core", "rows": rows}, out)
    text = out.export_text()
    assert "Plan for core (61 rows)" in text
    assert 'f0: 0 → {"v":[0,1]}' in text and "… +3 more fields" in text
    assert "… and 10 more; --verbose lists them all" in text
    assert text.rstrip().endswith("Plan: 0 to create, 60 to update, 0 skipped, 0 errors.")
    assert "same" not in text.split("Rows to change")[1]


def test_print_plan_shows_a_create_payload():
    row = make_row("CREATED", payload={"name": "Repo_x", "retention": 7})
    out = console()
    print_plan({"tenant": "core", "rows": [row]}, out)
    assert "name: Repo_x" in out.export_text()


def test_print_plan_nothing_to_change():
    out = console()
    print_plan({"tenant": "core", "rows": [make_row("UNCHANGED")]}, out)
    assert "Nothing to change." in out.export_text()


# --- $ref placeholders ---------------------------------------------------------------------


def test_ref_placeholders_are_shown_for_people():

    assert report.compact("$ref:devices:fw 01") == "(new devices 'fw 01')"
    assert (
        report.compact(["$ref:device_groups:linux", "x"]) == '["(new device_groups \'linux\')","x"]'
    )
    assert report.compact({"p": "/a/$ref:repos:R1/b"}) == '{"p":"/a/(new repos \'R1\')/b"}'
    assert report.compact("no ref here") == "no ref here"


def ref_row() -> dict:
    return make_row(
        "CREATED",
        "syslog_collectors",
        "col-1",
        payload={"device_id": "$ref:devices:fw01", "groups": ["$ref:device_groups:linux"]},
    )


def test_console_plan_shows_refs_for_people_and_keeps_the_data():
    row = ref_row()
    out = console()
    print_plan({"tenant": "core", "rows": [row]}, out)
    text = out.export_text()
    assert "device_id: (new devices 'fw01')" in text and "$ref:" not in text
    assert row["payload"]["device_id"] == "$ref:devices:fw01"
    update = make_row("UPDATED", changes=[{"field": "rp", "before": "a1", "after": "$ref:rp:x"}])
    out = console()
    print_plan({"tenant": "core", "rows": [update]}, out)
    assert "rp: a1 → (new rp 'x')" in out.export_text()


def test_html_shows_refs_for_people_and_result_json_keeps_them(tmp_path):
    result = make_result([ref_row()])
    html = render_html(result)
    assert "$ref:" not in html
    assert '<code class="f">device_id</code> <ins>(new devices &#39;fw01&#39;)</ins>' in html
    saved = json.loads(write_result_json(result, tmp_path / "r.json").read_text())
    assert saved["rows"][0]["payload"]["device_id"] == "$ref:devices:fw01"


# --- result.json --------------------------------------------------------------------------


def test_write_result_json_round_trips_utf8_and_fills_the_summary(tmp_path):
    result = make_result(started_at=datetime(2024, 6, 11, tzinfo=UTC))
    path = write_result_json(result, tmp_path / "core" / "run-1" / "result.json")
    raw = path.read_bytes().decode("utf-8")
    assert "RP_Überwachung" in raw  # UTF-8, not \\u escapes
    data = json.loads(raw)
    assert data["started_at"] == "2024-06-11T00:00:00Z"  # datetimes in ISO 8601
    assert data["summary"]["by_status"]["ERROR"] == 1
    assert data["rows"][1]["changes"][0]["after"]["criteria"][0]["value"] == 4625


def test_write_result_json_refuses_a_plan(tmp_path):
    with pytest.raises(DirectorSyncError, match="directorsync/result@1"):
        write_result_json({"schema": "directorsync/plan@1", "rows": []}, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_schema_validates_a_result_and_knows_every_status():
    jsonschema = pytest.importorskip("jsonschema")
    schema = result_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    notes = [{"resource": "devices", "level": "error", "message": "inventory failed"}]
    result = make_result(summary=summarize(every_status_rows()), notes=notes)
    jsonschema.validate(json.loads(json.dumps(result)), schema)
    assert schema["properties"]["rows"]["items"]["properties"]["status"]["enum"] == list(STATUSES)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(make_result([make_row("DONE")]), schema)


def test_docs_print_the_schema_and_every_field():
    doc = DOCS.read_text(encoding="utf-8")
    block = re.search(r"<!-- result-schema -->\s*```json\n(.*?)```", doc, re.S)
    assert block, "docs/reports.md lost its schema block"
    assert json.loads(block.group(1)) == result_json_schema()
    top = result_json_schema()["properties"]
    for props in (top, top["rows"]["items"]["properties"], top["findings"]["items"]["properties"]):
        for name, spec in props.items():
            lines = [line for line in doc.splitlines() if line.startswith(f"| `{name}` |")]
            assert any(spec["description"] in line for line in lines), f"{name}: field reference"


# --- HTML report --------------------------------------------------------------------------


def test_html_is_self_contained():
    html = render_html(make_result())
    lowered = html.lower()
    for needle in ("<script", "<link", "<img", "<iframe", "src=", "@import", "url(", "http://"):
        assert needle not in lowered, needle
    assert "https://" not in lowered
    assert "default-src &#39;none&#39;" in html  # the browser reads the entity as a quote
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<svg" in html and "<figure" in html  # the chart, inline


def test_html_shows_run_metadata_and_summary():
    html = render_html(make_result())
    for text in ("core", "pool-1", "run-1", "core_config.xlsx", "sha256:abc", "Apply"):
        assert f">{text}<" in html
    assert "2024-06-11 09:15:02 UTC" in html and "2024-06-11 09:15:21 UTC" in html
    assert "load 1.50 s · plan 2.25 s · apply 1 min 15 s" in html
    assert "<b>6</b><span>Rows in total</span>" in html
    for label in ("Created", "Updated", "Unchanged", "Skipped", "Error", "Exception"):
        assert f"<span>{label}</span>" in html
    assert "Director says: name taken" in html and "repo &#39;X&#39; missing" in html
    assert "3 attempts" in html and "1.5 s" in html and "412 ms" in html
    assert ">Routing policies</a>" in html and ">routing_policies<" not in html


@pytest.mark.parametrize("field", ["tenant", "workbook", "run_id", "pool_uuid", "plan_hash"])
def test_html_escapes_metadata(field):
    html = render_html(make_result(**{field: SCRIPT}))
    assert SCRIPT not in html and ESCAPED in html


def test_html_escapes_every_cell_value():
    finding = {"sheet": SCRIPT, "row": 7, "column": SCRIPT, "check": SCRIPT,
               "severity": "error", "message": SCRIPT, "value": SCRIPT}  # fmt: skip
    rows = every_status_rows() + [
        make_row("UPDATED", SCRIPT, '" onmouseover="alert(1)', node_name=SCRIPT,
                 order_id=SCRIPT, source=SCRIPT,
                 changes=[{"field": "x", "before": {"k": SCRIPT}, "after": SCRIPT}]),
        make_row("SKIP", key="s", reason=SCRIPT),
    ]  # fmt: skip
    html = render_html(make_result(rows, findings=[finding]), title=SCRIPT)
    assert SCRIPT not in html and "<script" not in html.lower()
    assert '" onmouseover' not in html and "&#34; onmouseover=&#34;" in html
    assert html.count(ESCAPED) >= 15


def test_html_lists_every_changed_field_before_and_after():
    changes = [
        {"field": f"field_{i}", "before": {"n": [i]}, "after": {"n": [i, "ü"]}} for i in range(12)
    ]
    html = render_html(make_result([make_row("UPDATED", changes=changes)]))
    for i in range(12):
        assert f'<code class="f">field_{i}</code> <del>{{&#34;n&#34;:[{i}]}}</del>' in html
        assert f"<ins>{{&#34;n&#34;:[{i},&#34;ü&#34;]}}</ins>" in html
    assert "<summary>+8 more fields</summary>" in html  # 4 shown, the others one click away


def test_html_shows_a_created_objects_payload_when_it_has_no_changes():
    row = make_row("CREATED", payload={"name": "Repo_x", "paths": [{"path": "/d", "days": 7}]})
    html = render_html(make_result([row]))
    assert '<code class="f">name</code> <ins>Repo_x</ins>' in html
    assert "<ins>[{&#34;path&#34;:&#34;/d&#34;,&#34;days&#34;:7}]</ins>" in html


def test_html_cuts_huge_values():
    big = list(range(10_000))
    html = render_html(
        make_result([make_row("UPDATED", changes=[{"field": "ips", "before": [], "after": big}])])
    )
    assert "…</ins>" in html and len(html) < 30_000


def test_html_orders_problems_first_and_collapses_unchanged():
    rows = [make_row("UNCHANGED", key=f"same{i}") for i in range(3)]
    rows += [make_row("UPDATED", key="upd"), make_row("ERROR", key="bad", error="x")]
    html = render_html(make_result(rows))
    section = html[html.index('id="r0"') :]
    assert section.index(">bad<") < section.index(">upd<") < section.index(">same0<")
    assert "<summary>3 unchanged rows</summary>" in section


def test_html_bounds_detail_rows_per_resource():
    rows = [make_row("UNCHANGED", key=f"u{i}") for i in range(30)] + [make_row("ERROR", key="e")]
    html = render_html(make_result(rows), max_detail_rows=5)
    assert "Showing 5 of 31 rows; the complete list is in result.json." in html
    assert html.count('<td class="key">') == 5 + 1  # the resource table + the error table


def test_html_dry_run_uses_planned_statuses():
    rows = [make_row("PLANNED_CREATE", key="new"), make_row("PLANNED_UPDATE", key="chg"),
            make_row("UNCHANGED", key="same")]  # fmt: skip
    html = render_html(make_result(rows, dry_run=True))
    assert "Dry run: 2 rows would change; nothing was written to Director." in html
    assert "<span>Would create</span>" in html and "<span>Would update</span>" in html
    assert "<span>Created</span>" not in html
    assert "badge s-planned-create" in html and "Dry run (nothing written)" in html


def test_html_errors_table_says_error_and_marks_workbook_problems():
    rows = [
        make_row("ERROR", "alert_rules", "", action="error", reason="name is empty",
                 error="name is empty", source="core_config.xlsx › AlertRules › row 9"),
        make_row("ERROR", "repos", "R", action="create", error="Director says: name taken"),
    ]  # fmt: skip
    html = render_html(make_result(rows))
    errors = html[html.index('id="errors"') : html.index("</section>", html.index('id="errors"'))]
    # a row without a name is found by where it comes from
    assert '<span class="src">core_config.xlsx › AlertRules › row 9</span>' in errors
    assert "<th>Error</th>" in errors and "Director&#x27;s message" not in errors
    assert errors.count("workbook problem: not sent to Director") == 1
    first, second = errors.split("name is empty", 1)[1], errors.split("name taken", 1)[1]
    assert "workbook problem" in first.split("</tr>")[0]
    assert "workbook problem" not in second.split("</tr>")[0]


def test_html_shows_one_plan_timing():
    phases = {"plan": 0.922, "load_and_plan": 0.923, "apply": 0.274}
    html = render_html(make_result(phases=phases))
    assert "plan 0.92 s · apply 0.27 s" in html
    assert "load_and_plan" not in html
    timings = html[html.index('id="timings"') :]
    assert timings.count("<td>plan</td>") == 1 and "<td>apply</td>" in timings
    assert htmlreport.phase_times({"load": 1, "plan": 2}) == {"load": 1, "plan": 2}


def test_html_plan_notes():
    notes = [{"resource": "devices", "level": "error", "message": f"inventory failed {SCRIPT}"},
             {"resource": "repos", "level": "warning", "message": "profile is a draft"}]  # fmt: skip
    html = render_html(make_result(notes=notes))
    assert 'id="notes"' in html and f"inventory failed {ESCAPED}" in html
    assert '<span class="badge s-error">error</span>' in html and "profile is a draft" in html


def test_html_findings_table():
    finding = {"resource": "repos", "sheet": "Repo", "row": 9, "column": "Retention",
               "check": "in_range", "severity": "error", "message": "out of range", "value": 0}  # fmt: skip
    html = render_html(make_result(findings=[finding]))
    assert "Findings" in html and "<code>in_range</code>" in html
    assert '<td>Repo</td><td class="num">9</td><td>Retention</td><td class="mono">0</td>' in html


def test_html_refuses_a_plan():
    with pytest.raises(DirectorSyncError):
        render_html({"schema": "directorsync/plan@1"})


def test_write_html(tmp_path):
    path = write_html(make_result(), tmp_path / "a" / "report.html", title="T")
    assert "<title>T</title>" in path.read_text(encoding="utf-8")


def test_html_stays_bounded_for_100k_rows():
    statuses = ["UNCHANGED"] * 7 + ["UPDATED", "CREATED", "SKIP"]
    changes = [{"field": "retention", "before": 90, "after": 180}]
    rows = [
        make_row(statuses[i % 10], f"res{i % 4}", f"key-{i}", changes=changes, duration_ms=i % 997)
        for i in range(100_000)
    ]
    rows[99_999] = make_row("ERROR", "res3", "last", error="the one failure")
    html = render_html(make_result(rows))
    assert len(html.encode()) < 2_500_000
    # 500 lines per resource, the error, 200 skipped rows in each of the two skip groups
    assert html.count('<td class="key">') == 4 * 500 + 1 + 2 * 200
    assert "<b>100,000</b><span>Rows in total</span>" in html
    assert "Showing 500 of 25,000 rows" in html and "the one failure" in html
    assert "Showing 200 of 5,000 rows" in html


# --- fleet page ---------------------------------------------------------------------------


def fleet() -> list[dict]:
    dry = make_result([make_row("PLANNED_CREATE")], tenant="sccoe", dry_run=True)
    return [
        {"tenant": "core", "ok": True, "error": None, "result": make_result(),
         "report_href": "../core/run-1/report.html", "notebook_href": "../core/run-1/tenant_sync.ipynb"},
        {"tenant": SCRIPT, "ok": False, "error": f"KeyError {SCRIPT}", "result": None,
         "report_href": "../x/report.html", "notebook_href": "javascript:alert(1)"},
        {"tenant": "sccoe", "ok": True, "error": None, "result": dry,
         "report_href": "../sccoe/run-1/report.html", "notebook_href": None},
    ]  # fmt: skip


def test_fleet_page_states_counts_and_links():
    html = render_fleet_index("run-1", fleet())
    assert "<title>DirectorSync fleet run run-1</title>" in html
    assert "3 tenants · 1 ok · 2 with failures" in html
    assert '<a href="../core/run-1/report.html">report</a>' in html
    assert '<a href="../core/run-1/tenant_sync.ipynb">notebook</a>' in html
    assert "../x/report.html" not in html  # no result: no report link
    assert "javascript:" not in html
    assert '>rows failed</span><p class="err">2 rows failed</p>' in html
    assert f'failed</span><p class="err">KeyError {ESCAPED}</p>' in html
    assert "no result" in html and "dry run" in html and "<span>Would create</span>" in html


def test_fleet_page_escapes_and_is_self_contained(tmp_path):
    path = write_fleet_index("<b>run</b>", fleet(), tmp_path / "run" / "index.html")
    html = path.read_text(encoding="utf-8")
    assert SCRIPT not in html and "<b>run</b>" not in html and "&lt;b&gt;run&lt;/b&gt;" in html
    assert "<script" not in html.lower() and "https://" not in html
    grid = html[html.index('id="grid"') : html.index('id="tenants"')]
    assert "<th>Repos</th><th>Routing policies</th><th>Devices</th>" in grid
    # problems first: the failed tenant, core (rows failed), then sccoe
    assert grid.index("KeyError") < grid.index(">core<") < grid.index(">sccoe<")
    assert '<td class="cell failed" title="Skipped 1, Error 1">1 failed · 1 skipped</td>' in grid
    assert '<td class="cell changed" title="Would create 1">1 changed</td>' in grid


def test_fleet_page_from_summaries_only():
    result = make_result(rows=None) | {"rows": None, "summary": {"by_status": {"CREATED": 4},
                                                                 "by_resource": {"repos": {"CREATED": 4}}}}  # fmt: skip
    tenant = {"tenant": "t", "ok": True, "error": None, "result": result, "report_href": "r.html"}
    assert "<b>4</b><span>Created</span>" in render_fleet_index("r", [tenant])


# --- secrets ------------------------------------------------------------------------------


@pytest.fixture
def token():
    value = "tok-9f8e7d6c5b4a"
    redact.register_secret(value)
    yield value
    redact.clear_secrets()


def secret_result(token: str) -> dict:
    row = make_row(
        "ERROR",
        "syslog_collectors",
        "col-1",
        payload={"name": "col-1", "password": "hunter2-secret"},
        changes=[{"field": "password", "before": "old-pass-value", "after": "hunter2-secret"},
                 {"field": "port", "before": 514, "after": 515}],
        error=f"401: Authorization: Bearer {token} rejected",
    )  # fmt: skip
    notes = [{"resource": "devices", "level": "error", "message": f"token={token} expired"}]
    return make_result([row], notes=notes, workbook=f"wb-{token}.xlsx")


def test_no_secret_reaches_any_output(tmp_path, token):
    result = secret_result(token)
    out = console()
    print_result(result, out)
    print_plan(result, out)
    fleet_tenant = {"tenant": "t", "ok": False, "error": f"boom {token}", "result": None}
    outputs = {
        "console": out.export_text(),
        "json": write_result_json(result, tmp_path / "result.json").read_text(encoding="utf-8"),
        "html": render_html(result),
        "fleet": render_fleet_index("r", [fleet_tenant]),
    }
    for name, text in outputs.items():
        for secret in (token, "hunter2-secret", "old-pass-value"):
            assert secret not in text, f"{secret} in {name}"
    assert '"field":"port","before":514,"after":515' in outputs["json"]
    assert "***REDACTED***" in outputs["html"] and "515" in outputs["html"]
    assert result["rows"][0]["payload"]["password"] == "hunter2-secret"  # input left alone


@pytest.fixture
def registered():
    redact.register_secret("registered-secret-value")
    yield
    redact.clear_secrets()


def test_a_large_result_json_is_masked_exactly_as_row_by_row(tmp_path, registered):
    rows = [
        make_row("UNCHANGED", key=f"Repo_{i:05}", payload={"name": f"Repo_{i:05}", "tags": ["é"]})
        for i in range(5000)
    ]
    rows[17]["payload"]["password"] = "hunter22"  # masked by key
    rows[2500]["reason"] = "Director said: token=registered-secret-value"  # masked in text
    rows[4999]["changes"] = [{"field": "api_key", "before": "k1", "after": "k2"}]
    result = make_result(rows, summary={"by_status": {"UNCHANGED": 5000}})
    saved = json.loads(write_result_json(result, tmp_path / "r.json").read_text())
    assert saved == json.loads(json.dumps(report.redact_result(result)))
    assert saved["rows"][17]["payload"]["password"] == redact.MASK
    assert saved["rows"][2500]["reason"] == f"Director said: token={redact.MASK}"
    assert saved["rows"][4999]["changes"][0]["after"] == redact.MASK
    assert saved["rows"][18] == rows[18]  # the others as they are
    assert rows[17]["payload"]["password"] == "hunter22"  # the result is not modified
    empty = json.loads(write_result_json(make_result([]), tmp_path / "e.json").read_text())
    assert empty["rows"] == [] and empty["schema"] == "directorsync/result@1"


def test_plan_findings_found_on_several_nodes_are_one_line_naming_the_nodes():
    def finding(node, row=2, value="np_windows"):
        return {
            "resource": "processing_policies", "sheet": "ProcessingPolicy", "row": row,
            "column": "norm_policy", "check": "resolve", "severity": "skip", "node": node,
            "message": f"unknown normalization policy '{value}' on node {node} (see docs)",
        }  # fmt: skip

    findings = [finding("lb-01"), finding("lb-02"), finding("lb-01", 3, "np_x")]
    findings.append({**finding(None, 4), "message": "name is empty"})
    out = console()
    print_plan({"tenant": "core", "workbook": "core.xlsx", "rows": [], "findings": findings}, out)
    text = out.export_text()
    assert text.count("np_windows") == 1
    assert "'np_windows' on nodes lb-01, lb-02 (see docs)" in text
    assert "'np_x' on node lb-01 (see docs)" in text
    assert "core.xlsx › ProcessingPolicy › row 4 › norm_policy" in text and "name is empty" in text


def test_result_json_writes_values_from_notebooks_and_frames_as_json(tmp_path):
    import numpy as np
    import pandas as pd

    row = make_row(
        "UNCHANGED",
        payload={
            "ids": np.array([1, 2]), "n": np.int64(3), "when": pd.Timestamp("2024-01-01 10:00"),
            "at": np.datetime64("2024-01-01T10:00:00.000000000"), "gone": pd.NaT,
            "ratio": np.float32(0.5), "none": float("nan"),
        },
    )  # fmt: skip
    saved = json.loads(write_result_json(make_result([row]), tmp_path / "r.json").read_text())
    assert saved["rows"][0]["payload"] == {
        "ids": [1, 2], "n": 3, "when": "2024-01-01T10:00:00",
        "at": "2024-01-01T10:00:00.000000000", "gone": None, "ratio": 0.5, "none": None,
    }  # fmt: skip


def test_findings_keep_their_node_through_a_plan_file(tmp_path):
    from directorsync.plan import Plan, load_plan

    def finding(node):
        return {
            "resource": "repos", "sheet": "Repo", "row": 2, "column": "name", "check": "resolve",
            "severity": "skip", "message": f"unknown repo 'x' on node {node}", "value": "x",
            "node": node,
        }  # fmt: skip

    import pandas as pd

    from directorsync.vocabulary import PLAN_COLUMNS

    rows = pd.DataFrame([{"resource": "repos", "key": "R", "action": "skip"}])
    plan = Plan("core", "p", "wb.xlsx", ["repos"], rows.reindex(columns=PLAN_COLUMNS),
                pd.DataFrame([finding("lb-01"), finding("lb-02")]))  # fmt: skip
    plan.save(tmp_path / "plan.json")
    again = load_plan(tmp_path / "plan.json")
    assert list(again.findings["node"]) == ["lb-01", "lb-02"]
    out = console()
    print_plan(again.console_view(), out)
    assert "on nodes lb-01, lb-02" in out.export_text()


def test_without_a_terminal_each_row_is_one_line_never_split():
    long_key = "MATMUT - MODIFICATION DU MOT DE PASSE D UN COMPTE A PRIVILEGES T0"
    rows = [make_row("UPDATED", "alert_rules", f"{long_key} {i}", reason="1 field differs",
                     changes=[{"field": "risk", "before": "low", "after": "high"}])
            for i in range(60)]  # fmt: skip
    rows += [make_row("SKIP", "alert_rules", f"s{i}", reason=f"'Repo-{i}' is not a repo")
             for i in range(30)]  # fmt: skip
    out = Console(file=io.StringIO(), width=40, record=True, color_system=None)
    assert not out.is_terminal
    print_plan({"tenant": "core", "rows": rows}, out, plan_path="out/plan.json")
    lines = out.export_text().splitlines()
    assert f"  update  alert_rules  lp-01  {long_key} 0  1 field differs  risk: low → high" in lines
    assert sum(long_key in line for line in lines) == 50  # the first 50, whole
    assert "     30 alert_rules: '…' is not a repo" in lines  # skips: one line per reason
    assert "… and 10 more; --verbose lists them all, out/plan.json holds them" in lines
    assert lines[-1] == "Plan: 0 to create, 60 to update, 30 skipped, 0 errors."
    out = console()
    print_plan({"tenant": "core", "rows": rows}, out, limit=None)  # --verbose
    text = out.export_text()
    assert text.count(long_key) == 60 and text.count("is not a repo") == 30 and "more" not in text


def test_verdicts_are_exact():
    from directorsync.report.verdicts import apply_verdict, files_line, plan_verdict

    assert plan_verdict({"create": 488, "skip": 80}) == (
        "Plan: 488 to create, 0 to update, 80 skipped, 0 errors."
    )
    assert plan_verdict({"error": 1}, 1) == "Plan: 0 to create, 0 to update, 0 skipped, 2 errors."
    rows = [make_row("CREATED")] * 488 + [make_row("SKIP")] * 80
    result = make_result(rows, phases={"plan": 0.9, "load_and_plan": 1.0, "apply": 3.0})
    assert apply_verdict(result, "reports/core/r1/report.html") == (
        "Apply complete: 488 created, 0 updated, 80 skipped, 0 failed in 4.0 s. "
        "Report: reports/core/r1/report.html"
    )
    dry = make_result([make_row("PLANNED_CREATE")], dry_run=True, phases={"apply": 0.25})
    assert apply_verdict(dry) == (
        "Dry run complete: 1 to create, 0 to update, 0 skipped, 0 failed in 0.2 s. "
        "Nothing was written."
    )
    assert files_line("reports/core/r1", ["plan.json", "result.json"]) == (
        "Wrote reports/core/r1/: plan.json, result.json"
    )

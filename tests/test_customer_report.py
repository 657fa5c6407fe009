"""The customer report's reading aids: verdict, grouped findings, names, merged nodes, timings."""

from __future__ import annotations

from html import unescape

from test_report import SCRIPT, make_result, make_row

from directorsync.report.blocks import resource_title
from directorsync.report.chart import status_chart
from directorsync.report.customer import Names, finding_groups, render_html, template_of, verdict


def alert_finding(row: int, repo: str) -> dict:
    return {"resource": "alert_rules", "sheet": "Alert", "row": row, "column": "settings.repos",
            "check": "valid", "severity": "skip", "value": repo,
            "message": f"'{repo}' is not a repo of this tenant"}  # fmt: skip


def skipped(key: str, repo: str, node: str) -> dict:
    return make_row("SKIP", "alert_rules", key, reason=f"'{repo}' is not a repo of this tenant",
                    node_name=node, node_id=node.upper())  # fmt: skip


def test_verdict_says_what_happened_in_one_line():
    assert verdict({"CREATED": 488, "SKIP": 80}, False, 80) == (
        "All 488 changes applied; 80 rows skipped for workbook problems — see Findings.",
        "warn",
    )
    assert verdict({"CREATED": 3, "ERROR": 1}, False, 0)[0] == (
        "3 of 4 changes applied, 1 failed — see Errors."
    )
    assert verdict({"CREATED": 1, "SKIP": 3}, False, 2)[0] == (
        "All 1 change applied; 3 rows skipped (2 for workbook problems) "
        "— see Findings and Skipped rows."
    )
    assert verdict({"UNCHANGED": 9}, False, 0) == (
        "Nothing to change: Director already matches the workbook.",
        "ok",
    )
    assert verdict({"PLANNED_CREATE": 2, "SKIP": 1}, True, 0)[0] == (
        "Dry run: 2 rows would change; nothing was written to Director; "
        "1 row skipped — see Skipped rows."
    )


def test_verdict_is_the_first_thing_on_the_page():
    html = render_html(make_result([make_row("CREATED")] * 2))
    body = html[html.index("<body>") :]
    assert body.index('id="verdict"') < body.index("<svg") < body.index('id="resources"')
    assert ">All 2 changes applied.</p>" in html


def test_findings_are_grouped_and_their_skips_are_not_repeated_per_resource():
    findings = [alert_finding(i, f"Repo-{i}") for i in range(2, 12)]
    rows = [skipped(f"rule {i}", f"Repo-{i}", node) for i in range(2, 12)
            for node in ("lb-01", "lb-02")]  # fmt: skip
    groups = finding_groups(findings, rows)
    assert len(groups) == 1
    group = groups[0]
    assert group["message"] == "'…' is not a repo of this tenant"
    assert (group["resource"], group["count"], group["skipped"]) == ("Alert rules", 10, 20)
    html = render_html(make_result(rows, findings=findings))
    assert html.count('<details class="group">') == 1
    assert "10 cells · 20 rows not applied" in html
    assert 'id="skips"' not in html  # the skips are explained by the findings, shown once
    assert "20 skipped rows are listed under" in html
    assert "Repo-7" in html  # a group opens to its cells


def test_a_group_of_one_message_shows_the_message_itself():
    groups = finding_groups([alert_finding(2, "Repo-x")], [])
    assert groups[0]["message"] == "'Repo-x' is not a repo of this tenant"
    assert template_of("repos Repo-a, Repo_b are not repos (row 12)") == (
        "repos … are not repos (row …)"
    )


def test_other_skips_are_grouped_by_reason():
    rows = [make_row("SKIP", "devices", f"fw{i}", reason=f"device group 'G{i}' not found")
            for i in range(5)]  # fmt: skip
    html = render_html(make_result(rows))
    skips = html[html.index('id="skips"') :]
    assert "device group &#39;…&#39; not found" in skips and ">5 rows<" in skips


def test_one_object_on_several_nodes_is_one_line_naming_the_nodes():
    rows = [make_row("CREATED", key="Repo_fw", node_name=n, node_id=n, duration_ms=10)
            for n in ("lb-01", "lb-02")]  # fmt: skip
    html = render_html(make_result(rows))
    assert html.count('<td class="key">Repo_fw<') == 1 and "lb-01, lb-02" in html
    assert "20 ms" in html  # the two orders' time, summed


def test_ids_the_plan_knows_read_as_names():
    repo_id, node_id = "64f9e4688bcc05168e04c1a0", "506caf32de83054497d07c3c632a98cb"
    rows = [
        make_row("UNCHANGED", "repos", "Repo_fw", remote_id=repo_id, node_id=node_id,
                 node_name="lb-backend01"),
        make_row("UPDATED", "routing_policies", "RP_fw", changes=[
            {"field": "repo", "before": "other", "after": repo_id},
            {"field": "node", "before": None, "after": [node_id]}]),
    ]  # fmt: skip
    names = Names(rows)
    assert names.text(repo_id) == "repo 'Repo_fw'"
    html = unescape(render_html(make_result(rows)))
    assert "<ins>repo 'Repo_fw'</ins>" in html and '["lb-backend01"]' in html
    assert repo_id not in html.split('id="resources"')[1].split("unchanged row")[0]


def test_resources_read_by_their_titles():
    assert resource_title("user_defined_lists") == "User defined lists"
    html = render_html(make_result([make_row("CREATED", "normalization_policies")]))
    assert "<b>Normalization policies</b>" in html and "normalization_policies" not in html


def test_timings_add_up_and_say_what_a_sum_is():
    rows = [make_row("CREATED", key=f"k{i}", duration_ms=1000) for i in range(3)]
    html = render_html(make_result(rows, phases={"load_and_plan": 1.0, "apply": 2.5}))
    timings = html[html.index('id="timings"') :]
    assert '<th class="num">Wall time</th>' in timings
    assert '<td>Total</td><td class="num">3.50 s</td>' in timings
    assert "Summed order time" in timings and "3.0 s" in timings


def test_unchanged_rows_are_collapsed():
    rows = [make_row("UNCHANGED", key=f"same{i}") for i in range(3)] + [make_row("UPDATED")]
    html = render_html(make_result(rows))
    assert '<details class="quiet"><summary>3 unchanged rows</summary>' in html


def test_not_selected_rows_are_grouped_last_and_collapsed_in_print():
    rows = [make_row("SKIP", key=f"k{i}", reason="not selected for this apply") for i in range(4)]
    rows.append(make_row("SKIP", key="x", reason="missing repo"))
    html = render_html(make_result(rows))
    skips = html[html.index('id="skips"') :]
    assert skips.index("missing repo") < skips.index("not selected for this apply")
    assert '<details class="group quiet">' in skips


def test_chart_is_inline_svg_without_references_and_markup_stays_text():
    svg = status_chart({SCRIPT: {"CREATED": 3, "SKIP": 1}, "$x$": {"ERROR": 2}},
                       ["CREATED", "SKIP", "ERROR"], SCRIPT)  # fmt: skip
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    for needle in ("<script", "url(", "http", "<style", "<?xml"):
        assert needle not in svg, needle
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "Created (3)" in svg
    assert status_chart({}, ["CREATED"]) == ""

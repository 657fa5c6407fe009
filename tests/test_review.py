"""DiffReview: pure filtering/selection/approval functions, and the widget glue without a browser."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import session_for

from directorsync.errors import PlanError
from directorsync.notebook.approval import (
    APPROVAL_SCHEMA,
    load_approval,
    make_approval,
    save_approval,
)
from directorsync.notebook.review import DiffReview
from directorsync.notebook.review_rows import (
    action_colour_expr,
    changes_html,
    clicked_row,
    counts_line,
    filter_rows,
    grid_frame,
    missing_dependencies,
    option_counts,
    positions_of,
    rectangles_of,
    results_html,
    row_changes,
    with_dependencies,
)
from directorsync.plan import Plan, load_plan
from directorsync.vocabulary import FINDING_COLUMNS, PLAN_COLUMNS

NODES = {"n1": "backend01", "n2": "backend02", "s1": "search01"}


def _row(resource: str, node: str, key: str, action: str, **extra) -> dict:
    row = dict.fromkeys(PLAN_COLUMNS)
    payload = {"name": key, "retention": 30} if action in ("create", "update") else None
    row.update(
        resource=resource,
        node_id=node,
        node_name=NODES[node],
        key=key,
        action=action,
        reason={"update": "1 field differs", "skip": "no repo path"}.get(action),
        changes=[{"field": "retention", "before": 7, "after": 30}] if action == "update" else [],
        payload=payload,
        method={"create": "POST", "update": "PUT"}.get(action),
        path="Repos",
        depends_on=[],
        sheet="Repo",
        excel_rows=[2],
        source=f"wb.xlsx › Repo › row {len(key)}",
    )
    row.update(extra)
    return row


def make_plan(rows: list[dict]) -> Plan:
    return Plan(
        tenant="core",
        pool_uuid="pool",
        workbook="wb.xlsx",
        resources=["repos", "alert_rules"],
        rows=pd.DataFrame(rows, columns=PLAN_COLUMNS),
        findings=pd.DataFrame(columns=FINDING_COLUMNS),
        run_id="20260101T000000Z-abcdef",
    )


@pytest.fixture
def plan() -> Plan:
    return make_plan(
        [
            _row("repos", "n1", "Repo_A", "create"),  # 0
            _row("repos", "n2", "Repo_A", "create"),  # 1
            _row("repos", "n1", "Repo_B", "update"),  # 2
            _row("repos", "n2", "Repo_B", "unchanged"),  # 3
            _row("repos", "n1", "repo_c", "skip"),  # 4
            _row("alert_rules", "s1", "Brute force", "create"),  # 5
            _row("alert_rules", "s1", "<script>alert(1)</script>", "update"),  # 6
            _row("alert_rules", "s1", "Broken", "error", reason="bad risk"),  # 7
        ]
    )


# --- filter_rows ------------------------------------------------------------------------------


def test_no_filter_keeps_every_row(plan):
    assert list(filter_rows(plan.rows).index) == list(range(8))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"resources": ["alert_rules"]}, [5, 6, 7]),
        ({"nodes": ["backend02"]}, [1, 3]),
        ({"nodes": ["n2"]}, [1, 3]),  # node id works too
        ({"actions": ["create", "update"]}, [0, 1, 2, 5, 6]),
        ({"search": "repo_"}, [0, 1, 2, 3, 4]),  # case-insensitive
        ({"search": "  REPO_B "}, [2, 3]),
        ({"search": "<script>"}, [6]),  # literal, not a regex
        ({"search": "("}, [6]),
        ({"resources": ["repos"], "nodes": ["backend01"], "actions": ["create", "skip"]}, [0, 4]),
        ({"resources": ["repos"], "search": "brute"}, []),
    ],
)
def test_filter_rows(plan, kwargs, expected):
    assert list(filter_rows(plan.rows, **kwargs).index) == expected


def test_grid_frame_is_text_indexed_by_plan_position(plan):
    rows = plan.rows.iloc[[2, 5, 7]].copy()
    rows.loc[2, "drift"] = "director_changed"
    frame = grid_frame(rows, results={5: "CREATED"})
    assert list(frame.index) == [2, 5, 7] and frame.index.name == "row"
    assert list(frame.columns) == [
        "resource", "node", "key", "action", "changed fields", "reason", "result", "drift"
    ]  # fmt: skip
    assert frame.loc[2].tolist() == [
        "repos", "backend01", "Repo_B", "update", "retention", "1 field differs", "",
        "director_changed",
    ]  # fmt: skip
    assert frame.loc[5, "drift"] == ""
    assert frame.loc[5, "changed fields"] == "(new)" and frame.loc[5, "result"] == "CREATED"
    assert frame.loc[7, "reason"] == "bad risk" and frame.loc[7, "changed fields"] == ""


def test_positions_of_maps_view_rows_to_plan_positions():
    visible = [7, 3, 9, 0, 5]  # the grid sorted and filtered: view row n shows position visible[n]
    assert positions_of([{"r1": 1, "r2": 3, "c1": 0, "c2": 6}], visible) == [0, 3, 9]
    assert positions_of([{"r1": 4, "r2": 4}, {"r1": 0, "r2": 0}], visible) == [5, 7]
    assert positions_of([{"r1": 3, "r2": 1}], visible) == [0, 3, 9]  # either direction
    assert positions_of([{"r1": 3, "r2": 99}], visible) == [0, 5]  # clamped to the view
    assert positions_of([], visible) == []
    rects = rectangles_of([9, 0, 5, 42], visible, 7)  # 42 is not shown
    assert rects == [{"r1": 2, "r2": 4, "c1": 0, "c2": 6}]
    assert positions_of(rects, visible) == [0, 5, 9]


def test_clicked_row_is_the_far_end_of_a_shift_click_range():
    assert clicked_row({"r1": 4, "r2": 4}, anchor=0) == 4  # a click
    assert clicked_row({"r1": 4, "r2": 9}, anchor=4) == 9  # shift-click below the anchor
    assert clicked_row({"r1": 2, "r2": 4}, anchor=4) == 2  # shift-click above it


def test_action_colour_expr_names_every_action():
    expr = action_colour_expr()
    for action in ("create", "update", "unchanged", "skip", "error"):
        assert f"cell.metadata.data['action'] == '{action}'" in expr
    assert expr.endswith("'#ffffff'")


def test_row_changes(plan):
    rows = plan.rows
    update = row_changes(rows.iloc[2])
    assert update.to_dict("records") == [{"field": "retention", "before": "7", "after": "30"}]
    create = row_changes(rows.iloc[0])
    assert create.to_dict("records") == [
        {"field": "name", "before": "", "after": "Repo_A"},
        {"field": "retention", "before": "", "after": "30"},
    ]
    assert row_changes(rows.iloc[4]).empty


def test_detail_pane_escapes_cells(plan):
    html = changes_html(plan.rows.iloc[6])
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "7" in html and "30" in html
    assert 'background:#fde2e1">7</td>' in html and 'background:#e3f4e8">30</td>' in html
    assert "wb.xlsx › Repo › row" in html  # the workbook source


# --- approvals -------------------------------------------------------------------------------


def test_make_approval(plan):
    approval = make_approval(plan, [5, 0, 5], approved_by="alice")
    assert approval["schema"] == APPROVAL_SCHEMA
    assert approval["plan_hash"] == plan.hash
    assert approval["approved_by"] == "alice"
    assert approval["approved_at"].endswith("+00:00")
    assert approval["rows"] == [
        {"resource": "repos", "node_id": "n1", "key": "Repo_A"},
        {"resource": "alert_rules", "node_id": "s1", "key": "Brute force"},
    ]


@pytest.mark.parametrize("index", [3, 4, 7, 8, -1])
def test_only_changed_rows_can_be_approved(plan, index):
    with pytest.raises(PlanError):
        make_approval(plan, [index])


def test_approval_round_trip_through_saved_plan(plan, tmp_path):
    plan_file = plan.save(tmp_path / "plan.json")
    path = save_approval(make_approval(plan, [6, 1, 2]), tmp_path / "approval.json")
    assert load_approval(path, load_plan(plan_file)) == [1, 2, 6]


def test_approval_for_another_plan_is_refused(plan, tmp_path):
    path = save_approval(make_approval(plan, [0]), tmp_path / "approval.json")
    rows = plan.rows.copy()
    rows.at[0, "payload"] = {"name": "Repo_A", "retention": 365}  # the plan changed since
    with pytest.raises(PlanError, match="another plan"):
        load_approval(path, make_plan(rows.to_dict("records")))


def test_approval_naming_an_unknown_row_is_refused(plan, tmp_path):
    approval = make_approval(plan, [0])
    approval["rows"].append({"resource": "repos", "node_id": "n1", "key": "Repo_Z"})
    path = save_approval(approval, tmp_path / "approval.json")
    with pytest.raises(PlanError, match="Repo_Z"):
        load_approval(path, plan)


@pytest.mark.parametrize("text", ["not json", "[]", json.dumps({"schema": "other@1"})])
def test_unreadable_approval_is_refused(plan, tmp_path, text):
    path = tmp_path / "approval.json"
    path.write_text(text)
    with pytest.raises(PlanError):
        load_approval(path, plan)


# --- the widget (no browser: ipywidgets work without a front end) ----------------------------


class FakeApply:
    """Records the call; answers every selected row CREATED (row 6: ERROR)."""

    def __init__(self):
        self.calls = []
        self.present = []

    def __call__(self, plan, *, selection, progress, present=()):
        self.calls.append(list(selection))
        self.present.append(list(present))
        rows = []
        for i, row in enumerate(plan.rows.to_dict("records")):
            status = "SKIP" if i not in selection else "ERROR" if i == 6 else "CREATED"
            rows.append({**row, "status": status, "error": "<b>nope</b>" if i == 6 else None})
        for n, i in enumerate(selection, 1):
            progress(n, len(selection), rows[i])
        return {"schema": "directorsync/result@1", "rows": rows}


def _tick(review: DiffReview, index: int) -> None:
    """Ctrl-click the grid row showing plan row ``index`` (adds it to the grid's selection)."""
    view_row = list(review.grid.visible()).index(index)
    rect = {"r1": view_row, "r2": view_row, "c1": 0, "c2": 6}
    review.grid.selections = [*review.grid.selections, rect]


def test_widget_applies_exactly_the_selected_rows(plan):
    fake = FakeApply()
    review = DiffReview(plan, apply_fn=fake)
    review.action_filter.value = ("create", "update")
    assert list(review.filtered.index) == [0, 1, 2, 5, 6]
    _tick(review, 2)
    _tick(review, 6)
    review.apply_button.click()
    assert fake.calls == []  # asked first, with the counts
    assert review.question.value == "Apply 2 changes to tenant core (2 update)?"
    assert review.confirm.layout.display is None
    review.confirm_button.click()
    assert review.confirm.layout.display == "none"
    assert fake.calls == [[2, 6]]
    assert (review.progress.value, review.progress.max) == (2, 2)
    assert "CREATED 1" in review.result_html.value and "ERROR" in review.result_html.value
    assert "&lt;b&gt;nope&lt;/b&gt;" in review.result_html.value
    assert review.selected == {6}  # applied rows leave the selection; the failed one stays
    assert review.grid.frame.loc[[2, 6], "result"].tolist() == ["CREATED", "ERROR"]
    review.select([2])
    assert review.selected == {6}  # an applied row cannot be selected again


def test_widget_select_all_matching_and_none(plan):
    review = DiffReview(plan, apply_fn=FakeApply())
    review.resource_filter.value = ("repos",)
    review.all_button.click()
    assert review.selected == {0, 1, 2}  # unchanged/skip rows cannot be selected
    review.search.value = "brute"
    review.resource_filter.value = ()
    review.all_button.click()
    assert review.selected == {0, 1, 2, 5}
    review.none_button.click()
    assert review.selected == set()


def test_widget_grid_range_selects_only_rows_that_are_sent(plan):
    review = DiffReview(plan)
    review.grid.selections = [{"r1": 0, "r2": 7, "c1": 0, "c2": 6}]  # shift-click over all
    assert review.selected == {0, 1, 2, 5, 6}
    assert review.apply_button.disabled  # no session, no apply_fn


def test_widget_cancel_applies_nothing(plan):
    fake = FakeApply()
    review = DiffReview(plan, apply_fn=fake)
    review.select([0])
    review.apply_button.click()
    review.cancel_button.click()
    assert fake.calls == [] and review.confirm.layout.display == "none"


def test_widget_empty_selection_saves_no_approval(plan, tmp_path):
    review = DiffReview(plan, approval_path=tmp_path / "a.json")
    assert review.save() is None
    assert not (tmp_path / "a.json").exists()
    assert "nothing is selected" in review.message.value


def test_widget_filters_show_counts_and_status_counts_hidden_selection(plan):
    review = DiffReview(plan)
    assert review.action_filter.options == (
        ("create 3", "create"),
        ("error 1", "error"),
        ("skip 1", "skip"),
        ("unchanged 1", "unchanged"),
        ("update 2", "update"),
    )
    assert review.counts.value == "create 3 · update 2 · unchanged 1 · skip 1 · error 1"
    review.select([0, 5])
    review.resource_filter.value = ("alert_rules",)
    assert review.status.value.endswith("2 selected (1 hidden by the filters)")
    assert review.counts.value == "create 1 · update 1 · error 1"


def test_widget_details_and_save_approval(plan, tmp_path):
    review = DiffReview(plan, approval_path=tmp_path / "a.json")
    review.on_grid_click({"region": "body", "row": 2, "column": "key"})
    assert "retention" in review.detail.value and "→" in review.detail.value
    _tick(review, 5)
    path = review.save()
    assert path == tmp_path / "a.json"
    assert load_approval(path, plan) == [5]
    assert str(path) in review.message.value


def test_widget_grid_selection_follows_the_grids_sort_and_filters():
    rows = [_row("repos", "n1", f"Repo_{i:05}", "create") for i in range(5000)]
    review = DiffReview(make_plan(rows), apply_fn=FakeApply())
    assert review.grid._row_count == 5000 and not review.grid.get_state()["_data"]["data"]
    review.search.value = "Repo_049"  # the review's filter: 100 rows
    review.grid._transforms = [  # the grid's own header menus: sort descending, filter
        {"type": "sort", "column": "key", "desc": True},
        {"type": "filter", "column": "key", "operator": "<", "value": "Repo_04950"},
    ]
    assert list(review.grid.visible()[:3]) == [4949, 4948, 4947]
    assert review.status.value.startswith("50 of 5,000 rows shown")
    review.grid.selections = [{"r1": 2, "r2": 4, "c1": 0, "c2": 6}]  # click, shift-click
    assert review.selected == {4945, 4946, 4947}
    review.on_grid_click({"region": "body", "row": 0})
    assert "Repo_04949" in review.detail.value
    review.grid.selections = []  # the grid clears its selection when it re-sorts: kept
    assert review.selected == {4945, 4946, 4947}
    review.grid._transforms = []  # the grid re-sorts: the selection stays, re-marked
    assert review.selected == {4945, 4946, 4947}
    assert positions_of(review.grid.selections, review.grid.visible()) == [4945, 4946, 4947]
    review.search.value = "Repo_00"
    assert review.status.value.endswith("3 selected (3 hidden by the filters)")


def test_grid_answers_data_requests_without_errors(plan, caplog):
    grid = DiffReview(plan).grid
    sent = []
    grid.send = lambda content, buffers=None: sent.append((content, buffers))
    grid._transforms = [{"type": "sort", "column": "key", "desc": False}]
    request = {"type": "data-request", "r1": 0, "r2": 2, "c1": 0, "c2": 6}
    grid._handle_msg({"content": {"data": {"method": "custom", "content": request}}, "buffers": []})
    reply = [c for c, _ in sent if c.get("event_type") == "data-reply"]
    assert len(reply) == 1 and (reply[0]["r1"], reply[0]["r2"]) == (0, 2)
    assert "KeyError" not in caplog.text and "Exception in callback" not in caplog.text


# --- against the simulator: Apply selected sends exactly the selected row --------------------


def test_widget_apply_writes_only_the_selected_row(simulator, samples, tmp_path):
    with session_for(simulator, samples / "tenants.yml", tmp_path) as session:
        plan = session.plan("esait", samples / "esait_config.xlsx", ["repos"])
        review = DiffReview(plan, session)
        target = int(plan.rows.index[plan.rows["action"] == "create"][0])
        before = len(simulator.requests())
        _tick(review, target)
        assert review.apply_selected() is None  # asks first
        result = review.apply_selected(confirmed=True)
    writes = [r for r in simulator.requests()[before:] if r["method"] in ("POST", "PUT", "DELETE")]
    assert len(writes) == 1
    assert plan.rows.at[target, "key"] in json.dumps(writes[0]["body"])
    statuses = [r["status"] for r in result["rows"]]
    assert statuses[target] == "CREATED"
    assert statuses.count("CREATED") == 1
    (folder,) = review.written  # like the CLI: result.json and report.html in a folder of its own
    assert folder.parent == tmp_path / "reports" / "esait"
    assert {p.name for p in folder.iterdir()} >= {"result.json", "report.html"}


# --- dependencies -----------------------------------------------------------------------------


@pytest.fixture
def chain() -> Plan:
    """A device group created by the plan, a device using it, one using a group on Director."""
    return make_plan(
        [
            _row("device_groups", "n1", "web", "create"),  # 0
            _row("devices", "n1", "web01", "create", depends_on=["device_groups:web"]),  # 1
            _row("devices", "n1", "db01", "create", depends_on=["device_groups:db"]),  # 2
            _row("devices", "n2", "web02", "create", depends_on=["device_groups:web"]),  # 3
            _row("repos", "n1", "Repo_A", "create"),  # 4
            _row("routing_policies", "n1", "rp", "create", depends_on=["repos:Repo_A"]),  # 5
            _row(
                "processing_policies", "n1", "pp", "create", depends_on=["routing_policies:rp"]
            ),  # 6
        ]
    )


def test_missing_dependencies_are_the_plans_creates_on_the_same_node(chain):
    rows = chain.rows
    assert missing_dependencies(rows, [1, 2, 3]) == {1: [0]}  # db is on Director; n2 has no web
    assert missing_dependencies(rows, [1, 0]) == {}
    assert missing_dependencies(rows, [1], present=[0]) == {}  # applied by an earlier click
    assert missing_dependencies(rows, [6]) == {6: [4, 5]}  # transitively
    assert with_dependencies(rows, [6, 2]) == ({2, 4, 5, 6}, [4, 5])


def test_widget_selects_dependencies_and_says_so(chain):
    review = DiffReview(chain, apply_fn=FakeApply())
    review.select([1])
    assert review.selected == {0, 1}
    assert review.message.value == (
        "also selected 1 row(s) the selection depends on: device_groups &#x27;web&#x27; on "
        "backend01"
    )


def test_widget_warns_when_a_dependency_is_deselected(chain):
    review = DiffReview(chain, apply_fn=FakeApply())
    review.select([1])
    review.selected.discard(0)
    review.apply_button.click()
    assert review.question.value == (
        "Apply 1 changes to tenant core (1 create)? 1 selected row(s) depend on rows not "
        "selected and will be skipped."
    )


def test_widget_passes_rows_applied_by_an_earlier_click_as_present(chain, tmp_path):
    fake = FakeApply()
    review = DiffReview(chain, apply_fn=fake, reports_dir=tmp_path)
    review.select([0])
    review.apply_selected(confirmed=True)
    review.select([1])
    assert review.selected == {1}  # its group was created a click before: not added again
    review.apply_selected(confirmed=True)
    assert fake.calls == [[0], [1]] and fake.present == [[], [0]]
    assert len(review.written) == 2 and review.written[0] != review.written[1]
    for folder in review.written:
        assert {p.name for p in folder.iterdir()} == {"result.json", "report.html"}


def test_filter_counts_and_results_summary(plan):
    assert option_counts(plan.rows, "resource") == [
        ("alert_rules 3", "alert_rules"),
        ("repos 5", "repos"),
    ]
    assert counts_line(plan.rows.iloc[:0]) == "no rows"
    rows = [{"status": "CREATED", "key": f"k{i}"} for i in range(120)]
    rows += [{"status": "ERROR", "key": f"bad{i}", "error": "<i>x</i>"} for i in range(60)]
    summary = results_html(rows)
    assert summary.startswith("<p>CREATED 120 · ERROR 60</p>")
    assert "k0" not in summary and "bad49" in summary and "bad50" not in summary
    assert "… and 10 more rows" in summary and "&lt;i&gt;x&lt;/i&gt;" in summary

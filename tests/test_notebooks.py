"""The notebooks: committed stripped and thin, papermill smoke runs, nbval, and no token anywhere.

Every kernel started here gets temporary JUPYTER_*_DIR / IPYTHONDIR / HOME (conftest's autouse
fixture sets them in the environment the kernels inherit).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest
from conftest import ROOT, SAMPLES, TOKEN

from directorsync.redact import is_secret_key

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _strip_module():
    spec = importlib.util.spec_from_file_location(
        "strip_notebooks", ROOT / "scripts" / "strip_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- committed notebooks ------------------------------------------------------------------------


def test_both_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ["explore.ipynb", "tenant_sync.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.id
        assert set(cell.metadata) <= {"tags"}, cell.id
    assert set(nb.metadata) <= {"kernelspec", "language_info"}
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert _strip_module().is_stripped(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin_with_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0]
    params = papermill.inspect_notebook(str(path))
    assert {"tenant", "workbook", "tenants_file", "resources", "config_path", "simulator"} <= set(
        params
    )
    assert not [name for name in params if is_secret_key(name)]
    assigned = [line for line in tagged[0].source.splitlines() if line and line[0].isalpha()]
    assert len(assigned) == len(params), "papermill could not parse a parameter line"
    for cell in code[1:]:
        lines = [line for line in cell.source.splitlines() if line.strip()]
        assert len(lines) <= 12, cell.id
        for word in ("def ", "class ", "for ", "while ", "import pandas", "lambda"):
            assert word not in cell.source, (cell.id, word)


def test_strip_removes_outputs_counts_and_run_metadata(tmp_path):
    strip = _strip_module()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1", execution_count=3)
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=3)
    ]
    cell.metadata.update(tags=["parameters"], papermill={"duration": 1.0}, execution={})
    nb.cells = [cell, nbformat.v4.new_markdown_cell("# hi")]
    nb.metadata.update(
        widgets={"state": {}}, papermill={"parameters": {}}, kernelspec={"name": "python3"}
    )
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert strip.main(["--check", str(path)]) == 1
    assert strip.main([str(path)]) == 0
    clean = nbformat.read(path, as_version=4)
    assert clean.cells[0].outputs == [] and clean.cells[0].execution_count is None
    assert dict(clean.cells[0].metadata) == {"tags": ["parameters"]}
    assert set(clean.metadata) == {"kernelspec"}
    assert strip.main(["--check", str(path)]) == 0
    assert strip.main(["--check", *map(str, NOTEBOOKS)]) == 0


# --- the helpers' tables (pure) -------------------------------------------------------------------


@pytest.fixture
def plan():
    import pandas as pd

    from directorsync.plan import Plan
    from directorsync.vocabulary import FINDING_COLUMNS, PLAN_COLUMNS

    def row(resource, key, action, changes=()):
        return {
            **dict.fromkeys(PLAN_COLUMNS),
            "resource": resource,
            "node_id": "n1",
            "node_name": "be01",
            "key": key,
            "action": action,
            "changes": [{"field": f, "before": b, "after": a} for f, b, a in changes],
            "source": f"wb.xlsx › Repo › row {len(key)}",
        }

    rows = [
        row("repos", "A", "unchanged"),
        row("repos", "B", "update", [("retention", 7, 30)]),
        row("repos", "C", "create"),
        row("alert_rules", "D", "error"),
    ]
    findings = [
        {"resource": "repos", "sheet": "Repo", "row": 9, "column": "name", "check": "not_empty"},
        {
            "resource": "alert_rules",
            "sheet": "Alert",
            "row": 4,
            "column": "repos",
            "check": "resolve",
        },
    ]
    return Plan(
        "core",
        "pool",
        "wb.xlsx",
        ["repos", "alert_rules"],
        pd.DataFrame(rows, columns=PLAN_COLUMNS),
        pd.DataFrame(findings).reindex(columns=FINDING_COLUMNS),
    )


def test_tables_for_the_notebooks(plan):
    from directorsync.notebook import tenant_run as nb

    assert nb.parse_resources(" repos, devices ,") == ["repos", "devices"]
    assert nb.parse_resources([]) is None and nb.parse_resources("") is None
    summary = nb.summary_table(plan)
    assert summary.loc[("repos", "be01")].to_dict() == {
        "create": 1,
        "update": 1,
        "unchanged": 1,
        "error": 0,
    }
    tables = nb.plan_tables(plan, max_rows=2)
    assert list(tables["repos"]["key"]) == ["C", "B"]  # changes first, bounded
    assert tables["repos"]["changes"].iloc[1] == "retention: 7 → 30"
    assert list(nb.findings_table(plan, "prechecks")["row"]) == [9]
    assert list(nb.findings_table(plan, "unresolved")["column"]) == ["repos"]
    assert len(nb.findings_table(plan)) == 2
    result = {
        "summary": {"by_resource": {"repos": {"CREATED": 2}, "alert_rules": {"ERROR": 1}}},
        "rows": [{"resource": "alert_rules", "key": "D", "status": "ERROR", "error": "no"}],
    }
    ref = [{"field": "repo", "before": None, "after": "$ref:repos:Repo_x"}]
    assert nb._changes_text(ref) == "repo: null → (new repos 'Repo_x')"
    assert nb.result_table(result).loc["alert_rules", "ERROR"] == 1
    assert nb.failed_rows_table(result)["error"].tolist() == ["no"]


# --- running them ----------------------------------------------------------------------------------


@pytest.fixture
def director(simulator, monkeypatch):
    """A simulator in this process; kernels find it through the environment (never parameters)."""
    monkeypatch.setenv("DSYNC_DIRECTOR__BASE_URL", simulator.base_url)
    monkeypatch.setenv("DSYNC_DIRECTOR__TOKEN", TOKEN)
    return simulator


def assert_no_token(root: Path) -> None:
    """No file under ``root`` (notebooks, their HTML, reports) holds the token."""
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


def to_html(notebook: Path) -> Path:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(notebook))
    out = notebook.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def execute(name: str, out_dir: Path, **parameters) -> nbformat.NotebookNode:
    out = out_dir / name
    papermill.execute_notebook(
        str(ROOT / "notebooks" / name),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(out_dir),
        progress_bar=False,
        execution_timeout=120,
        start_timeout=60,
    )
    to_html(out)
    return nbformat.read(out, as_version=4)


def outputs_text(nb: nbformat.NotebookNode) -> str:
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def test_tenant_sync_applies_against_the_director_from_the_environment(director, tmp_path):
    before = len(director.requests())
    nb = execute(
        "tenant_sync.ipynb",
        tmp_path,
        tenant="esait",
        workbook=str(SAMPLES / "esait_config.xlsx"),
        tenants_file=str(SAMPLES / "tenants.yml"),
        resources=["repos"],
        dry_run=False,
        output_dir=str(tmp_path / "reports"),
    )
    result = json.loads((tmp_path / "reports" / "result.json").read_text())
    created = result["summary"]["by_status"]["CREATED"]
    assert created > 0 and set(result["summary"]["by_status"]) == {"CREATED"}
    posts = [r for r in director.requests()[before:] if r["method"] == "POST"]
    assert len(posts) == created
    assert (tmp_path / "reports" / "report.html").is_file()
    assert (tmp_path / "reports" / "plan.json").is_file()
    assert "POST" in (tmp_path / "reports" / "actions.log").read_text()
    text = outputs_text(nb)
    assert "CREATED" in text and "esait-aio01" in text
    assert_no_token(tmp_path)


def test_explore_runs_with_an_embedded_simulator(samples, monkeypatch, tmp_path):
    monkeypatch.setenv("DSYNC_DIRECTOR__TOKEN", TOKEN)  # the embedded simulator uses it
    nb = execute(
        "explore.ipynb",
        tmp_path,
        tenant="core",
        workbook=str(SAMPLES / "core_config_light.xlsx"),
        tenants_file=str(SAMPLES / "tenants.yml"),
        resources=["repos", "routing_policies"],
        simulator=True,
    )
    by_id = {c.id: c for c in nb.cells}
    mapped = json.dumps(by_id["mapped"].outputs)
    assert "repos (" in mapped and "routing_policies (" in mapped
    review = by_id["review"].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in review)
    assert "in-process simulator" in outputs_text(nb)
    assert_no_token(tmp_path)


def test_open_run_logs_the_run_to_actions_log_until_closed(samples, monkeypatch, tmp_path):
    import logging

    from directorsync.notebook import tenant_run as nb

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DSYNC_DIRECTOR__TOKEN", TOKEN)
    monkeypatch.setenv("DSYNC_LOGGING__LEVEL", "DEBUG")
    run = nb.open_run(
        tenant="esait",
        workbook=str(SAMPLES / "esait_config.xlsx"),
        tenants_file=str(SAMPLES / "tenants.yml"),
        resources="repos",
        simulator=True,
        output_dir=str(tmp_path / "out"),
    )
    with run:
        run.write_reports(run.apply(run.plan()), None)
    log = (tmp_path / "out" / "actions.log").read_text()
    assert f"run_id={run.run_id}" in log and "applying" in log and "POST" in log
    assert not logging.getLogger("directorsync").handlers, "closed with the run"
    assert (tmp_path / "logs" / "directorsync.log").is_file()  # the settings' app log
    assert_no_token(tmp_path)


def test_nbval_runs_both_notebooks(director, tmp_path):
    """Run nbval (lax: outputs are stripped, so no cell output is compared) in a subprocess.

    ``-o addopts=`` keeps the suite's own options (xdist …) out of this small run. nbval runs
    each kernel in the notebook's folder: the app log goes to ``tmp_path``, not the checkout.
    """
    env = {
        **os.environ,
        "LP_TENANTS_FILE": str(SAMPLES / "tenants.yml"),
        "DSYNC_INPUTS__WORKBOOKS__CORE": str(SAMPLES / "core_config_light.xlsx"),
        "DSYNC_APP__REPORTS_DIR": str(tmp_path / "reports"),
        "DSYNC_LOGGING__APP_LOG": str(tmp_path / "logs" / "directorsync.log"),
    }
    cmd = [
        sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
        "--nbval-cell-timeout=120", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
        *map(str, NOTEBOOKS),
    ]  # fmt: skip
    done = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    assert list((tmp_path / "reports").rglob("result.json"))  # tenant_sync wrote its reports
    assert_no_token(tmp_path)


# --- docs that cannot drift --------------------------------------------------------------------


def test_docs_list_every_notebook_parameter_and_run_option():
    from directorsync.notebook.batch import run_command

    doc = (ROOT / "docs" / "notebooks.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        for name in papermill.inspect_notebook(str(path)):
            assert f"| `{name}` |" in doc, (path.name, name)
    for param in run_command.params:
        assert f"`{param.opts[0]}" in doc, param.opts[0]
    assert (ROOT / "docs" / "img" / "review.png").is_file()

"""Audit files show data as Director received it.

Only secret fields (by key) and configured secret values are masked, never text that merely
contains ``password:``. Issue 18, item 8.
"""

import json

from conftest import TOKEN

from directorsync.director.client import DirectorClient
from directorsync.logs import setup_logging
from directorsync.redact import MASK, RedactingFilter
from directorsync.report.console import write_result_json
from directorsync.report.customer import write_html

ITEMS = ["net user admin password: Winter2024 /add", "curl -H secret=abc123xyz http://x"]


def data_row() -> dict:
    return {
        "resource": "user_defined_lists",
        "node_id": "N1",
        "node_name": "lp-01",
        "key": "Suspicious command lines",
        "action": "create",
        "status": "CREATED",
        "reason": None,
        "error": None,
        "payload": {"name": "Suspicious command lines", "lists": ITEMS, "password": "s3cr3t-pw"},
        "changes": [{"field": "lists", "before": [], "after": ITEMS}],
        "attempts": 1,
    }


def result() -> dict:
    return {
        "schema": "directorsync/result@1",
        "run_id": "run-1",
        "tenant": "core",
        "dry_run": False,
        "findings": [],
        "rows": [data_row()],
    }


def test_result_json_keeps_list_items_and_masks_secret_fields(tmp_path):
    path = write_result_json(result(), tmp_path / "result.json")
    row = json.loads(path.read_text())["rows"][0]
    assert row["payload"]["lists"] == ITEMS
    assert row["changes"][0]["after"] == ITEMS
    assert row["payload"]["password"] == MASK


def test_report_html_shows_list_items_as_sent(tmp_path):
    html = write_html(result(), tmp_path / "report.html").read_text()
    assert "password: Winter2024" in html
    assert "s3cr3t-pw" not in html


def test_actions_log_shows_the_body_as_sent(tmp_path, tenants_file):
    from directorsync.simulator import Simulator

    log = tmp_path / "actions.log"
    run = setup_logging(run_id="run-1", console_level=None, action_log=log, secrets=[TOKEN])
    try:
        with Simulator(seed=tenants_file, token=TOKEN) as sim:
            head = sim.tenants["core"].search_heads[0]
            client = DirectorClient(sim.base_url, TOKEN)
            body = {"s_name": "CMDS", "lists": ITEMS, "password": "s3cr3t-pw"}
            client.write("POST", head.pool, head.id, "Lists/static", body)
            client.close()
    finally:
        run.close()
    text = log.read_text()
    assert "password: Winter2024" in text and "secret=abc123xyz" in text
    assert "s3cr3t-pw" not in text and TOKEN not in text


def test_log_lines_that_are_not_data_are_still_masked():
    import logging

    record = logging.LogRecord("x", logging.INFO, "f", 1, "login password: %s", ("hunter22",), None)
    RedactingFilter().filter(record)
    assert "hunter22" not in record.getMessage()

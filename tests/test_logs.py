"""Tests for directorsync.logs."""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from logging.handlers import TimedRotatingFileHandler

import pytest

from directorsync import redact
from directorsync.logs import (
    ContextFilter,
    UTCFormatter,
    current_context,
    log_context,
    setup_logging,
)

TOKEN = "run-token-0123456789abcdef"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


@pytest.fixture
def run(tmp_path):
    """Run logging with all three handlers; closed afterwards."""
    redact.clear_secrets()
    runs = []

    def start(**kw):
        kw.setdefault("run_id", "20261121-abc")
        kw.setdefault("action_log", tmp_path / "reports" / "core" / "r1" / "actions.log")
        kw.setdefault("log_dir", tmp_path / "logs")
        kw.setdefault("secrets", [TOKEN])
        runs.append(setup_logging(**kw))
        return runs[-1]

    yield start
    for r in runs:
        r.close()
    redact.clear_secrets()


def _ours(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers if getattr(h, "_directorsync_run_handler", False)]


def test_three_handlers_with_levels_and_paths(run, tmp_path):
    r = run()
    levels = sorted((type(h).__name__, h.level) for h in r.handlers)
    assert levels == [
        ("FileHandler", logging.DEBUG),
        ("StreamHandler", logging.INFO),
        ("TimedRotatingFileHandler", logging.DEBUG),
    ]
    rotating = next(h for h in r.handlers if isinstance(h, TimedRotatingFileHandler))
    assert (rotating.when, rotating.backupCount, rotating.utc) == ("MIDNIGHT", 14, True)
    assert r.app_log == tmp_path / "logs" / "directorsync.log"
    assert r.action_log.parent.is_dir()


def test_console_info_files_debug(run, capsys):
    r = run()
    log = logging.getLogger("directorsync.apply")
    log.debug("debug detail")
    log.info("info line")
    err = capsys.readouterr().err
    assert "info line" in err and "debug detail" not in err
    r.close()
    action = r.action_log.read_text()
    app = r.app_log.read_text()
    assert "debug detail" in action and "info line" in action
    assert "debug detail" in app


def test_lines_have_utc_timestamp_and_context(run):
    r = run()
    log = logging.getLogger("directorsync.apply")
    with log_context(tenant="core", pool="a9fa", resource="Repos"):
        with log_context(node="lb-backend01"):
            log.info("created r1")
        log.info("outer")
    log.info("no context")
    r.close()
    lines = r.action_log.read_text().splitlines()
    assert all(STAMP.match(line) for line in lines)
    assert (
        "[run_id=20261121-abc tenant=core pool=a9fa resource=Repos node=lb-backend01] created r1"
        in lines[0]
    )
    assert "node=" not in lines[1] and "resource=Repos" in lines[1]
    assert "[run_id=20261121-abc] no context" in lines[2]


def test_utc_formatter_format():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.created = 1795305599.123456  # 2026-11-21T23:59:59.123Z
    assert UTCFormatter().formatTime(record) == "2026-11-21T23:59:59.123Z"


def test_context_fields_on_record_and_extra_wins():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.node = "from-extra"
    with log_context(tenant="t1", node="n1", profile="p"):
        ContextFilter("run9").filter(record)
    assert (record.run_id, record.tenant, record.node, record.pool) == (
        "run9",
        "t1",
        "from-extra",
        "",
    )
    assert record.context == "run_id=run9 tenant=t1 node=from-extra profile=p"


def test_context_is_per_thread():
    seen = {}
    barrier = threading.Barrier(2)

    def worker(node):
        with log_context(node=node):
            barrier.wait()
            seen[node] = current_context()["node"]

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": "a", "b": "b"}
    assert current_context() == {}


def test_context_can_be_carried_into_an_executor():
    with log_context(tenant="core"), ThreadPoolExecutor(2) as pool:
        ctx = contextvars.copy_context()
        assert pool.submit(ctx.run, current_context).result() == {"tenant": "core"}


def test_secrets_are_redacted_in_every_handler(run, capsys):
    r = run()
    log = logging.getLogger("directorsync.director.client")
    log.info("token is %s", TOKEN)
    log.debug("Authorization: Bearer %s", "abc.def.ghi")
    try:
        raise RuntimeError(f"failed with {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    err = capsys.readouterr().err
    r.close()
    for text in (err, r.action_log.read_text(), r.app_log.read_text()):
        assert TOKEN not in text
        assert "abc.def.ghi" not in text
        assert "***REDACTED***" in text
        assert "RuntimeError" in text


def test_setup_twice_does_not_duplicate_handlers(run, capsys):
    run()
    r = run(run_id="second")
    logger = logging.getLogger("directorsync")
    assert len(_ours(logger)) == 3
    logging.getLogger("directorsync.x").info("once")
    assert capsys.readouterr().err.count("once") == 1
    r.close()
    assert _ours(logger) == []


def test_close_restores_level_and_is_idempotent(run):
    logger = logging.getLogger("directorsync")
    before = logger.level
    r = run()
    assert logger.level == logging.DEBUG
    r.close()
    r.close()
    assert logger.level == before


def test_optional_handlers(run, tmp_path):
    r = run(console_level=None, action_log=None, log_dir=None, app_log=tmp_path / "app.log")
    assert [type(h).__name__ for h in r.handlers] == ["TimedRotatingFileHandler"]
    with run(console_level="warning", action_log=None, log_dir=None) as r2:
        assert [h.level for h in r2.handlers] == [logging.WARNING]

"""Shared fixtures and helpers: clean environment, sample workbooks, the simulator, the CLI.

The simulator: :func:`start_simulator` is the one factory (``start_simulator(seed=None,
**knobs)`` starts a fresh simulator, stopped after the test); ``simulator`` is its common
shape (the samples' tenants, token ``TOKEN``, default knobs) and ``simulator_env`` the
environment of a ``directorsync`` subprocess pointed at it. :func:`new_simulator` builds one
with the same defaults for fixtures of a wider scope. ``tests/simulator`` has its own fixtures.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from directorsync.simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"
DATA = Path(__file__).resolve().parent / "data"
TOKEN = "tok-3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60"
WRITES = ("POST", "PUT", "DELETE")


def core_args(tenants_file: Path, xlsx: Path, resources: str | None = None) -> list[str]:
    """The command-line arguments of a ``plan``/``apply`` of tenant core.

    ``--tenant core --tenants-file … --xlsx …`` and, when given, ``--resources``.
    """
    args = ["--tenant", "core", "--tenants-file", str(tenants_file), "--xlsx", str(xlsx)]
    return [*args, "--resources", resources] if resources else args


def _checkout_status() -> set[str] | None:
    """``git status`` of the checkout, ignored files included; None outside a git checkout.

    Tools' caches are left aside (bytecode, ``.mypy_cache/``, ``.ruff_cache/`` …).
    """
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--ignored"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    except OSError:
        return None
    if done.returncode != 0:
        return None
    return {
        line
        for line in done.stdout.splitlines()
        if "__pycache__" not in line and not re.search(r"(^|/)\.[\w-]*cache/", line[3:])
    }


CHECKOUT = pytest.StashKey[set[str] | None]()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        session.config.stash[CHECKOUT] = _checkout_status()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Tests write nothing into the checkout: a file that appeared during the run fails it."""
    before = session.config.stash.get(CHECKOUT, None)
    after = _checkout_status() if before is not None else None
    if before is None or after is None or after <= before:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "tests wrote into the checkout (use tmp_path)", red=True)
        for line in sorted(after - before):
            reporter.write_line(f"  {line}", red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path_factory):
    """No test reads the developer's settings or writes to the home folder."""
    for name in list(os.environ):
        if name.startswith(("DSYNC_", "LP_")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        monkeypatch.setenv(var, str(home / var.lower()))
    monkeypatch.setenv("HOME", str(home))


def need_samples() -> Path:
    """The shared sample workbooks (``../shared/samples``), or skip the test."""
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not beside the project")
    return SAMPLES


@pytest.fixture
def samples() -> Path:
    return need_samples()


@pytest.fixture
def tenants_file(samples) -> Path:
    return samples / "tenants.yml"


class FakeDirector:
    """An in-memory lister (``list``/``fetch``) for unit tests of planning."""

    def __init__(self, listings: dict[str, list[dict]] | None = None):
        self.listings = copy.deepcopy(listings or {})
        self.calls: list[tuple[str, str]] = []

    def list_objects(self, pool, node, path):
        self.calls.append((node, path))
        return copy.deepcopy(self.listings.get(path, []))

    def fetch(self, pool, node, path, data=None):
        self.calls.append((node, path))
        return copy.deepcopy(self.listings.get(path, []))


@pytest.fixture
def fake_director():
    return FakeDirector


# --- the simulator ------------------------------------------------------------------------------


def new_simulator(seed: Any = None, *, token: str = TOKEN, **knobs: Any) -> Simulator:
    """A simulator, not started, with token ``TOKEN`` and ``knobs``.

    Seeded with the samples' tenants file unless ``seed`` is given (a tenants file, a dict, or
    an int for the demo topology).
    """
    if seed is None:
        seed = need_samples() / "tenants.yml"
    return Simulator(seed=seed, token=token, **knobs)


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., Simulator]]:
    """Factory: ``start_simulator(seed=None, **knobs)`` starts a fresh simulator.

    See :func:`new_simulator`; every simulator started is stopped after the test.
    """
    started: list[Simulator] = []

    def start(seed: Any = None, **knobs: Any) -> Simulator:
        sim = new_simulator(seed, **knobs).start()
        started.append(sim)
        return sim

    yield start
    for sim in reversed(started):
        sim.stop()


@pytest.fixture
def simulator(start_simulator) -> Simulator:
    """A fresh simulator: the samples' tenants, token ``TOKEN``, default knobs."""
    return start_simulator()


def writes(sim: Simulator) -> list[dict]:
    """The requests ``sim`` received that change Director (fetch actions only read)."""
    return [
        r
        for r in sim.requests()
        if r["method"] in WRITES and "/configapi/" in r["path"] and not r["path"].endswith("/fetch")
    ]


def session_for(sim: Simulator, tenants_file: Path, tmp_path: Path, **overrides: Any):
    """A library session on ``sim`` (its URL and ``TOKEN``), reports in ``tmp_path/reports``.

    ``overrides`` are more settings (``**{"director.retries": 6}``).
    """
    from directorsync.config import load_settings
    from directorsync.session import Session

    settings = load_settings(
        env={},
        overrides={
            "director.base_url": sim.base_url,
            "director.token": TOKEN,
            "app.reports_dir": str(tmp_path / "reports"),
            **overrides,
        },
    )
    return Session.open(settings=settings, tenants_file=tenants_file)


# --- the command line ---------------------------------------------------------------------------


def use_simulator(monkeypatch, sim, tmp_path, token_variable="DSYNC_DIRECTOR__TOKEN"):
    """The in-process CLI's environment for ``sim``.

    Its URL and token; reports and logs in ``tmp_path``.
    """
    monkeypatch.setenv("DSYNC_DIRECTOR__BASE_URL", sim.base_url)
    monkeypatch.setenv(token_variable, TOKEN)
    monkeypatch.setenv("DSYNC_APP__REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("DSYNC_LOGGING__APP_LOG", str(tmp_path / "logs" / "app.log"))


def cli_env(
    sim: Simulator | None = None, tmp_path: Path | None = None, extra: dict | None = None
) -> dict[str, str]:
    """The environment of a ``directorsync`` subprocess.

    This one without ``DSYNC_``/``LP_`` settings; with ``sim``, its URL and ``TOKEN``; with
    ``tmp_path``, reports and the app log there; then ``extra``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSYNC_", "LP_"))}
    if sim is not None:
        env.update(DSYNC_DIRECTOR__BASE_URL=sim.base_url, DSYNC_DIRECTOR__TOKEN=TOKEN)
    if tmp_path is not None:
        env.update(
            DSYNC_APP__REPORTS_DIR=str(tmp_path / "reports"),
            DSYNC_LOGGING__APP_LOG=str(tmp_path / "logs" / "app.log"),
        )
    return {**env, **(extra or {})}


@pytest.fixture
def simulator_env(simulator, tmp_path) -> dict[str, str]:
    """:func:`cli_env` for the ``simulator`` fixture, reports and logs in ``tmp_path``."""
    return cli_env(simulator, tmp_path)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """``python -m directorsync *args`` in a subprocess (``env`` defaults to :func:`cli_env`)."""
    return subprocess.run(
        [sys.executable, "-m", "directorsync", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=cli_env() if env is None else env,
        cwd=cwd,
        check=False,
    )


@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL database for this test session (skipped when no server answers).

    The server is the local one over its unix socket (``.ci/run`` installs and starts it), or
    ``DSYNC_TEST_POSTGRES`` (a URL of a database the tests may create databases from).
    """
    import secrets

    sqlalchemy = pytest.importorskip("sqlalchemy")
    pytest.importorskip("psycopg")
    base = os.environ.get(
        "DSYNC_TEST_POSTGRES", "postgresql+psycopg:///postgres?host=/var/run/postgresql"
    )
    admin = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"dsync_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sqlalchemy.exc.SQLAlchemyError as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL server reachable at {base}: {str(exc).splitlines()[0]}")
    url = sqlalchemy.engine.make_url(base).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


def reset_ledger(url: str) -> str:
    """Drop every ledger table of the database at ``url`` (a test starts from an empty ledger)."""
    from sqlalchemy import create_engine

    from directorsync.ledger import tables

    engine = create_engine(url)
    tables.metadata.drop_all(engine)
    engine.dispose()
    return url

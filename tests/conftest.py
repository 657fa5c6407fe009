"""Shared fixtures: clean environment, sample workbooks, a fake Director lister."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"
TOKEN = "tok-3f1c9a7e5b2d4c6e8f0a1b2c3d4e5f60"


def core_args(tenants_file: Path, xlsx: Path, resources: str | None = None) -> list[str]:
    """The command-line arguments of a ``plan``/``apply`` of tenant core: ``--tenant core
    --tenants-file … --xlsx …`` and, when given, ``--resources``."""
    args = ["--tenant", "core", "--tenants-file", str(tenants_file), "--xlsx", str(xlsx)]
    return [*args, "--resources", resources] if resources else args


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


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/samples is not beside the project")
    return SAMPLES


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

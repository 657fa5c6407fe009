"""Fixtures for the simulator tests: one running simulator per worker, reset before each test.

Named scenarios: ``sim`` (the shared simulator, seeded state, default knobs), ``make_sim``
(a fresh simulator with knobs of your choice), and ``Api`` clients bound to one node:
``be`` / ``be2`` (backends of tenant ``acme``), ``sh`` (its search head), ``aio`` (the
all-in-one node of tenant ``solo``). ``tests/simulator`` is a package so that this conftest
does not take the ``conftest`` module name that other tests import from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from directorsync.simulator import Knobs, Simulator

from .support import TENANTS, TOKEN, Api


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warnings are errors in the simulator tests."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.filterwarnings("error"))


@pytest.fixture(scope="session")
def shared_sim() -> Iterator[Simulator]:
    with Simulator(seed=TENANTS, token=TOKEN) as sim:
        yield sim


@pytest.fixture
def sim(shared_sim: Simulator) -> Simulator:
    """The shared simulator, back to its seeded state and default knobs."""
    shared_sim.reset()
    shared_sim.configure(**Knobs().as_dict())
    return shared_sim


@pytest.fixture
def make_sim() -> Iterator[Any]:
    """Factory: ``make_sim(**knobs)`` starts a fresh simulator (stopped after the test)."""
    started: list[Simulator] = []

    def make(seed: Any = TENANTS, **kwargs: Any) -> Simulator:
        kwargs.setdefault("token", TOKEN)
        sim = Simulator(seed=seed, **kwargs).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


def _api(sim: Simulator, node: str) -> Iterator[Api]:
    api = Api(sim, node)
    yield api
    api.close()


@pytest.fixture
def be(sim: Simulator) -> Iterator[Api]:
    yield from _api(sim, "acme-be1")


@pytest.fixture
def be2(sim: Simulator) -> Iterator[Api]:
    yield from _api(sim, "acme-be2")


@pytest.fixture
def sh(sim: Simulator) -> Iterator[Api]:
    yield from _api(sim, "acme-sh")


@pytest.fixture
def aio(sim: Simulator) -> Iterator[Api]:
    yield from _api(sim, "solo-aio")

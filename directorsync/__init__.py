"""DirectorSync: keep Logpoint Director in line with tenant workbooks.

The package reads like the pipeline (``docs/architecture.md`` draws it, one line per module):
workbook → mapping/transforms → prechecks → resolve → inventory → diff → payload → planner/plan →
apply, with ``director/`` (HTTP client, orders), ``report/``, ``notebook/``, ``cli/``, ``hooks/``,
``profile/``, ``ledger/``, ``simulator/`` and ``synth/`` beside it.

This module is the library API that notebooks and scripts use; everything else is internal::

    import directorsync as ds

    with ds.Session.open(tenants_file="tenants.yml") as session:
        plan = session.plan("core", "core_config.xlsx")
        result = session.apply(plan)

The names load on first use (``import directorsync`` stays cheap, so the command line starts
fast); :data:`__all__` lists them and ``tests/test_layout.py`` checks each one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from directorsync.vocabulary import VERSION

if TYPE_CHECKING:  # the same names, for type checkers and readers
    from directorsync.config import Settings, load_settings
    from directorsync.errors import (
        ConfigError,
        DirectorError,
        DirectorSyncError,
        PlanError,
        ProfileError,
        WorkbookError,
    )
    from directorsync.ledger.views import run_history, run_rows
    from directorsync.notebook.tenant_run import NotebookRun, open_run
    from directorsync.plan import Plan, load_plan, read_plan
    from directorsync.session import Session
    from directorsync.simulator.embedded import Simulator

__version__ = VERSION

#: public name → the module that defines it
API: dict[str, str] = {
    "ConfigError": "directorsync.errors",
    "DirectorError": "directorsync.errors",
    "DirectorSyncError": "directorsync.errors",
    "NotebookRun": "directorsync.notebook.tenant_run",
    "Plan": "directorsync.plan",
    "PlanError": "directorsync.errors",
    "ProfileError": "directorsync.errors",
    "Session": "directorsync.session",
    "Settings": "directorsync.config",
    "Simulator": "directorsync.simulator.embedded",
    "WorkbookError": "directorsync.errors",
    "load_plan": "directorsync.plan",
    "load_settings": "directorsync.config",
    "open_run": "directorsync.notebook.tenant_run",
    "read_plan": "directorsync.plan",
    "run_history": "directorsync.ledger.views",
    "run_rows": "directorsync.ledger.views",
}

__all__ = [
    "__version__",
    "ConfigError",
    "DirectorError",
    "DirectorSyncError",
    "NotebookRun",
    "Plan",
    "PlanError",
    "ProfileError",
    "Session",
    "Settings",
    "Simulator",
    "WorkbookError",
    "load_plan",
    "load_settings",
    "open_run",
    "read_plan",
    "run_history",
    "run_rows",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    module = API.get(name)
    if module is None:
        raise AttributeError(f"module 'directorsync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *API})

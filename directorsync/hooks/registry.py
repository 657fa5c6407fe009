"""Named hooks: pure functions for what a declarative profile cannot say.

A profile names hooks under ``hooks:``; each hook is a pure function over DataFrames:

- ``build``: ``fn(sheets: dict[str, DataFrame], profile, ctx) -> DataFrame`` builds the mapped
  frame from several sheets (instead of ``xlsx.mapping`` alone);
- ``inventory``: ``fn(frame, profile, ctx) -> DataFrame`` reshapes a remote listing;
- ``desired``: ``fn(frame, profile, ctx) -> DataFrame`` adjusts the desired frame per node after
  name resolution (cross-row rules).

Each hook lives in the module of its resource (``hooks/<resource>.py``) as a plain function;
:data:`HOOKS` below names them all, so that reading this module shows every built-in hook.
``get`` errors list the known names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from directorsync.errors import ProfileError
from directorsync.hooks import alert_rules, enrichment_policies, syslog_collectors
from directorsync.hooks import user_defined_lists as lists

HOOK_KINDS = ("build", "inventory", "desired")


class HookRegistry:
    """Hooks by name."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, Callable[..., Any]]] = {}

    def add(self, name: str, kind: str, fn: Callable[..., Any]) -> None:
        """Name ``fn`` as hook ``name`` of ``kind``."""
        if kind not in HOOK_KINDS:
            raise ValueError(f"hook kind must be one of {HOOK_KINDS}")
        self._items[name] = (kind, fn)

    def get(self, name: str, kind: str) -> Callable[..., Any]:
        """The hook ``name``, which must be of ``kind``."""
        try:
            found_kind, fn = self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ProfileError(f"unknown hook '{name}' (known: {known})") from None
        if found_kind != kind:
            raise ProfileError(f"hook '{name}' is a '{found_kind}' hook, not a '{kind}' hook")
        return fn

    def names(self) -> list[str]:
        """Every hook name, sorted."""
        return sorted(self._items)


HOOKS = HookRegistry()
HOOKS.add("enrichment_build", "build", enrichment_policies.enrichment_build)
HOOKS.add("syslog_from_devices", "inventory", syslog_collectors.syslog_from_devices)
HOOKS.add("syslog_proxies", "desired", syslog_collectors.syslog_proxies)
HOOKS.add("alert_rules_build", "build", alert_rules.alert_rules_build)
HOOKS.add("lists_build", "build", lists.lists_build)
HOOKS.add("lists_inventory", "inventory", lists.lists_inventory)

"""Named hooks: pure functions for what a declarative profile cannot say.

A profile names hooks under ``hooks:``; each hook is a pure function over DataFrames:

- ``build``: ``fn(sheets: dict[str, DataFrame], profile, ctx) -> DataFrame`` builds the mapped
  frame from several sheets (instead of ``xlsx.mapping`` alone);
- ``inventory``: ``fn(frame, profile, ctx) -> DataFrame`` reshapes a remote listing;
- ``desired``: ``fn(frame, profile, ctx) -> DataFrame`` adjusts the desired frame per node after
  name resolution (cross-row rules).

Hook modules register themselves with :data:`HOOKS`; ``get`` errors list the known names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from directorsync.errors import ProfileError

HOOK_KINDS = ("build", "inventory", "desired")


class HookRegistry:
    """Hooks by name."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, Callable[..., Any]]] = {}

    def register(self, name: str, kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator registering ``fn`` as hook ``name`` of ``kind``."""
        if kind not in HOOK_KINDS:
            raise ValueError(f"hook kind must be one of {HOOK_KINDS}")

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._items[name] = (kind, fn)
            return fn

        return deco

    def get(self, name: str, kind: str) -> Callable[..., Any]:
        _load_builtin_hooks()
        try:
            found_kind, fn = self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise ProfileError(f"unknown hook '{name}' (known: {known})") from None
        if found_kind != kind:
            raise ProfileError(f"hook '{name}' is a '{found_kind}' hook, not a '{kind}' hook")
        return fn

    def names(self) -> list[str]:
        _load_builtin_hooks()
        return sorted(self._items)


HOOKS = HookRegistry()


def _load_builtin_hooks() -> None:
    """Import the modules that register the built-in hooks (once)."""
    import importlib

    for module in ("directorsync.resource_hooks", "directorsync.importer_hooks"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # pragma: no cover - only while bootstrapping
            if exc.name != module:
                raise

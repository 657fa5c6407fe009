"""Named hooks: pure functions for what a declarative profile cannot say.

A profile names hooks under ``hooks:`` (one registered name per point); each hook is a pure
function:

- ``build``: ``fn(sheets: dict[str, DataFrame], profile, ctx) -> DataFrame`` builds the mapped
  frame from several sheets (instead of ``xlsx.mapping`` alone);
- ``inventory``: ``fn(frame, profile, ctx) -> DataFrame`` reshapes a remote listing;
- ``desired``: ``fn(frame, profile, ctx) -> DataFrame`` adjusts the desired frame per node after
  name resolution (cross-row rules);
- ``preprocess_row`` (spec §10): ``fn(mapped: dict) -> dict`` adjusts one mapped row after the
  mapping, before the prechecks; frame form ``fn(frame, profile, ctx) -> DataFrame``;
- ``post_payload``: ``fn(payload: dict, mapped: dict) -> dict`` adjusts one rendered body; frame
  form ``fn(frame, profile, ctx) -> DataFrame`` (the frame has ``payload``/``method``/``path``);
- ``pre_apply``: ``fn(ctx: dict, payload: dict) -> dict``, the last gate before a write is sent
  (``ctx``: ``resource``, ``node``, ``row``);
- ``post_apply``: ``fn(ctx: dict, result: dict) -> dict`` annotates one write's result;
- ``export``: ``fn(rows, profile, ctx) -> {sheet: DataFrame}`` writes the sheets of Director's
  objects (one listing row each) when the mapping cannot be read backwards (``directorsync
  export``).

A hook registered with ``frame=True`` gets the whole frame (vectorised) instead of one row.
Each hook lives in the module of its resource (``hooks/<resource>.py``) as a plain function;
:data:`HOOKS` below names them all, so that reading this module shows every built-in hook.
``get`` errors list the known names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from directorsync.errors import ProfileError
from directorsync.hooks import alert_rules, enrichment_policies, syslog_collectors
from directorsync.hooks import user_defined_lists as lists
from directorsync.profile.model import Profile
from directorsync.profile.schema import HOOK_POINTS

HOOK_KINDS = HOOK_POINTS
#: Points where a hook may take the whole frame (``frame=True``) instead of one row.
FRAME_POINTS = ("preprocess_row", "post_payload")


class HookRegistry:
    """Hooks by name."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, Callable[..., Any]]] = {}
        self._frame: set[str] = set()

    def add(self, name: str, kind: str, fn: Callable[..., Any], frame: bool = False) -> None:
        """Name ``fn`` as hook ``name`` of ``kind`` (``frame``: it takes the whole frame)."""
        if kind not in HOOK_KINDS:
            raise ValueError(f"hook kind must be one of {HOOK_KINDS}")
        if frame and kind not in FRAME_POINTS:
            raise ValueError(f"only {', '.join(FRAME_POINTS)} hooks take a frame")
        self._items[name] = (kind, fn)
        (self._frame.add if frame else self._frame.discard)(name)

    def remove(self, name: str) -> None:
        """Forget hook ``name`` (tests that add their own)."""
        self._items.pop(name, None)
        self._frame.discard(name)

    def takes_frame(self, name: str) -> bool:
        """Whether hook ``name`` was registered with ``frame=True``."""
        return name in self._frame

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
HOOKS.add("enrichment_export", "export", enrichment_policies.enrichment_export)
HOOKS.add("syslog_from_devices", "inventory", syslog_collectors.syslog_from_devices)
HOOKS.add("syslog_proxies", "desired", syslog_collectors.syslog_proxies)
HOOKS.add("alert_rules_build", "build", alert_rules.alert_rules_build)
HOOKS.add("lists_build", "build", lists.lists_build)
HOOKS.add("lists_inventory", "inventory", lists.lists_inventory)


def preprocess_rows(frame: pd.DataFrame, profile: Profile, ctx: Any) -> pd.DataFrame:
    """The profile's ``preprocess_row`` hook over a mapped frame (unchanged without one)."""
    name = profile.hooks.get("preprocess_row")
    if not name:
        return frame
    fn = HOOKS.get(name, "preprocess_row")
    if HOOKS.takes_frame(name):
        return fn(frame, profile, ctx)
    rows = [fn(dict(r)) for r in frame.to_dict("records")]
    return pd.DataFrame(rows, index=frame.index, dtype=object)


def post_payloads(frame: pd.DataFrame, profile: Profile, ctx: Any) -> pd.DataFrame:
    """The profile's ``post_payload`` hook over the rows that carry a payload."""
    name = profile.hooks.get("post_payload")
    if not name:
        return frame
    fn = HOOKS.get(name, "post_payload")
    if HOOKS.takes_frame(name):
        return fn(frame, profile, ctx)
    out = frame.copy(deep=False)
    payloads = out["payload"].to_numpy(dtype=object).copy()
    for i, record in enumerate(out.to_dict("records")):
        if isinstance(payloads[i], dict):
            payloads[i] = fn(dict(payloads[i]), record)
    out["payload"] = pd.Series(payloads, index=out.index, dtype=object)
    return out


def apply_hook(profile: Profile, point: str, ctx: dict[str, Any], value: Any) -> Any:
    """The profile's ``pre_apply``/``post_apply`` hook on one write (``value`` without one)."""
    name = profile.hooks.get(point)
    return HOOKS.get(name, point)(ctx, value) if name else value

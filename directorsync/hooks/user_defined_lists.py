"""Hooks of the user defined list profile.

- ``lists_build`` (build) and ``lists_inventory`` (inventory): static and dynamic lists share a
  sheet and an endpoint family; the fields of one kind are blanked for the other, the dynamic
  ``age_limit`` (seconds) is split into days/hours/minutes, and the runtime content of a dynamic
  list on Director is not compared.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from directorsync.mapping import map_sheet
from directorsync.transforms import Context

#: The build hook reads no column besides the profile's mapping (template drift check).
COLUMNS_READ: dict[str, tuple[str, ...]] = {}
LIST_KINDS = {"static_list": "static", "dynamic_list": "dynamic"}


def lists_build(sheets: Any, profile: Any, ctx: Context) -> pd.DataFrame:
    """The UserDefinedList sheet mapped as declared, then the fields of each list kind.

    Static lists send ``s_name`` and ``lists``; dynamic lists send ``d_name`` and their
    ``age_limit`` (seconds) as ``agelimit_day/hour/minute`` (leftover seconds are dropped, and the
    compared ``age_limit`` is rounded down to whole minutes the same way, so it converges).
    """
    frame = map_sheet(sheets[profile.sheet], profile, ctx, ctx.workbook_name)
    static = frame["list_type"].eq("static_list")
    dynamic = frame["list_type"].eq("dynamic_list")
    out = frame.assign(
        list_kind=frame["list_type"].map(LIST_KINDS),
        s_name=frame["name"].where(static, None),
        d_name=frame["name"].where(dynamic, None),
    )
    out["lists"] = out["lists"].where(static, pd.Series([[]] * len(out), index=out.index))
    seconds = [v if isinstance(v, int) and d else None for v, d in zip(out["age_limit"], dynamic)]
    minutes = [None if s is None else s // 60 for s in seconds]
    parts = {
        "agelimit_day": [None if m is None else m // 1440 for m in minutes],
        "agelimit_hour": [None if m is None else m % 1440 // 60 for m in minutes],
        "agelimit_minute": [None if m is None else m % 60 for m in minutes],
    }
    for field, values in parts.items():
        out[field] = pd.Series(values, index=out.index, dtype=object)
    rounded = pd.Series([None if m is None else m * 60 for m in minutes], index=out.index)
    has_age = rounded.notna()
    out.loc[has_age, "age_limit"] = rounded[has_age].astype(object)
    out.loc[static, "age_limit"] = 0
    return out


def lists_inventory(frame: pd.DataFrame, profile: Any, ctx: dict[str, Any]) -> pd.DataFrame:
    """Dynamic lists are filled by Director at run time: their ``lists`` is not ours to compare."""
    if frame.empty or "list_type" not in frame or "lists" not in frame:
        return frame
    out = frame.copy()
    dynamic = out["list_type"].eq("dynamic_list")
    out.loc[dynamic, "lists"] = pd.Series([[]] * int(dynamic.sum()), index=out.index[dynamic])
    return out

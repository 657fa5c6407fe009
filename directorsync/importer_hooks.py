"""Hooks of the syslog collector, alert rule and user list profiles.

What a column mapping cannot say, each as a pure function over DataFrames registered in
:data:`directorsync.hooks.HOOKS` (the profiles say why they need it):

- ``syslog_from_devices`` (inventory): collectors have no List endpoint; they live in
  ``GET Devices`` ``col_apps[]``. One row per SyslogCollector, keyed by device name, id = uuid.
- ``syslog_proxies`` (desired): a cross-row rule — every ``proxy_ip`` of a ``uses_proxy``
  collector must be an IP of a device that has (on Director) or gets (in this plan) a
  ``use_as_proxy`` collector; and an empty ``proxy_condition`` is a data problem (the sheet's
  ``None`` is a value meaning "no proxy", not an empty cell).
- ``alert_rules_build`` (build): the Alert sheet mapped as declared, then ``repos`` expanded per
  storage node of the tenant (needs the tenant topology and the Repo sheet).
- ``lists_build`` (build) and ``lists_inventory`` (inventory): static and dynamic lists share a
  sheet and an endpoint family; the fields of one kind are blanked for the other, the dynamic
  ``age_limit`` (seconds) is split into days/hours/minutes, and the runtime content of a dynamic
  list on Director is not compared.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from directorsync.hooks import HOOKS
from directorsync.inventory import NODE
from directorsync.mapping import map_sheet
from directorsync.prechecks import REASON, STATUS
from directorsync.transforms import Context, Invalid, is_empty

SYSLOG = "SyslogCollector"
SYSLOG_COLUMNS = [
    "device_name",
    "device_id",
    "device_ip",
    "id",
    "proxy_condition",
    "parser",
    "charset",
    "processpolicy_id",
    "proxy_ip",
    "hostname",
]
DEFAULT_REPOS = ("default", "_logpoint", "_LogPointAlerts")
STORAGE_ROLES = ("backends", "all_in_one")
_TOKEN = re.compile(r"^(?P<address>[^/\s]+):(?P<port>\d+)/(?P<repo>[^/\s]+)$")


def _as_list(value: Any) -> list[str]:
    """A list of non-empty strings from a list, a comma-separated text or nothing."""
    if isinstance(value, (list, tuple)):
        items = value
    elif isinstance(value, str):
        items = value.split(",")
    else:
        items = []
    return [str(i).strip() for i in items if i is not None and str(i).strip()]


def _mark(frame: pd.DataFrame, rows: pd.Series, reasons: pd.Series | str) -> None:
    """Turn ``ok`` rows into ``skip`` with a reason (in place on a frame the hook owns)."""
    rows = rows & frame[STATUS].eq("ok")
    if not rows.any():
        return
    text = reasons if isinstance(reasons, str) else reasons.reindex(frame.index[rows])
    frame.loc[rows, STATUS] = "skip"
    frame.loc[rows, REASON] = text


def _workbook_name(ctx: Context) -> str:
    return str((ctx.options or {}).get("workbook") or "workbook")


# ---------------------------------------------------------------- syslog collectors


@HOOKS.register("syslog_from_devices", "inventory")
def syslog_from_devices(frame: pd.DataFrame, profile: Any, ctx: dict[str, Any]) -> pd.DataFrame:
    """``GET Devices`` → one row per SyslogCollector in ``col_apps`` (id = the plugin's uuid).

    ``processpolicy`` is returned as ``processpolicy_id`` (the desired side holds the policy's
    name in ``processpolicy`` and its resolved id in ``processpolicy_id``).
    """
    if frame.empty or "col_apps" not in frame:
        return pd.DataFrame(columns=SYSLOG_COLUMNS)
    devices = frame.reindex(columns=["id", "name", "ip", "col_apps"]).explode("col_apps")
    is_syslog = devices["col_apps"].map(lambda a: isinstance(a, dict) and a.get("app") == SYSLOG)
    devices = devices[is_syslog.astype(bool)]
    if devices.empty:
        return pd.DataFrame(columns=SYSLOG_COLUMNS)
    apps = pd.DataFrame(devices["col_apps"].tolist(), index=devices.index)
    apps = apps.reindex(
        columns=[
            "uuid",
            "proxy_condition",
            "parser",
            "charset",
            "processpolicy",
            "proxy_ip",
            "hostname",
        ]
    )
    out = pd.DataFrame(
        {
            "device_name": devices["name"],
            "device_id": devices["id"],
            "device_ip": devices["ip"].map(_as_list),
            "id": apps["uuid"],
            "proxy_condition": apps["proxy_condition"],
            "parser": apps["parser"],
            "charset": apps["charset"],
            "processpolicy_id": apps["processpolicy"],
            "proxy_ip": apps["proxy_ip"].map(_as_list),
            "hostname": apps["hostname"].map(_as_list),
        }
    )
    return out.reset_index(drop=True)


def _really_empty(series: pd.Series) -> pd.Series:
    """Empty cells, where the word ``None`` (a proxy condition) is a value, not emptiness."""
    text = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    return is_empty(series) & ~text.eq("None")


@HOOKS.register("syslog_proxies", "desired")
def syslog_proxies(frame: pd.DataFrame, profile: Any, ctx: dict[str, Any]) -> pd.DataFrame:
    """Skip collectors with an empty condition, or a proxy that is no proxy on the node."""
    out = frame.copy()
    _mark(
        out,
        _really_empty(out["proxy_condition"]),
        "proxy_condition is empty: set use_as_proxy, uses_proxy or None (no proxy)",
    )
    ok = out[STATUS].eq("ok")
    uses = ok & out["proxy_condition"].eq("uses_proxy")
    if not uses.any():
        return out
    known = _proxy_addresses(out[ok], profile, ctx)
    wanted = out.loc[uses, [NODE, "proxy_ip"]].explode("proxy_ip").dropna()
    merged = wanted.reset_index().merge(known, on=[NODE, "proxy_ip"], how="left")
    missing = merged[merged["_proxy"].isna()].groupby("index")["proxy_ip"].agg(list)
    if missing.empty:
        return out
    names = {n.id: n.name for n in ctx["tenant"].nodes}
    reasons = pd.Series(
        [
            f"proxy_ip {', '.join(ips)} is not the IP of a device with a use_as_proxy syslog "
            f"collector on node {names.get(node, node)} (on Director or in this plan)"
            for ips, node in zip(missing, out.loc[missing.index, NODE])
        ],
        index=missing.index,
    )
    _mark(out, out.index.isin(missing.index) & uses, reasons)
    return out


def _proxy_addresses(desired: pd.DataFrame, profile: Any, ctx: dict[str, Any]) -> pd.DataFrame:
    """``(node, proxy_ip)`` pairs of devices with a use_as_proxy collector, now or planned."""
    inventory = ctx["inventory"]
    nodes = [n for n in ctx["tenant"].nodes if n.id in set(desired[NODE])]
    remote = inventory.frames(profile.name, nodes)
    parts = []
    if "proxy_condition" in remote:
        proxies = remote[remote["proxy_condition"].eq("use_as_proxy")]
        parts.append(proxies[[NODE, "device_ip"]])
    planned = desired[desired["proxy_condition"].eq("use_as_proxy")]
    # the Device sheet's IPs; a device absent from the sheet kept its name there: not an IP
    sheet_ips = [
        [ip for ip in _as_list(ips) if ip != name]
        for ips, name in zip(planned["device_ip"], planned["device_name"])
    ]
    parts.append(pd.DataFrame({NODE: planned[NODE], "device_ip": sheet_ips}))
    if "devices" in inventory.profiles and not planned.empty:
        devices = inventory.frames("devices", nodes)
        if {"name", "ip"} <= set(devices.columns):
            ips = devices[[NODE, "name", "ip"]].rename(columns={"name": "device_name"})
            on_sheet = planned[[NODE, "device_name"]].merge(ips, on=[NODE, "device_name"])
            parts.append(on_sheet[[NODE, "ip"]].rename(columns={"ip": "device_ip"}))
    pairs = pd.concat(parts, ignore_index=True)
    pairs["device_ip"] = pairs["device_ip"].map(_as_list)
    pairs = pairs.explode("device_ip").dropna().rename(columns={"device_ip": "proxy_ip"})
    return pairs.drop_duplicates().assign(_proxy=True)


# ---------------------------------------------------------------- alert rules


@HOOKS.register("alert_rules_build", "build")
def alert_rules_build(sheets: Any, profile: Any, ctx: Context) -> pd.DataFrame:
    """The Alert sheet mapped as the profile declares, then ``repos`` expanded per storage node.

    Each sheet token ``ip:port/<repo>`` names a repo of the source system: its original name
    (Repo sheet ``original_repo_name``), its cleaned name, or a default repo. It becomes
    ``{ip_private or ip}:{port}/{cleaned name}`` for every backend and all-in-one node of the
    tenant; default repos become ``127.0.0.1:{port}/{name}``. Repos that are not the tenant's
    are left out and listed in ``foreign_repos`` (a warning); a rule left without any repo is
    invalid (SKIP) and leaves ``searchname`` empty, so that only the tenant's own copies of a
    rule compete for its name.
    """
    frame = map_sheet(sheets[profile.sheet], profile, ctx, _workbook_name(ctx))
    port = int(profile.xlsx.get("repo_port") or 5504)
    repo_sheet = sheets["Repo"] if "Repo" in sheets else None
    nodes = ctx.tenant.by_role(*STORAGE_ROLES) if ctx.tenant is not None else []
    repos, foreign = expand_repos(frame["repos"], repo_sheet, nodes, port)
    # another tenant's copy of a rule does not claim its name: uniqueness is checked on
    # `searchname`, set only for rules that search at least one of this tenant's repos
    elsewhere = repos.map(lambda v: isinstance(v, Invalid))
    searchname = frame["name"].where(~elsewhere, None)
    return frame.assign(repos=repos, foreign_repos=foreign, searchname=searchname)


def _repo_table(repo_sheet: pd.DataFrame | None) -> dict[str, str]:
    """Every accepted repo name (original or cleaned) → its cleaned name; defaults as is."""
    table = {name: name for name in DEFAULT_REPOS}
    if repo_sheet is None or "cleaned_repo_name" not in repo_sheet:
        return table
    cleaned = repo_sheet["cleaned_repo_name"].astype(str).str.strip()
    for col in ("cleaned_repo_name", "original_repo_name"):
        if col in repo_sheet:
            names = repo_sheet[col].astype(str).str.strip()
            table.update((n, c) for n, c in zip(names, cleaned) if n and c and n not in table)
    return table


def expand_repos(
    tokens: pd.Series, repo_sheet: pd.DataFrame | None, nodes: list[Any], port: int = 5504
) -> tuple[pd.Series, pd.Series]:
    """Sheet repo tokens → (expanded repo strings per row, foreign names per row as text).

    Returns:
        ``repos``: sorted unique ``address:port/name`` lists, or an :class:`Invalid` marker when
        the rule names repos but none of them is the tenant's; ``foreign``: the names (or
        tokens) left out, comma-joined, or None.
    """
    table = _repo_table(repo_sheet)
    addresses = list(dict.fromkeys(n.ip_private or n.ip or "127.0.0.1" for n in nodes))
    items = tokens.map(lambda v: v if isinstance(v, list) else []).explode().dropna()
    items = items.map(lambda t: str(t).strip(" \t\"'[]"))
    items = items[items.ne("")]
    parsed = items.str.extract(_TOKEN)
    cleaned = parsed["repo"].map(table)
    is_default = parsed["repo"].isin(DEFAULT_REPOS)
    local = cleaned[is_default].map(lambda name: [f"127.0.0.1:{port}/{name}"])
    remote = cleaned[cleaned.notna() & ~is_default].map(
        lambda name: [f"{a}:{port}/{name}" for a in addresses]
    )
    expanded = pd.concat([local, remote]).explode().dropna()
    per_row = expanded.groupby(level=0).agg(lambda s: sorted(set(s)))
    left_out = parsed["repo"].where(parsed["repo"].notna(), items)[cleaned.isna()]
    foreign = left_out.groupby(level=0).agg(lambda s: ", ".join(dict.fromkeys(s)))
    if not addresses:
        left_out = parsed["repo"][cleaned.notna() & ~is_default]
        foreign = pd.concat([foreign, left_out.groupby(level=0).agg(", ".join)])
        foreign = foreign.groupby(level=0).agg(", ".join)
    repos = pd.Series([[] for _ in range(len(tokens))], index=tokens.index, dtype=object)
    repos.loc[per_row.index] = per_row
    named = items.groupby(level=0).size().reindex(tokens.index, fill_value=0).gt(0)
    nothing = named & repos.map(len).eq(0)
    repos[nothing] = [
        Invalid(
            foreign.get(i, ""),
            "not a repo of this tenant (no repo of the rule is in the Repo sheet, by original "
            "or cleaned name, nor a default repo"
            + ("" if addresses else "; the tenant has no backend or all-in-one node")
            + "): the rule would search no repo",
            "settings.repos",
        )
        for i in tokens.index[nothing]
    ]
    foreign_text = foreign.reindex(tokens.index).where(~nothing, None)
    return repos, foreign_text.astype(object).where(foreign_text.notna(), None)


# ---------------------------------------------------------------- user defined lists

LIST_KINDS = {"static_list": "static", "dynamic_list": "dynamic"}


@HOOKS.register("lists_build", "build")
def lists_build(sheets: Any, profile: Any, ctx: Context) -> pd.DataFrame:
    """The UserDefinedList sheet mapped as declared, then the fields of each list kind.

    Static lists send ``s_name`` and ``lists``; dynamic lists send ``d_name`` and their
    ``age_limit`` (seconds) as ``agelimit_day/hour/minute`` (leftover seconds are dropped, and the
    compared ``age_limit`` is rounded down to whole minutes the same way, so it converges).
    """
    frame = map_sheet(sheets[profile.sheet], profile, ctx, _workbook_name(ctx))
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


@HOOKS.register("lists_inventory", "inventory")
def lists_inventory(frame: pd.DataFrame, profile: Any, ctx: dict[str, Any]) -> pd.DataFrame:
    """Dynamic lists are filled by Director at run time: their ``lists`` is not ours to compare."""
    if frame.empty or "list_type" not in frame or "lists" not in frame:
        return frame
    out = frame.copy()
    dynamic = out["list_type"].eq("dynamic_list")
    out.loc[dynamic, "lists"] = pd.Series([[]] * int(dynamic.sum()), index=out.index[dynamic])
    return out

"""Hooks of the syslog collector profile.

- ``syslog_from_devices`` (inventory): collectors have no List endpoint; they live in
  ``GET Devices`` ``col_apps[]``. One row per SyslogCollector, keyed by device name, id = uuid.
- ``syslog_proxies`` (desired): a cross-row rule — every ``proxy_ip`` of a ``uses_proxy``
  collector must be an IP of a device that has (on Director) or gets (in this plan) a
  ``use_as_proxy`` collector; and an empty ``proxy_condition`` is a data problem (the sheet's
  ``None`` is a value meaning "no proxy", not an empty cell).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from directorsync.cells import is_empty
from directorsync.vocabulary import NODE, REASON, STATUS

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
    _mark(out, pd.Series(out.index.isin(missing.index), index=out.index) & uses, reasons)
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

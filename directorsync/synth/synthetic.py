"""Synthetic workbooks of any size for benchmarks, and the matching Director inventory.

:func:`synthetic_frames` scales the ``Device`` sheet to any number of rows (the other sheets are
the demo workbook's good rows); :func:`synthetic_inventory` returns the same devices as Director
would list them, with a fraction changed or missing, and :func:`synthetic_group_inventory` their
device groups. Everything is deterministic: the same arguments give the same data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from directorsync.synth.demo import DEMO_BAD_ROWS, PP_IDS, demo_frames
from directorsync.synth.device_rows import (
    COLLECTORS,
    GROUP_NAMES,
    SYNTH_GROUPS,
    DeviceArrays,
    change_one_field,
    generate_devices,
    group_names,
    object_ids,
    random_hex,
)
from directorsync.synth.sheets import (
    COLUMNS,
    NAN,
    RISK_LEVELS,
    object_id,
    sheet_frame,
    source_token,
)

_RISK = np.array(RISK_LEVELS)
_UNKNOWN_GROUPS = np.array(["decommissioned", "to_classify", "old_dmz"])
_MAX_FETCHERS = 1000


def _device_frame(pool: DeviceArrays) -> pd.DataFrame:
    """The ``Device`` sheet of a device pool."""
    frame = pd.DataFrame(
        {
            "device_id": pool.device_id,
            "name": pool.name,
            "ip": pool.ip,
            "active": True,
            "timezone": pool.timezone,
            "has_hostname": False,
            "device_groups": group_names(pool.groups),
            "distributed_collector": COLLECTORS[pool.collector],
            "confidentiality": _RISK[pool.risk[:, 0]],
            "integrity": _RISK[pool.risk[:, 1]],
            "availability": _RISK[pool.risk[:, 2]],
        }
    )
    return frame.reindex(columns=list(COLUMNS["Device"]))


def _inject_bad_rows(
    frame: pd.DataFrame, bad_ratio: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Spoil ``round(len * bad_ratio)`` rows: empty names, duplicate names, unknown groups.

    Returns:
        The new frame and the (sorted) positions of the spoiled rows.
    """
    n = len(frame)
    positions = rng.choice(n, size=min(n, round(n * bad_ratio)), replace=False)
    kind = np.arange(len(positions)) % 3
    empty, duplicate, unknown = (positions[kind == k] for k in range(3))
    good = np.setdiff1d(np.arange(n), positions)
    sources = rng.choice(good if good.size else np.arange(n), size=duplicate.size)
    out = frame.copy()
    names = frame["name"].to_numpy()
    out.loc[empty, "name"] = NAN
    out.loc[duplicate, "name"] = names[sources]
    out.loc[unknown, "device_groups"] = rng.choice(_UNKNOWN_GROUPS, size=unknown.size)
    return out, np.sort(positions)


def _fetcher_frame(pool: DeviceArrays, bad: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """A ``DeviceFetcher`` sheet: one syslog collector for each of the first good devices."""
    rows = np.setdiff1d(np.arange(len(pool.name)), bad)[:_MAX_FETCHERS]
    names = pool.name[rows]
    policies = np.array(list(PP_IDS.values()))
    frame = pd.DataFrame(
        {
            "device_id": pool.device_id[rows],
            "device_name": names,
            "app": "SyslogCollector",
            "sid": "syslog|device-" + names,
            "parser": "SyslogParser",
            "processpolicy": policies[rng.integers(0, len(policies), rows.size)],
            "charset": "utf_8",
            "uuid": random_hex(rng, rows.size, 32),
            "LOGGEDINUSER": "admin",
            "requestType": "formsubmit",
            "ips": pool.ip[rows],
            "proxy_condition": "None",
            "CSRFToken": source_token("synthetic"),
        }
    )
    return frame.reindex(columns=list(COLUMNS["DeviceFetcher"]))


def _synthetic_group_frame() -> pd.DataFrame:
    """The ``DeviceGroups`` sheet of synthetic workbooks.

    Member ids are left empty: they would exceed Excel's 32,767 characters per cell for large
    workbooks.
    """
    rows = [
        {"group_id": object_id(f"synth-dg/{name}"), "name": name, "description": description}
        for name, description in SYNTH_GROUPS
    ]
    return sheet_frame("DeviceGroups", rows, active=True)


def _clean_demo_frames() -> dict[str, pd.DataFrame]:
    """The demo frames without their deliberately bad rows."""
    frames = demo_frames()
    for bad in DEMO_BAD_ROWS:
        frames[bad["sheet"]] = frames[bad["sheet"]].drop(index=bad["excel_row"] - 2)
    return {sheet: frame.reset_index(drop=True) for sheet, frame in frames.items()}


def _check_sizes(devices: int, **fractions: float) -> None:
    if devices < 0:
        raise ValueError(f"devices must be >= 0, got {devices}")
    for name, value in fractions.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")


def synthetic_frames(
    devices: int, *, seed: int = 7, bad_ratio: float = 0.001
) -> dict[str, pd.DataFrame]:
    """A workbook of any size for benchmarks, one frame per sheet.

    ``Device`` has exactly ``devices`` rows (names like ``fw-par-edge-00042``, 1-3 unique IPs,
    1-2 groups of :data:`SYNTH_GROUPS`, which form the ``DeviceGroups`` sheet). Of those rows,
    ``round(devices * bad_ratio)`` are bad, in equal shares: empty name, duplicate name, unknown
    device group. ``DeviceFetcher`` has one collector for each of the first 1,000 good devices;
    the other sheets are the demo workbook's good rows.

    Args:
        devices: number of ``Device`` rows.
        seed: random seed; the same seed gives the same frames.
        bad_ratio: fraction of bad ``Device`` rows (0 to 1).

    Returns:
        Sheet name -> frame, in workbook order.

    Raises:
        ValueError: ``devices`` is negative or ``bad_ratio`` is outside 0..1.
    """
    _check_sizes(devices, bad_ratio=bad_ratio)
    pool = generate_devices(devices, seed)
    rng = np.random.default_rng([seed, 1])
    frames = _clean_demo_frames()
    frames["Device"], bad = _inject_bad_rows(_device_frame(pool), bad_ratio, rng)
    frames["DeviceFetcher"] = _fetcher_frame(pool, bad, rng)
    frames["DeviceGroups"] = _synthetic_group_frame()
    return {sheet: frames[sheet] for sheet in COLUMNS}


def _director_group_ids() -> np.ndarray:
    """Ids of the synthetic device groups on the (simulated) Director."""
    return np.array([object_id(f"director/dg/{name}") for name in GROUP_NAMES])


def _read_shape(pool: DeviceArrays, rows: np.ndarray, ids: np.ndarray) -> list[dict[str, Any]]:
    """Devices as ``GET Devices`` lists them (contract §2.8)."""
    group_ids = _director_group_ids()
    groups = pool.groups[rows]
    joined = np.where(
        groups[:, 1] >= 0,
        group_ids[groups[:, 0]] + " " + group_ids[np.maximum(groups[:, 1], 0)],
        group_ids[groups[:, 0]],
    )
    risk = _RISK[pool.risk[rows]].tolist()
    columns = zip(
        ids[rows].tolist(),
        pool.name[rows].tolist(),
        pd.Series(pool.ip[rows], dtype=object).str.split(" | ", regex=False).tolist(),
        np.char.split(joined.astype(str)).tolist(),
        risk,
        pool.timezone[rows].tolist(),
        strict=True,
    )
    return [
        {
            "id": device_id,
            "name": name,
            "ip": ip,
            "device_groups": groups,
            "distributed_collector": [],
            "log_policies": [],
            "risk_values": {"confidentiality": c, "integrity": i, "availability": a},
            "timezone": timezone,
            "col_apps": [],
            "active": True,
            "has_hostname": False,
            "tid": "",
            "type": "",
        }
        for device_id, name, ip, groups, (c, i, a), timezone in columns
    ]


def synthetic_inventory(
    devices: int, *, seed: int = 7, changed: float = 0.05, missing: float = 0.05
) -> list[dict[str, Any]]:
    """The devices of :func:`synthetic_frames` as Director would list them.

    Read shape of ``GET Devices``: ``{id, name, ip: [...], device_groups: [group ids],
    risk_values: {confidentiality, integrity, availability}, timezone, distributed_collector,
    log_policies, col_apps, active, has_hostname, tid, type}``. Ids are Director's (not the
    sheet's ``device_id``); group ids are those of :func:`synthetic_group_inventory`.

    Args:
        devices: number of devices in the matching workbook.
        seed: the workbook's seed.
        changed: fraction of devices that differ from the sheet in one field (ip, timezone,
            availability or device groups, in turn): updates.
        missing: fraction of devices left out: creates.

    Returns:
        ``devices - round(devices * missing)`` device objects, in sheet order.

    Raises:
        ValueError: a fraction is outside 0..1 or ``changed + missing`` exceeds 1.
    """
    _check_sizes(devices, changed=changed, missing=missing, total=changed + missing)
    pool = generate_devices(devices, seed)
    rng = np.random.default_rng([seed, 2])
    order = rng.permutation(devices)
    n_missing, n_changed = round(devices * missing), round(devices * changed)
    pool = change_one_field(pool, order[n_missing : n_missing + n_changed])
    return _read_shape(pool, np.sort(order[n_missing:]), object_ids(rng, devices))


def synthetic_group_inventory(
    inventory: Iterable[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The synthetic device groups as ``GET DeviceGroups`` lists them.

    Args:
        inventory: devices from :func:`synthetic_inventory`; their ids fill each group's
            ``devices``.

    Returns:
        ``{id, name, description, devices: [device ids]}`` for each of :data:`SYNTH_GROUPS`.
    """
    ids = _director_group_ids().tolist()
    members: dict[str, list[str]] = {group_id: [] for group_id in ids}
    for device in inventory:
        for group_id in device["device_groups"]:
            members[group_id].append(device["id"])
    return [
        {"id": group_id, "name": name, "description": description, "devices": members[group_id]}
        for group_id, (name, description) in zip(ids, SYNTH_GROUPS, strict=True)
    ]

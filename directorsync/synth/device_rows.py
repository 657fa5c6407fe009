"""Synthetic devices as parallel NumPy arrays: generated, and changed in one field each.

The pool behind both the synthetic ``Device`` sheet and the synthetic ``GET Devices`` inventory
(:mod:`directorsync.synth.synthetic`). Vectorised, deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from directorsync.synth.sheets import RISK_LEVELS, object_id

_KINDS = np.array(["fw", "sw", "rtr", "srv", "dc", "lb", "proxy", "ap", "vpn", "db"])
_SITES = np.array(["par", "bru", "ams", "fra", "lon", "mad", "mil", "zrh"])
_SITE_ZONES = np.array(
    ["Europe/Paris", "Europe/Brussels", "Europe/Amsterdam", "Europe/Berlin"]
    + ["Europe/London", "Europe/Madrid", "Europe/Rome", "Europe/Zurich"]
)
_ROLES = np.array(["edge", "core", "dmz", "app", "web", "mgmt", "ops", "lab"])
COLLECTORS = np.array(
    [object_id("distributed-collector/dc01"), object_id("distributed-collector/dc02")]
)
_HEX = np.array(list("0123456789abcdef"))
_EPOCH = 0x6500_0000  # seconds of the first synthetic object id (September 2023)

#: The device groups of synthetic workbooks: (name, description).
SYNTH_GROUPS: tuple[tuple[str, str], ...] = tuple(
    (name, f"{label} devices")
    for name, label in [
        ("windows", "Windows"), ("linux", "Linux"), ("firewall", "firewall"), ("network", "network"),
        ("VPN", "VPN"), ("proxy", "web proxy"), ("domain_controllers", "domain controller"),
        ("dmz", "DMZ"), ("databases", "database"), ("web", "web server"), ("mail", "mail"),
        ("dns", "DNS"), ("storage", "storage"), ("backup", "backup"),
        ("virtualization", "virtualization"), ("identity", "identity"), ("PAM", "PAM"),
        ("ot", "OT / ICS"), ("cloud", "cloud"), ("log_proxy", "log proxy"),
    ]
)  # fmt: skip
GROUP_NAMES = np.array([name for name, _ in SYNTH_GROUPS])


@dataclass(frozen=True)
class DeviceArrays:
    """Synthetic devices as parallel arrays (one element per device)."""

    device_id: np.ndarray  # 24-hex source-system ids
    name: np.ndarray
    ip: np.ndarray  # " | "-joined, unique across devices
    timezone: np.ndarray
    groups: np.ndarray  # (n, 2) indexes into SYNTH_GROUPS; -1 = no second group
    risk: np.ndarray  # (n, 3) indexes into RISK_LEVELS: confidentiality, integrity, availability
    collector: np.ndarray  # index into COLLECTORS


def _digits(values: np.ndarray, width: int, base: int = 16) -> np.ndarray:
    """(n, width) array of the digit characters of non-negative integers, zero-padded."""
    powers = np.uint64(base) ** np.arange(width - 1, -1, -1, dtype=np.uint64)
    return _HEX[(values.astype(np.uint64)[:, None] // powers) % np.uint64(base)]


def _join_digits(*digits: np.ndarray) -> np.ndarray:
    """Glue (n, w_i) digit arrays side by side into n strings."""
    glued = np.ascontiguousarray(np.hstack(digits))
    return glued.view(f"<U{glued.shape[1]}").ravel()


def object_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 24-hex ids shaped like Director's (seconds, random, counter)."""
    seconds = _EPOCH + np.sort(rng.integers(0, 3 * 365 * 86400, n))
    random = rng.integers(0, 1 << 40, n)
    counter = (rng.integers(0, 1 << 23) + np.arange(n)) % (1 << 24)
    return _join_digits(_digits(seconds, 8), _digits(random, 10), _digits(counter, 6))


def _unique_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """1-3 IPs per device, `` | ``-joined; no IP is used twice (60 devices per /24)."""
    subnet, slot = np.divmod(rng.permutation(n), 60)
    octets = [10 + subnet // 65536, subnet // 256 % 256, subnet % 256]
    prefix = octets[0].astype("U3")
    for octet in octets[1:]:
        prefix = prefix + "." + octet.astype("U3")
    prefix = prefix + "."
    count = rng.choice([1, 2, 3], size=n, p=[0.7, 0.2, 0.1])
    ips = prefix + (slot * 4 + 1).astype("U3")
    for k in (2, 3):  # second and third address, for the devices that have them
        ips = np.where(count >= k, ips + " | " + prefix + (slot * 4 + k).astype("U3"), ips)
    return ips


def generate_devices(n: int, seed: int) -> DeviceArrays:
    """``n`` clean devices (no bad rows), the same for the same seed."""
    rng = np.random.default_rng([seed, 0])
    site = rng.integers(0, len(_SITES), n)
    width = max(5, len(str(max(n - 1, 0))))
    number = _join_digits(_digits(np.arange(n), width, base=10))
    name = (
        _KINDS[rng.integers(0, len(_KINDS), n)]
        + "-"
        + _SITES[site]
        + "-"
        + _ROLES[rng.integers(0, len(_ROLES), n)]
        + "-"
        + number
    )
    first = rng.integers(0, len(SYNTH_GROUPS), n)
    second = (first + rng.integers(1, len(SYNTH_GROUPS), n)) % len(SYNTH_GROUPS)
    groups = np.column_stack([first, np.where(rng.random(n) < 0.35, second, -1)])
    base = rng.choice(len(RISK_LEVELS), size=n, p=[0.35, 0.3, 0.25, 0.1])
    vary = rng.random((n, 3)) < 0.15
    risk = np.where(vary, rng.integers(0, len(RISK_LEVELS), (n, 3)), base[:, None])
    return DeviceArrays(
        device_id=object_ids(rng, n),
        name=name,
        ip=_unique_ips(rng, n),
        timezone=np.where(rng.random(n) < 0.3, "UTC", _SITE_ZONES[site]),
        groups=groups,
        risk=risk,
        collector=rng.integers(0, len(COLLECTORS), n),
    )


def group_names(groups: np.ndarray) -> np.ndarray:
    """(n, 2) group indexes -> `` | ``-joined group names."""
    first = GROUP_NAMES[groups[:, 0]]
    second = GROUP_NAMES[np.maximum(groups[:, 1], 0)]
    return np.where(groups[:, 1] >= 0, first + " | " + second, first)


def random_hex(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """``n`` random lower-case hex strings of ``width`` digits."""
    return _join_digits(_HEX[rng.integers(0, 16, (n, width))])


def change_one_field(pool: DeviceArrays, rows: np.ndarray) -> DeviceArrays:
    """A copy of ``pool`` where each of ``rows`` differs in one field.

    The field changed is ip, timezone, risk, groups, in turn.
    """
    field = np.arange(rows.size) % 4
    ip, timezone = pool.ip.astype(object), pool.timezone.astype(object)
    groups, risk = pool.groups.copy(), pool.risk.copy()
    at = rows[field == 0]  # one new address, outside the 10.0.0.0/7 pool
    ip[at] = "172." + (16 + at // 64000).astype(str) + "." + (at // 250 % 256).astype(str)
    ip[at] = ip[at] + "." + (at % 250 + 1).astype(str)
    at = rows[field == 1]
    timezone[at] = np.where(timezone[at] == "UTC", "Europe/Brussels", "UTC")
    at = rows[field == 2]
    risk[at, 2] = (risk[at, 2] + 1) % len(RISK_LEVELS)
    at = rows[field == 3]
    groups[at] = np.column_stack([(groups[at, 0] + 10) % len(SYNTH_GROUPS), np.full(at.size, -1)])
    return DeviceArrays(pool.device_id, pool.name, ip, timezone, groups, risk, pool.collector)

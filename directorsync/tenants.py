"""Tenant topology: which Director nodes each resource goes to.

Reads a tenants file in the format the current tool uses (``tenants.yml``): per tenant a
``pool_uuid`` and ``siems`` with ``search_heads``, ``backends`` and ``all_in_one`` nodes, plus
``defaults.target`` mapping each resource to node roles. A misspelled key of a tenant or under
``siems`` is an error naming it (a ``backend:`` typo would otherwise leave the tenant without
backends).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from directorsync.errors import ConfigError

ROLES = ("search_heads", "backends", "all_in_one")
#: Keys a tenant may have (``defaults`` is accepted and ignored, as by the current tool).
TENANT_KEYS = ("pool_uuid", "siems", "defaults", "name")

#: Where resources go when the tenants file does not say (contract §4.2).
DEFAULT_TARGETS: dict[str, list[str]] = {
    "repos": ["backends", "all_in_one"],
    "routing_policies": ["backends", "all_in_one"],
    "normalization_policies": ["backends", "all_in_one"],
    "processing_policies": ["backends", "all_in_one"],
    "enrichment_policies": ["backends", "all_in_one"],
    "device_groups": ["backends", "all_in_one"],
    "devices": ["backends", "all_in_one"],
    "syslog_collectors": ["backends", "all_in_one"],
    "alert_rules": ["search_heads"],
    "user_defined_lists": ["search_heads"],
}


@dataclass(frozen=True)
class Node:
    """One Director node (a Logpoint identified by ``id`` in a pool)."""

    id: str
    name: str
    role: str
    ip: str | None = None
    ip_private: str | None = None


@dataclass
class Tenant:
    """A tenant: its pool and nodes, and the role targets per resource."""

    name: str
    pool_uuid: str
    nodes: list[Node]
    targets: dict[str, list[str]] = field(default_factory=dict)

    def nodes_for(self, resource: str, roles: list[str] | None = None) -> list[Node]:
        """Nodes a resource goes to: union of the roles, role order then file order."""
        roles = roles or self.targets.get(resource) or DEFAULT_TARGETS.get(resource, [])
        seen: set[str] = set()
        out = []
        for role in roles:
            for node in self.nodes:
                if node.role == role and node.id not in seen:
                    seen.add(node.id)
                    out.append(node)
        return out

    def by_role(self, *roles: str) -> list[Node]:
        """Nodes having one of the roles."""
        return [n for n in self.nodes if n.role in roles]


def load_tenants(path: str | Path) -> dict[str, Tenant]:
    """Read every tenant of a tenants file.

    Raises:
        ConfigError: the file is missing, not YAML, or a tenant lacks ``pool_uuid`` or node ids.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(
            f"tenants file {path} does not exist; pass --tenants-file or set LP_TENANTS_FILE",
            file=str(path),
        ) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read tenants file {path}: {exc}", file=str(path)) from exc
    return parse_tenants(data, source=str(path))


#: a tenant name is one folder name under ``reports/``: letters, digits, ``_ . -``, not
#: starting with a dot (no ``/``, ``\``, ``..``)
TENANT_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


def check_tenant_name(name: object, source: str = "tenants file") -> str:
    """``name`` as text when it can name a reports folder.

    Raises:
        ConfigError: the name holds a path separator, starts with a dot, or is empty.
    """
    text = str(name)
    if TENANT_NAME_RE.fullmatch(text) is None:
        raise ConfigError(
            f"{source}: tenant name {text!r} is not allowed: use letters, digits, '_', '-' "
            "and '.', not starting with '.' (it names the reports folder of the tenant)",
            tenant=text,
        )
    return text


def parse_tenants(data: dict[str, Any], source: str = "tenants file") -> dict[str, Tenant]:
    """Parse the tenants mapping (already loaded from YAML)."""
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), dict):
        raise ConfigError(f"{source}: expected a top-level 'tenants' mapping")
    targets = dict(DEFAULT_TARGETS)
    targets.update((data.get("defaults") or {}).get("target") or {})
    tenants = {}
    for name, spec in data["tenants"].items():
        check_tenant_name(name, source)
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ConfigError(f"{source}: tenant '{name}' must be a mapping", tenant=name)
        _check_keys(spec, TENANT_KEYS, f"in tenant '{name}'", source, name)
        pool = spec.get("pool_uuid")
        if not pool:
            raise ConfigError(f"{source}: tenant '{name}' has no pool_uuid", tenant=name)
        tenants[name] = Tenant(str(name), str(pool), _nodes(name, spec, source), dict(targets))
    return tenants


def _nodes(tenant: str, spec: dict[str, Any], source: str) -> list[Node]:
    nodes = []
    siems = spec.get("siems") or {}
    if not isinstance(siems, dict):
        raise ConfigError(
            f"{source}: tenant '{tenant}' siems must map roles ({', '.join(ROLES)}) to node lists",
            tenant=tenant,
        )
    _check_keys(siems, ROLES, f"in tenant '{tenant}' siems", source, tenant)
    for role in ROLES:
        for i, item in enumerate(siems.get(role) or []):
            if not item or not item.get("id") or not item.get("name"):
                raise ConfigError(
                    f"{source}: tenant '{tenant}' {role}[{i}] needs both 'id' and 'name'",
                    tenant=tenant,
                )
            nodes.append(
                Node(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    role=role,
                    ip=item.get("ip"),
                    ip_private=item.get("ip_private"),
                )
            )
    return nodes


def _check_keys(
    spec: dict[str, Any], known: tuple[str, ...], where: str, source: str, tenant: str
) -> None:
    """Raise on the first key of ``spec`` that is not ``known`` (with a close match)."""
    for key in spec:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"{source}: unknown key '{key}' {where}{hint}; known keys: {', '.join(known)}",
            tenant=tenant,
            key=str(key),
        )


def tenant_named_by(filename: str, known: Iterable[str], tenant: str) -> str | None:
    """Another known tenant that a workbook's file name names, when it does not name ``tenant``.

    ``esait_config.xlsx`` names ``esait`` (a whole word of the name, case-blind); ``core-esait``
    names both, so it is not taken as a mismatch for ``core``.
    """
    stem = Path(filename).stem.lower()

    def names(name: str) -> bool:
        return re.search(rf"(?<![a-z0-9]){re.escape(name.lower())}(?![a-z0-9])", stem) is not None

    if names(tenant):
        return None
    others = [name for name in known if name != tenant and names(name)]
    return max(others, key=len) if others else None


def get_tenant(tenants: dict[str, Tenant], name: str) -> Tenant:
    """One tenant by name, with a helpful error listing the known ones."""
    try:
        return tenants[name]
    except KeyError:
        known = ", ".join(sorted(tenants)) or "none"
        close = difflib.get_close_matches(name, list(tenants), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"unknown tenant '{name}' (known: {known}){hint}", tenant=name) from None

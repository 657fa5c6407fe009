"""Tenants file → the pools and nodes the simulator serves.

The file (format of ``../shared/samples/tenants.yml``, contract §4.1) is parsed by the project's
:mod:`directorsync.tenants`; this module adds what serving needs: nodes that know their pool,
lookup by pool and node id, per-role tuples, and a node's address as other nodes see it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from directorsync import tenants as topology
from directorsync.errors import ConfigError
from directorsync.tenants import ROLES, parse_tenants

#: roles whose repos a search head can query (Repos/RemoteRepos/fetch, alert ``repos``)
STORAGE_ROLES = ("backends", "all_in_one")


@dataclass(frozen=True)
class NodeInfo:
    """One Logpoint node (``logpoint_identifier``) of a pool."""

    id: str
    name: str
    role: str
    pool: str
    tenant: str
    ip: str = ""
    ip_private: str = ""

    @property
    def key(self) -> str:
        """``{pool}/{node}``: the key of this node's state."""
        return f"{self.pool}/{self.id}"

    @property
    def address(self) -> str:
        """The address other nodes use to reach it (``ip_private`` first, then ``ip``)."""
        return self.ip_private or self.ip or "127.0.0.1"


@dataclass(frozen=True)
class Tenant:
    """A tenant: one pool and its nodes per role."""

    name: str
    pool_uuid: str
    search_heads: tuple[NodeInfo, ...] = ()
    backends: tuple[NodeInfo, ...] = ()
    all_in_one: tuple[NodeInfo, ...] = ()

    @property
    def nodes(self) -> tuple[NodeInfo, ...]:
        """Every node of the tenant, in role order then file order."""
        return self.search_heads + self.backends + self.all_in_one


@dataclass
class Topology:
    """Every tenant, indexed by pool and node for request routing."""

    tenants: dict[str, Tenant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._nodes: dict[str, dict[str, NodeInfo]] = {}
        for tenant in self.tenants.values():
            self._nodes.setdefault(tenant.pool_uuid, {}).update({n.id: n for n in tenant.nodes})

    def has_pool(self, pool: str) -> bool:
        """Whether ``pool`` is a known pool UUID."""
        return pool in self._nodes

    def node(self, pool: str, node_id: str) -> NodeInfo | None:
        """The node ``node_id`` of ``pool``, or None."""
        return self._nodes.get(pool, {}).get(node_id)

    def nodes(self) -> list[NodeInfo]:
        """Every node of every pool."""
        return [n for nodes in self._nodes.values() for n in nodes.values()]

    def pool_nodes(self, pool: str, roles: tuple[str, ...] = ROLES) -> list[NodeInfo]:
        """The nodes of ``pool`` whose role is in ``roles``."""
        return [n for n in self._nodes.get(pool, {}).values() if n.role in roles]

    def find(self, ref: str) -> NodeInfo | None:
        """A node by id or by name (first match), for fault rules and helpers."""
        return next((n for n in self.nodes() if ref in (n.id, n.name)), None)


def load_topology(source: str | Path | dict[str, Any]) -> Topology:
    """Parse a tenants file (path, YAML text or already-parsed dict), index it for routing.

    Parsing is :func:`directorsync.tenants.parse_tenants`.

    Raises:
        ConfigError: the file is missing, not YAML, lacks a pool UUID or a node id, or lists
            a node id twice in one pool.
    """
    parsed = parse_tenants(_read(source), source="tenants file")
    return Topology({name: _tenant(t) for name, t in parsed.items()})


def _read(source: str | Path | dict[str, Any]) -> Any:
    if isinstance(source, dict):
        return source
    text = str(source)
    if isinstance(source, Path) or "\n" not in text:
        path = Path(text)
        if not path.is_file():
            raise ConfigError(f"tenants file not found: {path}", file=str(path))
        text = path.read_text(encoding="utf-8")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"tenants file is not valid YAML: {exc}") from exc


def _tenant(tenant: topology.Tenant) -> Tenant:
    ids = [n.id for n in tenant.nodes]
    if len(ids) != len(set(ids)):
        raise ConfigError(
            f"tenants file: tenant {tenant.name!r} lists a node id twice", tenant=tenant.name
        )
    infos = [
        NodeInfo(
            n.id, n.name, n.role, tenant.pool_uuid, tenant.name, n.ip or "", n.ip_private or ""
        )
        for n in tenant.nodes
    ]
    by_role = {role: tuple(i for i in infos if i.role == role) for role in ROLES}
    return Tenant(tenant.name, tenant.pool_uuid, **by_role)

"""The built-in vendor catalog: what a fresh Logpoint node holds before anyone configures it.

The data lives in ``data/catalog.yml`` (normalization packages, compiled normalizers, enrichment
sources, charsets, timezones, MITRE attacks, users, user groups, incident user groups, default
repos, repo paths, built-in routing policies). :func:`seed_node` turns it into the stored records
of one node. Ids are derived from ``(node id, kind, key)``: stable across resets and restarts,
different on every node (nodes never share ids, contract §4.2).

Also here: :data:`DEMO_TENANTS_YAML`, the single-tenant topology used when no tenants file is
given (``Simulator(seed=None)``, ``directorsync simulator`` without ``--seed``, the demo).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from directorsync.simulator.pools import NodeInfo

#: The demo topology: one pool, one search head, one backend (format of tenants.yml).
DEMO_TENANTS_YAML = """\
# Demo topology of the built-in Director simulator (format of tenants.yml).
tenants:
  demo:
    pool_uuid: "d3e0a1b2c3d4e5f60718293a4b5c6d7e"
    siems:
      search_heads:
        - { name: "demo-sh01", id: "5e1ec7ed5e1ec7ed5e1ec7ed5e1ec701", ip: "127.0.0.1" }
      backends:
        - { name: "demo-be01", id: "bac0e4d0bac0e4d0bac0e4d0bac0e401", ip: "127.0.0.1", ip_private: "10.0.0.21" }
      all_in_one: []
defaults:
  target:
    repos: [backends, all_in_one]
    routing_policies: [backends, all_in_one]
    normalization_policies: [backends, all_in_one]
    processing_policies: [backends, all_in_one]
    enrichment_policies: [backends, all_in_one]
    device_groups: [backends, all_in_one]
    devices: [backends, all_in_one]
    syslog_collectors: [backends, all_in_one]
    alert_rules: [search_heads]
    user_defined_lists: [search_heads]
"""

#: The port every remote repo string uses (``{ip}:5504/{repo}``, doc §4.2 example).
REPO_PORT = 5504


@lru_cache(maxsize=1)
def catalog() -> dict[str, Any]:
    """The catalog data (``data/catalog.yml``), parsed once."""
    text = resources.files("directorsync.simulator").joinpath("data/catalog.yml").read_text("utf-8")
    return yaml.safe_load(text)


def demo_tenants() -> dict[str, Any]:
    """:data:`DEMO_TENANTS_YAML` as a dict (a fresh copy)."""
    return yaml.safe_load(DEMO_TENANTS_YAML)


def stable_id(node_id: str, kind: str, key: str) -> str:
    """A 24-hex object id derived from the node, the kind of object and its natural key."""
    return hashlib.sha1(f"{node_id}|{kind}|{key}".encode()).hexdigest()[:24]


def default_repo_names() -> list[str]:
    """Names of the repos every node starts with (``default``, ``_logpoint``, ``_LogPointAlerts``)."""
    return [r["name"] for r in catalog()["default_repos"]]


def seed_node(node: NodeInfo) -> dict[str, list[dict[str, Any]]]:
    """The records a fresh node holds, per resource, in catalog order."""
    data = catalog()

    def sid(kind: str, key: str) -> str:
        return stable_id(node.id, kind, key)

    groups = [_user_group(g, sid("UserGroups", g["name"])) for g in data["user_groups"]]
    users = [
        _user(u, sid("Users", u["username"]), sid("UserGroups", u["group"])) for u in data["users"]
    ]
    for group in groups:
        group["users"] = [u["id"] for u in users if group["id"] in u["usergroup"]]
    by_name = {g["name"]: g for g in groups}
    return {
        "Repos": [
            _repo(r, i, sid("Repos", r["name"])) for i, r in enumerate(data["default_repos"], 1)
        ],
        "RoutingPolicies": [
            _routing_policy(n, sid("RoutingPolicies", n)) for n in data["default_routing_policies"]
        ],
        "NormalizationPackage": [
            _package(p, i, sid("NormalizationPackage", p["name"]))
            for i, p in enumerate(data["normalization_packages"], 700)
        ],
        "EnrichmentSource": [
            _source(s, sid("EnrichmentSource", s["source_name"]))
            for s in data["enrichment_sources"]
        ],
        "UserGroups": groups,
        "Users": users,
        "IncidentUserGroups": [
            _incident_group(by_name[n], sid("IncidentUserGroups", n))
            for n in data["incident_user_groups"]
        ],
        "MitreAttacks": [
            {"id": sid("MitreAttacks", m["hash"]), **m} for m in data["mitre_attacks"]
        ],
    }


def _repo(spec: dict[str, Any], number: int, oid: str) -> dict[str, Any]:
    return {
        "id": oid,
        "name": spec["name"],
        "repo_number": number,
        "repopath": [{"path": spec["path"], "retention": int(spec["retention"])}],
        "repoha": [],
        "active": True,
        "tid": "",
        "used_size": "0.00000 MB",
    }


def _routing_policy(name: str, oid: str) -> dict[str, Any]:
    return {
        "id": oid,
        "policy_name": name,
        "catch_all": name,
        "routing_criteria": [],
        "active": True,
        "tid": "",
    }


def _package(spec: dict[str, Any], vid: int, oid: str) -> dict[str, Any]:
    return {
        "id": oid,
        "name": spec["name"],
        "vid": f"NORMPACKAGE_{vid}",
        "type": "vendor",
        "active": True,
        "version": 3,
        "share_is": False,
        "tid": "",
        "fields_info": [],
        "signatures": [],
        "unused_signatures": [],
        "last_sig_id": 0,
        "description": spec.get("description", ""),
    }


def _source(spec: dict[str, Any], oid: str) -> dict[str, Any]:
    return {
        "id": oid,
        "source_name": spec["source_name"],
        "source_type": spec["source_type"],
        "active": True,
        "delete_status": "",
        "last_updated": 0,
        "plugin_info": {"source_fields": [{"field": f} for f in spec.get("fields", [])]},
        "reason": None,
        "result": "",
        "single_entry": True,
        "tid": "",
    }


def _user_group(spec: dict[str, Any], oid: str) -> dict[str, Any]:
    return {
        "id": oid,
        "name": spec["name"],
        "description": spec.get("description", ""),
        "active": True,
        "lpadmin": bool(spec.get("lpadmin")),
        "useradmin": False,
        "object_permission": {"include_all_permission": True},
        "permission_group": "",
        "query": "",
        "tid": "",
        "users": [],
    }


def _user(spec: dict[str, Any], oid: str, group_id: str) -> dict[str, Any]:
    first, _, last = spec["fullname"].partition(" ")
    return {
        "id": oid,
        "username": spec["username"],
        "fullname": spec["fullname"],
        "firstname": first,
        "lastname": last,
        "email": spec.get("email", ""),
        "usergroup": [group_id],
        "active": True,
        "locked": False,
        "timezone": "UTC",
        "tid": "",
    }


def _incident_group(group: dict[str, Any], oid: str) -> dict[str, Any]:
    return {
        "id": oid,
        "name": group["name"],
        "tid": "",
        "user": "admin",
        "usergroup": group["id"],
        "users": list(group["users"]),
    }

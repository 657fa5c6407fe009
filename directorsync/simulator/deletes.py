"""Trash (``DELETE {Resource}/{id}``): what the simulated Director refuses to delete.

A delete is an asynchronous order like every write; when it runs, it fails — nothing removed —
for two kinds of objects (the vendor documentation states neither; a plausible Director, written
down in ``docs/simulator.md``):

- **built-in objects**: whatever a fresh node holds before anyone configures it (the catalog:
  repos ``default``, ``_logpoint``, ``_LogPointAlerts``, the routing policies of the same names,
  the seeded users, user groups and incident user groups). They are recognised by their id,
  which the catalog derives from (node, resource, natural key);
- **objects in use**: the resource's ``check_unused`` names the first object still referring to
  it (a repo used by a routing policy or by an alert rule of the pool, a policy used by a
  processing policy, a processing policy used by a collector, a device group that still has
  devices, …). The reference is never removed silently: the user is named in the message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from directorsync.simulator.catalog import REPO_PORT, stable_id
from directorsync.simulator.store import Record
from directorsync.simulator.validation import OrderFailed
from directorsync.tenants import ROLES

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView


def is_builtin(node: NodeView, resource: str, key: Any, oid: str) -> bool:
    """Whether the object was seeded from the catalog (its id derives from node, kind, key)."""
    return isinstance(key, str) and oid == stable_id(node.info.id, resource, key)


def refuse_builtin(node: NodeView, resource: str, label: str, key: Any, oid: str) -> None:
    """Fail the order if the object is one of the node's built-in objects."""
    if is_builtin(node, resource, key, oid):
        raise OrderFailed(
            f"id: {label} {key!r} is a built-in object of node {node.info.name} "
            "and cannot be deleted"
        )


def refuse_used(what: str, user: str) -> None:
    """Fail the order: ``what`` is still used by ``user``."""
    raise OrderFailed(f"id: {what} is used by {user}: delete or change that first")


def alert_rule_using(node: NodeView, name: str) -> tuple[str, str] | None:
    """(rule, node name) of an alert rule of the pool that searches repo ``name`` of ``node``.

    Rules on other nodes reach the repo by the node's address; a rule on the node itself may
    also use ``127.0.0.1``.
    """
    remote = f"{node.info.address}:{REPO_PORT}/{name}"
    for peer in node.peers(ROLES):
        view = node if peer.info.key == node.info.key else peer
        wanted = {remote, f"127.0.0.1:{REPO_PORT}/{name}"} if view is node else {remote}
        for rule in view.objects("AlertRules"):
            if wanted & set(rule.get("repos") or []):
                return str(rule.get("searchname", rule["id"])), view.info.name
    return None


def devices_in_group(node: NodeView, group: Record) -> list[str]:
    """Names of the devices that are members of ``group``."""
    members = set(group.get("devices") or [])
    return [d["name"] for d in node.objects("Devices") if d["id"] in members]

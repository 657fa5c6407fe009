"""Repos (doc §41): read ``repopath`` vs write ``hiddenrepopath``, RepoPaths, RemoteRepos/fetch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.catalog import REPO_PORT, catalog, default_repo_names
from directorsync.simulator.deletes import alert_rule_using, refuse_used
from directorsync.simulator.monitor import Op
from directorsync.simulator.pools import STORAGE_ROLES
from directorsync.simulator.resources.base import Resource
from directorsync.simulator.routing import FETCH, Call, Route, route
from directorsync.simulator.store import Record
from directorsync.simulator.validation import Field, OrderFailed, Schema

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

_PATH = Schema(
    Field("path", required=True, nonempty=True),
    Field("retention", "int", required=True, minimum=1),
)
_HA = Schema(
    Field("ha_li", required=True, nonempty=True),
    Field("ha_day", "int", required=True, minimum=0),
)


def with_slash(path: str) -> str:
    """``/data_hot`` → ``/data_hot/`` (repo paths are compared with a trailing slash)."""
    return path if path.endswith("/") else path + "/"


def repo_paths() -> list[str]:
    """The allowed repo paths (``GET Repos/RepoPaths``)."""
    return list(catalog()["repo_paths"])


def remote_repos(node: NodeView) -> list[dict[str, Any]]:
    """What ``Repos/RemoteRepos/fetch`` returns on ``node``.

    The local default repos as ``127.0.0.1:5504/{name}``, then every repo of every backend /
    all-in-one node of the pool as ``{ip_private or ip}:5504/{name}`` (de-duplicated).
    """
    rows = [_remote_row("127.0.0.1", name, node) for name in default_repo_names()]
    for peer in node.peers(STORAGE_ROLES):
        rows += [_remote_row(peer.info.address, r["name"], peer) for r in peer.objects("Repos")]
    unique: dict[str, dict[str, Any]] = {}
    for row in rows:
        unique.setdefault(row["repo"], row)
    return list(unique.values())


def _remote_row(address: str, name: str, node: NodeView) -> dict[str, Any]:
    return {
        "repo": f"{address}:{REPO_PORT}/{name}",
        "name": name,
        "address": f"{address}:{REPO_PORT}",
        "logpoint_id": node.info.id,
        "logpoint_name": node.info.name,
    }


class Repos(Resource):
    """``Repos``: name unique per node; paths must come from RepoPaths."""

    name = "Repos"
    label = "repo"
    deletable = True
    create_schema = Schema(
        Field("name", required=True, nonempty=True),
        Field("hiddenrepopath", "list", required=True, nonempty=True),
        Field("repoha", "list"),
    )
    edit_schema = Schema(
        Field("hiddenrepopath", "list", required=True, nonempty=True),
        Field("repoha", "list"),
    )
    refresh = ("Repos/RepoPaths/refreshlist",)

    @override
    def extra_routes(self) -> list[Route]:
        return [
            route("GET", "Repos/RepoPaths", lambda call: [{"paths": repo_paths()}]),
            route("POST", "Repos/RemoteRepos/fetch", self.fetch_remote, FETCH),
        ]

    def fetch_remote(self, call: Call) -> Op:
        """``POST Repos/RemoteRepos/fetch``."""
        return Op(self.name, "remote_repos", fetch=True)

    @override
    def check_create(self, data: dict[str, Any]) -> dict[str, Any]:
        return _paths(self.create_schema.check(data))

    @override
    def check_edit(self, data: dict[str, Any], record: Record) -> dict[str, Any]:
        return _paths(self.edit_schema.check(data))

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        data = op.data
        self.ensure_unique(node, data["name"])
        _ensure_allowed(data["hiddenrepopath"])
        number = max((r.get("repo_number", 0) for r in node.objects(self.name)), default=0) + 1
        record = {
            "id": node.new_id(),
            "name": data["name"],
            "repo_number": number,
            "repopath": data["hiddenrepopath"],
            "repoha": data.get("repoha", []),
            "active": True,
            "tid": "",
            "used_size": "0.00000 MB",
            "store_front_port": None,
            "old_repo_paths": [],
        }
        node.put(self.name, record)
        return f"Repo {data['name']!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        record = self.current(node, op)
        _ensure_allowed(op.data["hiddenrepopath"])
        node.put(
            self.name,
            {
                **record,
                "repopath": op.data["hiddenrepopath"],
                "repoha": op.data.get("repoha", record.get("repoha", [])),
                "old_repo_paths": record["repopath"],
            },
        )
        return f"Repo {record['name']!r} updated"

    def apply_remote_repos(self, node: NodeView, op: Op) -> list[dict[str, Any]]:
        """Rows of ``Repos/RemoteRepos/fetch``."""
        return remote_repos(node)

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        name = record["name"]
        for rp in node.objects("RoutingPolicies"):
            used = [rp["catch_all"], *(c.get("repo") for c in rp.get("routing_criteria", []))]
            if name in used:
                raise OrderFailed(
                    f"id: repo {name!r} is used by routing policy {rp['policy_name']!r}"
                )
        rule = alert_rule_using(node, name)
        if rule is not None:
            refuse_used(f"repo {name!r}", f"alert rule {rule[0]!r} on node {rule[1]}")


def _paths(data: dict[str, Any]) -> dict[str, Any]:
    items = _PATH.check_items(data["hiddenrepopath"], "hiddenrepopath")
    data["hiddenrepopath"] = [
        {"path": with_slash(i["path"]), "retention": i["retention"]} for i in items
    ]
    if "repoha" in data:
        data["repoha"] = _HA.check_items(data["repoha"], "repoha")
    return data


def _ensure_allowed(paths: list[dict[str, Any]]) -> None:
    allowed = repo_paths()
    for i, p in enumerate(paths):
        if p["path"] not in allowed:
            raise OrderFailed(
                f"hiddenrepopath[{i}].path: {p['path']!r} is not an allowed repo path "
                f"(GET Repos/RepoPaths lists {', '.join(allowed)})"
            )

"""AlertRules (doc §4) and MitreAttacks (doc §29): rules, actions, sharing and fetches.

Alert rules have no List endpoint: they are read through ``POST AlertRules/<Kind>/fetch``, whose
order carries ``response.rows``: stored rules with ``id``, ``name`` (= ``searchname``) and the
write field names (contract §6.11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.monitor import Op
from directorsync.simulator.resources.base import Resource, ensure_in, ensure_refs
from directorsync.simulator.resources.repos import remote_repos
from directorsync.simulator.routing import FETCH, WRITE, Call, Route, route
from directorsync.simulator.store import Record
from directorsync.simulator.validation import Field, Schema, bad

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

CONDITIONS = ("greaterthan", "lessthan", "equalsto", "lessequal", "equals", "moreequal", "notequal")
FETCH_KINDS = (
    "MyAlertRules",
    "SharedAlertRules",
    "UsedAlertRules",
    "UsedSharedAlertRules",
    "VendorAlertRules",
)
PERMISSIONS = ("READ", "EDIT", "FULL")
TIMERANGES = ("timerange_minute", "timerange_hour", "timerange_day")
#: stored when the request leaves them out, so that every fetched row has the same keys
DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(TIMERANGES, 0),
    "query": "",
    "description": "",
    "log_source": [],
    "assigned_to": "",
    "manageable_by": [],
    "attack_tag": [],
    "metadata": [],
}
_FIELDS = (
    Field("searchname", required=True, nonempty=True),
    Field("risk", required=True, choices=("low", "medium", "high", "critical")),
    Field("repos", "strlist", required=True, nonempty=True),
    Field("aggregate", required=True, choices=("min", "max", "avg")),
    Field("condition_option", required=True, choices=CONDITIONS),
    Field("condition_value", "int", required=True, minimum=0),
    Field("limit", "int", required=True, minimum=1),
    *(Field(t, "int", minimum=0) for t in TIMERANGES),
    Field("query"),
    Field("description"),
    Field("log_source", "strlist"),
    Field("assigned_to"),
    Field("manageable_by", "strlist"),
    Field("attack_tag", "strlist"),
    Field("metadata", "list"),
    Field("alert_context_template"),
    Field("apply_jinja_template", "on"),
    Field("flush_on_trigger", "on"),
    Field("throttling_enabled", "on"),
    Field("throttling_field"),
    Field("throttling_time_range", "int", minimum=0),
    Field("search_interval_minute", "int", minimum=1),
    Field("delay_interval_minute", "int", minimum=1, maximum=1440),
    Field("original_data", "bool"),
)
#: settings an edit replaces (whatever is left out of the edit is cleared)
EDITABLE = frozenset(f.name for f in _FIELDS)
_METADATA = Schema(Field("field", required=True, nonempty=True), Field("value", required=True))
_RBAC = Schema(
    Field("group_id", required=True, nonempty=True),
    Field("group_permission", choices=PERMISSIONS),
    Field("user_permissions", "list", nonempty=True),
)
_USER_PERMISSION = Schema(
    Field("user_id", required=True, nonempty=True),
    Field("permission", required=True, choices=PERMISSIONS),
)
_SHARE = Schema(Field("rbac_config", "list", required=True))
_FILTERS = Schema(Field("active", "bool"), Field("log_source", "strlist"))


class AlertRules(Resource):
    """``AlertRules``: searchname unique per node; owner, groups, MITRE ids and repos resolved."""

    name = "AlertRules"
    label = "alert rule"
    key = "searchname"
    readable = False
    deletable = True
    create_schema = Schema(Field("owner", required=True, nonempty=True), *_FIELDS)
    edit_schema = Schema(*_FIELDS)

    @override
    def extra_routes(self) -> list[Route]:
        transfer = Schema(Field("userid", required=True, nonempty=True))
        actions = {
            "activate": None,
            "deactivate": None,
            "unshare": None,
            "transferOwnership": transfer,
        }
        rs = [
            route("POST", f"AlertRules/{{id}}/{a}", self.action(a, s), WRITE)
            for a, s in actions.items()
        ]
        rs.append(route("POST", "AlertRules/{id}/share", self.share, WRITE))
        return rs + [
            route("POST", f"AlertRules/{k}/fetch", self._fetcher(k), FETCH) for k in FETCH_KINDS
        ]

    def share(self, call: Call) -> Op:
        """``POST AlertRules/{id}/share``: ``rbac_config`` items checked synchronously."""
        call.node.require(self.name, call.id)
        config = _SHARE.check(call.data)["rbac_config"]
        items = _RBAC.check_items(config, "rbac_config")
        for i, item in enumerate(items):
            if ("group_permission" in item) == ("user_permissions" in item):
                raise bad(f"rbac_config[{i}]: give either group_permission or user_permissions")
            where = f"rbac_config[{i}].user_permissions"
            item["user_permissions"] = _USER_PERMISSION.check_items(
                item.get("user_permissions", []), where
            )
        return Op(self.name, "share", call.id, {"rbac_config": items})

    def _fetcher(self, kind: str) -> Any:
        def handler(call: Call) -> Op:
            return Op(
                self.name, "fetch", None, {"kind": kind, **_FILTERS.check(call.data)}, fetch=True
            )

        return handler

    @override
    def check_create(self, data: dict[str, Any]) -> dict[str, Any]:
        return _check(self.create_schema.check(data))

    @override
    def check_edit(self, data: dict[str, Any], record: Record) -> dict[str, Any]:
        return _check(self.edit_schema.check(data))

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        self.ensure_unique(node, op.data["searchname"])
        ensure_refs(node, "Users", "owner", [op.data["owner"]], what="user id")
        _ensure_refs(node, op.data)
        record = {"id": node.new_id(), "name": op.data["searchname"], **DEFAULTS, **op.data}
        node.put(self.name, {**record, "active": True, "rbac_config": [], "tid": ""})
        return f"Alert rule {op.data['searchname']!r} created"

    def apply_edit(self, node: NodeView, op: Op) -> str:
        """An edit replaces the rule's settings, like Director's edit form.

        A setting left out is cleared (an absent ``"on"`` flag is off), the owner and the state
        are kept.
        """
        record = self.current(node, op)
        self.ensure_unique(node, op.data["searchname"], exclude=record["id"])
        _ensure_refs(node, op.data)
        kept = {k: v for k, v in record.items() if k not in EDITABLE}
        node.put(self.name, {**kept, **DEFAULTS, **op.data, "name": op.data["searchname"]})
        return f"Alert rule {op.data['searchname']!r} updated"

    def apply_activate(self, node: NodeView, op: Op) -> str:
        """The ``activate`` action: the rule runs."""
        return self._set(node, op, "activated", active=True)

    def apply_deactivate(self, node: NodeView, op: Op) -> str:
        """The ``deactivate`` action: the rule stops running."""
        return self._set(node, op, "deactivated", active=False)

    def apply_unshare(self, node: NodeView, op: Op) -> str:
        """The ``unshare`` action: the rule is shared with no user group."""
        return self._set(node, op, "unshared", rbac_config=[])

    def apply_share(self, node: NodeView, op: Op) -> str:
        """The ``share`` action: ``rbac_config`` names the user groups and their rights."""
        config = op.data["rbac_config"]
        for i, item in enumerate(config):
            ensure_refs(
                node,
                "UserGroups",
                f"rbac_config[{i}].group_id",
                [item["group_id"]],
                what="user group id",
            )
            users = [u["user_id"] for u in item["user_permissions"]]
            ensure_refs(node, "Users", f"rbac_config[{i}].user_permissions", users, what="user id")
        return self._set(node, op, "shared", rbac_config=config)

    def apply_transferOwnership(self, node: NodeView, op: Op) -> str:  # noqa: N802 - URL action name
        """The ``transferOwnership`` action: ``userid`` becomes the rule's owner."""
        ensure_refs(node, "Users", "userid", [op.data["userid"]], what="user id")
        return self._set(node, op, "transferred", owner=op.data["userid"])

    def _set(self, node: NodeView, op: Op, done: str, **changes: Any) -> str:
        record = self.current(node, op)
        node.put(self.name, {**record, **changes})
        return f"Alert rule {record['searchname']!r} {done}"

    def apply_fetch(self, node: NodeView, op: Op) -> list[Record]:
        """Rows of ``AlertRules/<Kind>/fetch`` (My: every rule of the node; Shared: shared ones)."""
        kind = op.data["kind"]
        rules = node.objects(self.name) if kind in ("MyAlertRules", "SharedAlertRules") else []
        if kind == "SharedAlertRules":
            rules = [r for r in rules if r.get("rbac_config")]
        if "active" in op.data:
            rules = [r for r in rules if r["active"] == op.data["active"]]
        if op.data.get("log_source"):
            rules = [r for r in rules if set(r["log_source"]) & set(op.data["log_source"])]
        return rules


def _check(data: dict[str, Any]) -> dict[str, Any]:
    if not any(t in data for t in TIMERANGES):
        raise bad(
            "timerange_minute: required when neither timerange_hour nor timerange_day is given"
        )
    if data.get("throttling_enabled") == "on":
        for name in ("throttling_field", "throttling_time_range"):
            if name not in data:
                raise bad(f"{name}: required when throttling_enabled is on")
    if "metadata" in data:
        data["metadata"] = _METADATA.check_items(data["metadata"], "metadata")
    if data.get("assigned_to") == "":
        del data["assigned_to"]
    return data


def _ensure_refs(node: NodeView, data: dict[str, Any]) -> None:
    if data.get("assigned_to"):
        ensure_refs(node, "Users", "assigned_to", [data["assigned_to"]], what="user id")
    groups = data.get("manageable_by", [])
    ensure_refs(node, "IncidentUserGroups", "manageable_by", groups, what="incident user group id")
    attacks = node.objects("MitreAttacks")
    known = {a["id"] for a in attacks} | {a["hash"] for a in attacks}
    ensure_in(
        "attack_tag", data.get("attack_tag", []), known, "MITRE attack id", "MitreAttacks/fetch"
    )
    repos = [r["repo"] for r in remote_repos(node)]
    ensure_in("repos", data["repos"], repos, "repo", "Repos/RemoteRepos/fetch")


class MitreAttacks(Resource):
    """``MitreAttacks/fetch``: the catalog rows ``{id, hash, attack_id, attack_category, attack_tag}``."""

    name = "MitreAttacks"
    label = "MITRE attack"
    readable = False

    @override
    def extra_routes(self) -> list[Route]:
        return [
            route(
                "POST", "MitreAttacks/fetch", lambda call: Op(self.name, "fetch", fetch=True), FETCH
            )
        ]

    def apply_fetch(self, node: NodeView, op: Op) -> list[Record]:
        """Every MITRE row of the node."""
        return node.objects(self.name)

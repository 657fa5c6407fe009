"""Users (doc §68), UserGroups (doc §67) and IncidentUserGroups (doc §20)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.catalog import catalog
from directorsync.simulator.monitor import Op
from directorsync.simulator.resources.base import Resource, ensure_in, ensure_refs
from directorsync.simulator.routing import FETCH, WRITE, Route, route
from directorsync.simulator.store import Record
from directorsync.simulator.validation import Field, OrderFailed, Schema, bad

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

_PROFILE = (
    Field("email", required=True),
    Field("firstname", required=True, nonempty=True),
    Field("lastname", required=True, nonempty=True),
    Field("usergroup", "strlist", required=True, nonempty=True),
    Field("timezone"),
)


class Users(Resource):
    """``Users``: username unique (2–50 chars); passwords are never returned."""

    name = "Users"
    label = "user"
    key = "username"
    deletable = True
    create_schema = Schema(
        Field("username", required=True),
        Field("password", required=True),
        *_PROFILE,
    )
    edit_schema = Schema(*_PROFILE)
    refresh = ("Users/refreshlist",)

    @override
    def extra_routes(self) -> list[Route]:
        return [
            route("POST", f"Users/{{id}}/{a}", self.action(a), WRITE)
            for a in ("activate", "deactivate", "unlock")
        ]

    @override
    def check_create(self, data: dict[str, Any]) -> dict[str, Any]:
        out = _check_email(self.create_schema.check(data))
        if not 2 <= len(out["username"]) <= 50:
            raise bad(f"username: {out['username']!r} must be 2 to 50 characters long")
        if len(out.pop("password")) < 5:  # checked, never stored (not even in the order)
            raise bad("password: must be at least 5 characters long")
        return out

    @override
    def check_edit(self, data: dict[str, Any], record: Record) -> dict[str, Any]:
        return _check_email(self.edit_schema.check(data))

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        self.ensure_unique(node, op.data["username"])
        record = {
            "id": node.new_id(),
            "username": op.data["username"],
            "active": True,
            "locked": False,
            "tid": "",
        }
        node.put(self.name, _profile(node, record, op.data))
        return f"User {op.data['username']!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        record = self.current(node, op)
        node.put(self.name, _profile(node, record, op.data))
        return f"User {record['username']!r} updated"

    def apply_activate(self, node: NodeView, op: Op) -> str:
        """The ``activate`` action: the user can log in again."""
        return self._set(node, op, "activated", active=True)

    def apply_deactivate(self, node: NodeView, op: Op) -> str:
        """The ``deactivate`` action: the user cannot log in."""
        return self._set(node, op, "deactivated", active=False)

    def apply_unlock(self, node: NodeView, op: Op) -> str:
        """The ``unlock`` action: a locked-out user is unlocked."""
        return self._set(node, op, "unlocked", locked=False)

    def _set(self, node: NodeView, op: Op, done: str, **changes: Any) -> str:
        record = self.current(node, op)
        node.put(self.name, {**record, **changes})
        return f"User {record['username']!r} {done}"

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        if record["active"]:
            raise OrderFailed(
                f"id: user {record['username']!r} must be deactivated before it is deleted"
            )


def _check_email(data: dict[str, Any]) -> dict[str, Any]:
    if data["email"] and "@" not in data["email"]:
        raise bad(f"email: {data['email']!r} is not a valid email address")
    return data


def _profile(node: NodeView, record: Record, data: dict[str, Any]) -> Record:
    ensure_refs(node, "UserGroups", "usergroup", data["usergroup"], what="user group id")
    zone = data.get("timezone", record.get("timezone", "UTC"))
    ensure_in("timezone", [zone], [t["name"] for t in catalog()["timezones"]], "timezone")
    names = {k: data[k] for k in ("email", "firstname", "lastname", "usergroup")}
    return {
        **record,
        **names,
        "fullname": f"{data['firstname']} {data['lastname']}",
        "timezone": zone,
    }


class UserGroups(Resource):
    """``UserGroups``: name unique; a group with users cannot be deleted."""

    name = "UserGroups"
    label = "user group"
    deletable = True
    create_schema = edit_schema = Schema(
        Field("name", required=True, nonempty=True),
        Field("description"),
        Field("object_permission", "dict", required=True),
    )
    refresh = ("UserGroups/refreshlist",)

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        self.ensure_unique(node, op.data["name"])
        record = {
            "id": node.new_id(),
            "description": "",
            "active": True,
            "lpadmin": False,
            "useradmin": False,
            "permission_group": "",
            "query": "",
            "tid": "",
            "users": [],
            **op.data,
        }
        node.put(self.name, record)
        return f"User group {op.data['name']!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        record = self.current(node, op)
        self.ensure_unique(node, op.data["name"], exclude=record["id"])
        node.put(self.name, {**record, **op.data})
        return f"User group {op.data['name']!r} updated"

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        members = [u["username"] for u in node.objects("Users") if record["id"] in u["usergroup"]]
        if members:
            raise OrderFailed(
                f"id: user group {record['name']!r} still has users: {', '.join(members)}"
            )


class IncidentUserGroups(Resource):
    """``IncidentUserGroups``: one incident group per selected user group."""

    name = "IncidentUserGroups"
    label = "incident user group"
    deletable = True
    create_schema = Schema(Field("selected_usergroups", "strlist", required=True, nonempty=True))

    @override
    def extra_routes(self) -> list[Route]:
        fetch = route(
            "POST",
            "IncidentUserGroups/fetch",
            lambda call: Op(self.name, "fetch", fetch=True),
            FETCH,
        )
        return [fetch]

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        selected = op.data["selected_usergroups"]
        ensure_refs(node, "UserGroups", "selected_usergroups", selected, what="user group id")
        for gid in selected:
            group = node.require("UserGroups", gid)
            self.ensure_unique(node, group["name"])
            record = {"id": node.new_id(), "name": group["name"], "tid": "", "user": "admin"}
            node.put(self.name, {**record, "usergroup": gid, "users": list(group["users"])})
        return f"{len(selected)} incident user group(s) created"

    def apply_fetch(self, node: NodeView, op: Op) -> list[Record]:
        """Rows of the deprecated ``IncidentUserGroups/fetch``."""
        return node.objects(self.name)

"""Lists (doc §24): static and dynamic user-defined lists.

Names are written as ``s_name`` / ``d_name`` and stored upper-cased as ``name``; ``age_limit``
is stored in seconds (``agelimit_day/hour/minute`` folded together; 0 for static lists).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.monitor import Op
from directorsync.simulator.resources.base import Resource
from directorsync.simulator.routing import WRITE, Call, Route, route
from directorsync.simulator.store import Record
from directorsync.simulator.validation import ApiError, Field, Schema, bad

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

STATIC, DYNAMIC = "static_list", "dynamic_list"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{0,98}[A-Za-z0-9]$")
_AGE = tuple(
    Field(f"agelimit_{u}", "int", required=True, minimum=0) for u in ("day", "hour", "minute")
)
_SCHEMAS = {
    ("create", STATIC): Schema(
        Field("s_name", required=True), Field("lists", "strlist", required=True)
    ),
    ("create", DYNAMIC): Schema(Field("d_name", required=True), *_AGE),
    ("edit", STATIC): Schema(Field("lists", "strlist", required=True)),
    ("edit", DYNAMIC): Schema(*_AGE),
}
_KINDS = {"static": STATIC, "dynamic": DYNAMIC}


def age_seconds(data: dict[str, Any]) -> int:
    """``agelimit_day/hour/minute`` → seconds."""
    return (
        data["agelimit_day"] * 86400 + data["agelimit_hour"] * 3600 + data["agelimit_minute"] * 60
    )


class Lists(Resource):
    """``Lists``: upper-cased names unique per node across both kinds."""

    name = "Lists"
    label = "list"
    fold_key = True
    deletable = True
    refresh = ("Lists/refreshlist",)

    @override
    def extra_routes(self) -> list[Route]:
        rs = []
        for segment, kind in _KINDS.items():
            rs.append(route("POST", f"Lists/{segment}", self._creator(kind), WRITE))
            rs.append(route("PUT", f"Lists/{segment}/{{id}}", self._editor(kind), WRITE))
        return rs

    def _creator(self, kind: str) -> Any:
        def handler(call: Call) -> Op:
            data = _SCHEMAS[("create", kind)].check(call.data)
            field = "s_name" if kind == STATIC else "d_name"
            if not _NAME.match(data[field]):
                raise bad(
                    f"{field}: {data[field]!r} must be 2-100 letters, digits or underscores, "
                    "not starting or ending with an underscore"
                )
            return Op(self.name, "create", None, {**data, "kind": kind})

        return handler

    def _editor(self, kind: str) -> Any:
        def handler(call: Call) -> Op:
            record = call.node.get(self.name, call.id)
            if record is None or record["list_type"] != kind:
                raise ApiError(
                    404, f"Lists: no {kind} with id {call.id!r} on node {call.node.info.name}"
                )
            return Op(
                self.name,
                "edit",
                call.id,
                {**_SCHEMAS[("edit", kind)].check(call.data), "kind": kind},
            )

        return handler

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        static = op.data["kind"] == STATIC
        name = (op.data["s_name"] if static else op.data["d_name"]).upper()
        self.ensure_unique(node, name)
        record = {
            "id": node.new_id(),
            "name": name,
            "lists": op.data["lists"] if static else [],
            "user": "admin",
            "tid": "",
            "lists_vendor": [],
            "list_type": op.data["kind"],
            "age_limit": 0 if static else age_seconds(op.data),
            "last_updated": "",
            "active": True,
            "hidden": False,
            "vid": "",
        }
        node.put(self.name, record)
        return f"List {name!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        record = self.current(node, op)
        change: Record = (
            {"lists": op.data["lists"]}
            if op.data["kind"] == STATIC
            else {"age_limit": age_seconds(op.data)}
        )
        node.put(self.name, {**record, **change})
        return f"List {record['name']!r} updated"

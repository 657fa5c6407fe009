"""What every resource shares: CRUD routes, read shape, natural-key and reference checks.

A resource declares its URL segment (``name``), its natural key, the schemas of its create and
edit bodies, and implements ``apply_<action>(node, op)`` for what happens when an order
completes. Synchronous checks (``check_create``/``check_edit``) raise 400; checks against state
(duplicates, references, objects in use) raise :class:`OrderFailed` inside ``apply_*``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from directorsync.simulator.deletes import refuse_builtin
from directorsync.simulator.monitor import Op
from directorsync.simulator.routing import WRITE, Call, Route, route
from directorsync.simulator.store import Record
from directorsync.simulator.validation import OrderFailed, Schema

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView


class Resource:
    """Base of every resource (see the module docstring)."""

    name: ClassVar[str]
    label: ClassVar[str]
    key: ClassVar[str] = "name"
    fold_key: ClassVar[bool] = False
    readable: ClassVar[bool] = True
    deletable: ClassVar[bool] = False
    create_schema: ClassVar[Schema | None] = None
    edit_schema: ClassVar[Schema | None] = None
    #: templates of ``POST …/refreshlist`` endpoints answered with a plain successful order
    refresh: ClassVar[tuple[str, ...]] = ()

    def routes(self) -> list[Route]:
        """CRUD routes per the class flags, refresh endpoints, plus :meth:`extra_routes`."""
        n = self.name
        rs = []
        if self.readable:
            rs += [route("GET", n, self.list_all), route("GET", f"{n}/{{id}}", self.get)]
        if self.create_schema is not None:
            rs.append(route("POST", n, self.create, WRITE))
        if self.edit_schema is not None:
            rs.append(route("PUT", f"{n}/{{id}}", self.edit, WRITE))
        if self.deletable:
            rs.append(route("DELETE", f"{n}/{{id}}", self.delete, WRITE))
        rs += [route("POST", t, self.refresh_list, WRITE) for t in self.refresh]
        return rs + self.extra_routes()

    def extra_routes(self) -> list[Route]:
        """Routes beyond CRUD (actions, fetches, lookups)."""
        return []

    # -- read side -------------------------------------------------------------------------

    def list_all(self, call: Call) -> list[Record]:
        """``GET {name}``: a bare array of read-shaped records."""
        return [self.read(call.node, r) for r in call.node.listed(self.name)]

    def get(self, call: Call) -> Record:
        """``GET {name}/{id}``."""
        return self.read(call.node, call.node.require(self.name, call.id))

    def read(self, node: NodeView, record: Record) -> Record:
        """The read shape of a stored record (default: as stored)."""
        return record

    # -- write side, synchronous -----------------------------------------------------------

    def create(self, call: Call) -> Op:
        """``POST {name}``: checked body → create op."""
        return Op(self.name, "create", None, self.check_create(call.data))

    def edit(self, call: Call) -> Op:
        """``PUT {name}/{id}``: the object must exist (404)."""
        record = call.node.require(self.name, call.id)
        return Op(self.name, "edit", call.id, self.check_edit(call.data, record))

    def delete(self, call: Call) -> Op:
        """``DELETE {name}/{id}``: the object must exist (404)."""
        call.node.require(self.name, call.id)
        return Op(self.name, "delete", call.id)

    def refresh_list(self, call: Call) -> Op:
        """``POST …/refreshlist``."""
        return Op(self.name, "refresh")

    def action(self, name: str, schema: Schema | None = None) -> Any:
        """A handler for ``POST {name}/{id}/<action>``: the object must exist."""

        def handler(call: Call) -> Op:
            call.node.require(self.name, call.id)
            data = schema.check(call.data) if schema else {}
            return Op(self.name, name, call.id, data)

        return handler

    def check_create(self, data: dict[str, Any]) -> dict[str, Any]:
        """The checked create body (400 on malformed input)."""
        assert self.create_schema is not None
        return self.create_schema.check(data)

    def check_edit(self, data: dict[str, Any], record: Record) -> dict[str, Any]:
        """The checked edit body (400 on malformed input)."""
        assert self.edit_schema is not None
        return self.edit_schema.check(data)

    # -- write side, when the order completes ----------------------------------------------

    #: server-set fields a new record starts with (for resources that implement :meth:`build`)
    initial: ClassVar[Record] = {}

    def build(self, node: NodeView, data: dict[str, Any], oid: str) -> Record:
        """The record's fields from a checked body, after the checks against the node."""
        raise NotImplementedError(f"{self.name} implements its own apply_create/apply_edit")

    def apply_create(self, node: NodeView, op: Op) -> str:
        """Store a new record: :attr:`initial` + :meth:`build`."""
        record = {**self.initial, **self.build(node, op.data, node.new_id())}
        node.put(self.name, record)
        return f"{self.label.capitalize()} {record[self.key]!r} created"

    def apply_edit(self, node: NodeView, op: Op) -> str:
        """Replace the fields :meth:`build` returns; server-set fields stay."""
        current = self.current(node, op)
        record = {**current, **self.build(node, op.data, current["id"])}
        node.put(self.name, record)
        return f"{self.label.capitalize()} {record[self.key]!r} updated"

    def apply_delete(self, node: NodeView, op: Op) -> str:
        """Remove the object unless it is built in or something still uses it."""
        record = self.current(node, op)
        refuse_builtin(node, self.name, self.label, record.get(self.key), record["id"])
        self.check_unused(node, record)
        node.delete(self.name, record["id"])
        return f"{self.label} {record.get(self.key)!r} deleted"

    def apply_refresh(self, node: NodeView, op: Op) -> str:
        """Refresh endpoints change no object; listings lagging behind writes catch up."""
        node.director.forget_stale(node.info.key, self.name)
        return f"{self.name} list refreshed"

    def check_unused(self, node: NodeView, record: Record) -> None:
        """Raise :class:`OrderFailed` if another object refers to ``record``."""

    def current(self, node: NodeView, op: Op) -> Record:
        """The object an edit/delete/action addresses (it may have vanished since)."""
        record = node.get(self.name, op.target or "")
        if record is None:
            raise OrderFailed(f"id: {self.label} {op.target!r} no longer exists")
        return record

    def ensure_unique(self, node: NodeView, value: Any, exclude: str | None = None) -> None:
        """Fail if another object of this resource has the natural key ``value``."""
        other = node.find(self.name, self.key, value, fold=self.fold_key)
        if other is not None and other["id"] != exclude:
            raise OrderFailed(
                f"{self.key}: a {self.label} named {value!r} already exists "
                f"on node {node.info.name} (id {other['id']})"
            )


def ensure_refs(
    node: NodeView, resource: str, field: str, values: Iterable[Any], *, by: str = "id", what: str
) -> None:
    """Fail unless every value is the ``by`` field of some ``resource`` record on the node."""
    known = {r.get(by) for r in node.objects(resource)}
    missing = [v for v in values if v not in known]
    if missing:
        shown = ", ".join(repr(v) for v in missing)
        raise OrderFailed(f"{field}: unknown {what} {shown} on node {node.info.name}")


def ensure_in(
    field: str, values: Iterable[Any], allowed: Iterable[Any], what: str, hint: str = ""
) -> None:
    """Fail unless every value is in ``allowed``; ``hint`` says where the valid values are listed."""
    known = set(allowed)
    missing = [v for v in values if v not in known]
    if missing:
        where = f" (see {hint})" if hint else ""
        raise OrderFailed(f"{field}: unknown {what} {', '.join(repr(v) for v in missing)}{where}")

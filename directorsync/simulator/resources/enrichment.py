"""EnrichmentPolicy (doc §13) and EnrichmentSource (doc §14, read-only catalog)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.resources.base import Resource, ensure_refs
from directorsync.simulator.resources.policies import ensure_not_in_pp
from directorsync.simulator.store import Record
from directorsync.simulator.validation import Field, Schema, bad

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

_SPEC = Schema(
    Field("source", required=True, nonempty=True),
    Field("rules", "list"),
    Field("criteria", "list"),
)
_RULE = Schema(
    Field("category", required=True, choices=("simple", "type_based")),
    Field("operation", choices=("Equals",)),
    Field("prefix", "bool"),
    Field("event_key"),
    Field("source_key"),
    Field("type", choices=("ip", "string", "num")),
)
_CRITERION = Schema(
    Field("type", required=True, nonempty=True), Field("key", required=True), Field("value")
)


class EnrichmentSource(Resource):
    """``EnrichmentSource``: the node's sources (catalog), list/get and refreshlist."""

    name = "EnrichmentSource"
    label = "enrichment source"
    key = "source_name"
    refresh = ("EnrichmentSource/refreshlist",)


class EnrichmentPolicy(Resource):
    """``EnrichmentPolicy``: every specification's ``source`` must be a source on the node."""

    name = "EnrichmentPolicy"
    label = "enrichment policy"
    deletable = True
    create_schema = edit_schema = Schema(
        Field("name", required=True, nonempty=True),
        Field("description"),
        Field("specifications", "list", required=True, nonempty=True),
    )

    @override
    def check_create(self, data: dict[str, Any]) -> dict[str, Any]:
        out = self.create_schema.check(data)
        out["specifications"] = [_spec(s, i) for i, s in enumerate(out["specifications"])]
        return out

    @override
    def check_edit(self, data: dict[str, Any], record: Record) -> dict[str, Any]:
        return self.check_create(data)

    @override
    def build(self, node: NodeView, data: dict[str, Any], oid: str) -> Record:
        self.ensure_unique(node, data["name"], exclude=oid)
        for i, spec in enumerate(data["specifications"]):
            field = f"specifications[{i}].source"
            ensure_refs(
                node,
                "EnrichmentSource",
                field,
                [spec["source"]],
                by="source_name",
                what="enrichment source",
            )
        return {
            "id": oid,
            "name": data["name"],
            "description": data.get("description", ""),
            "specifications": data["specifications"],
        }

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        ensure_not_in_pp(
            node, "enrich_policy", record["id"], f"enrichment policy {record['name']!r}"
        )


def _spec(spec: Any, i: int) -> dict[str, Any]:
    where = f"specifications[{i}]"
    out = _SPEC.check(spec, f"{where}.")
    rules = _RULE.check_items(out.get("rules", []), f"{where}.rules")
    for j, rule in enumerate(rules):
        needed = ("event_key",) if rule["category"] == "simple" else ("prefix", "type")
        for name in needed:
            if name not in rule:
                raise bad(
                    f"{where}.rules[{j}].{name}: required when category is {rule['category']}"
                )
    _CRITERION.check_items(out.get("criteria", []), f"{where}.criteria")
    return {**spec, "rules": out.get("rules", []), "criteria": out.get("criteria", [])}

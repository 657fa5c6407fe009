"""RoutingPolicies (doc §42), NormalizationPolicy (doc §30) and ProcessingPolicy (doc §37)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.catalog import catalog
from directorsync.simulator.monitor import Op
from directorsync.simulator.resources.base import Resource, ensure_in, ensure_refs
from directorsync.simulator.store import Record
from directorsync.simulator.validation import Field, OrderFailed, Schema, split_csv

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

NONE = "None"

_CRITERION = Schema(
    Field("type", required=True, choices=("KeyPresent", "KeyPresentValueMatches")),
    Field("key", required=True, nonempty=True),
    Field("value"),
    Field("repo"),
    Field("drop"),
)


class RoutingPolicies(Resource):
    """``RoutingPolicies``: repos by name; criteria kept in the order written."""

    name = "RoutingPolicies"
    label = "routing policy"
    key = "policy_name"
    deletable = True
    initial = {"active": True, "tid": "", "user": "admin"}
    create_schema = edit_schema = Schema(
        Field("policy_name", required=True, nonempty=True),
        Field("catch_all", required=True, nonempty=True),
        Field("routing_criteria", "list"),
    )

    @override
    def check_create(self, data: dict[str, Any]) -> dict[str, Any]:
        out = self.create_schema.check(data)
        criteria = _CRITERION.check_items(out.get("routing_criteria", []), "routing_criteria")
        out["routing_criteria"] = [
            {
                "type": c["type"],
                "key": c["key"],
                "value": c.get("value", ""),
                "repo": c.get("repo", ""),
                "drop": c.get("drop", "store"),
            }
            for c in criteria
        ]
        return out

    @override
    def check_edit(self, data: dict[str, Any], record: Record) -> dict[str, Any]:
        return self.check_create(data)

    @override
    def build(self, node: NodeView, data: dict[str, Any], oid: str) -> Record:
        self.ensure_unique(node, data["policy_name"], exclude=oid)
        ensure_refs(node, "Repos", "catch_all", [data["catch_all"]], by="name", what="repo")
        for i, c in enumerate(data["routing_criteria"]):
            if c["repo"]:
                ensure_refs(
                    node,
                    "Repos",
                    f"routing_criteria[{i}].repo",
                    [c["repo"]],
                    by="name",
                    what="repo",
                )
        return {"id": oid, **data}

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        ensure_not_in_pp(
            node, "routing_policy", record["id"], f"routing policy {record['policy_name']!r}"
        )


class NormalizationPolicy(Resource):
    """``NormalizationPolicy``: packages and compiled normalizers as comma-separated strings.

    The documented read shape has ``normalization_packages`` (ids) and no
    ``compiled_normalizer``; the knob ``np_read_compiled_normalizer`` adds it.
    """

    name = "NormalizationPolicy"
    label = "normalization policy"
    deletable = True
    create_schema = Schema(
        Field("name", required=True, nonempty=True),
        Field("norm_packages", "csv"),
        Field("compiled_normalizer", "csv"),
    )
    edit_schema = Schema(Field("norm_packages", "csv"), Field("compiled_normalizer", "csv"))

    @override
    def read(self, node: NodeView, record: Record) -> Record:
        if node.knobs.np_read_compiled_normalizer:
            return record
        return {k: v for k, v in record.items() if k != "compiled_normalizer"}

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        self.ensure_unique(node, op.data["name"])
        record = {
            "id": node.new_id(),
            "name": op.data["name"],
            "active": True,
            "tid": "",
            "normalization_packages": [],
            "selected_signatures": [],
            "ordered_signatures": [],
            "compiled_normalizer": "",
        }
        node.put(self.name, {**record, **_np_fields(node, op.data)})
        return f"Normalization policy {op.data['name']!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        record = self.current(node, op)
        node.put(self.name, {**record, **_np_fields(node, op.data)})
        return f"Normalization policy {record['name']!r} updated"

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        ensure_not_in_pp(
            node, "norm_policy", record["name"], f"normalization policy {record['name']!r}"
        )


def _np_fields(node: NodeView, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "norm_packages" in data:
        ids = split_csv(data["norm_packages"])
        ensure_refs(
            node, "NormalizationPackage", "norm_packages", ids, what="normalization package id"
        )
        out["normalization_packages"] = ids
    if "compiled_normalizer" in data:
        names = split_csv(data["compiled_normalizer"])
        known = [c["name"] for c in catalog()["compiled_normalizers"]]
        ensure_in("compiled_normalizer", names, known, "compiled normalizer")
        out["compiled_normalizer"] = ",".join(names)
    return out


class ProcessingPolicy(Resource):
    """``ProcessingPolicy``: NP by name, EP and RP by id, ``"None"`` for unset references."""

    name = "ProcessingPolicy"
    label = "processing policy"
    key = "policy_name"
    deletable = True
    initial = {"active": True, "tid": ""}
    create_schema = edit_schema = Schema(
        Field("policy_name", required=True, nonempty=True),
        Field("norm_policy", required=True),
        Field("enrich_policy", required=True),
        Field("routing_policy", required=True),
    )

    @override
    def build(self, node: NodeView, data: dict[str, Any], oid: str) -> Record:
        self.ensure_unique(node, data["policy_name"], exclude=oid)
        refs = (
            ("norm_policy", "NormalizationPolicy", "name", "normalization policy name"),
            ("enrich_policy", "EnrichmentPolicy", "id", "enrichment policy id"),
            ("routing_policy", "RoutingPolicies", "id", "routing policy id"),
        )
        for field, resource, by, what in refs:
            if data[field] != NONE:
                ensure_refs(node, resource, field, [data[field]], by=by, what=f'{what} (or "None")')
        return {"id": oid, **{k: data[k] for k in ("policy_name", *(r[0] for r in refs))}}

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        for device in node.objects("Devices"):
            for app in device.get("col_apps", []):
                if app.get("processpolicy") == record["id"]:
                    raise OrderFailed(
                        f"id: processing policy {record['policy_name']!r} is used by the "
                        f"{app['app']} of device {device['name']!r}"
                    )


def ensure_not_in_pp(node: NodeView, field: str, value: str, what: str) -> None:
    """Refuse (OrderFailed) when a processing policy's ``field`` is ``value``: it is in use."""
    for pp in node.objects("ProcessingPolicy"):
        if pp.get(field) == value:
            raise OrderFailed(f"id: {what} is used by processing policy {pp['policy_name']!r}")

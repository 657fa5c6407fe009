"""DeviceGroups (doc §8) and Devices (doc §9), kept consistent with each other.

``DeviceGroups.devices`` and ``Devices.device_groups`` are two views of one membership relation
(an inference: the doc does not say so): writing either side updates the other.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.catalog import catalog
from directorsync.simulator.deletes import devices_in_group, refuse_used
from directorsync.simulator.monitor import Op
from directorsync.simulator.resources.base import Resource, ensure_in, ensure_refs
from directorsync.simulator.resources.collectors import ensure_not_a_used_proxy
from directorsync.simulator.routing import Call, Route, route
from directorsync.simulator.store import Record
from directorsync.simulator.validation import Field, OrderFailed, Schema, bad

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

RISKS = ("Minimal", "Minor", "Major", "Critical")


def _set_membership(
    node: NodeView, resource: str, field: str, ids: set[str], member: str, add: bool
) -> None:
    """Add or remove ``member`` in the ``field`` list of each ``resource`` record in ``ids``."""
    for oid in ids:
        record = node.get(resource, oid)
        if record is None:
            continue
        members = [m for m in record.get(field, []) if m != member]
        node.put(resource, {**record, field: members + [member] if add else members})


class DeviceGroups(Resource):
    """``DeviceGroups``: unique non-empty name; ``description`` mandatory (doc)."""

    name = "DeviceGroups"
    label = "device group"
    deletable = True
    create_schema = edit_schema = Schema(
        Field("name", required=True),
        Field("description", required=True),
        Field("devices", "strlist"),
    )

    @override
    def check_create(self, data: dict[str, Any]) -> dict[str, Any]:
        out = self.create_schema.check(data)
        if not out["name"]:
            raise bad("name: must not be empty")
        return out

    @override
    def edit(self, call: Call) -> Op:
        record = call.node.require(self.name, call.id)
        out = self.edit_schema.check(call.data)
        if not out["name"]:
            if not call.node.knobs.lenient_devicegroup_empty_name:
                raise bad(
                    "name: must not be empty (Director requires the group name on edit; "
                    "the knob lenient_devicegroup_empty_name keeps the old name instead)"
                )
            out["name"] = record["name"]
        return Op(self.name, "edit", call.id, out)

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        self.ensure_unique(node, op.data["name"])
        devices = op.data.get("devices", [])
        ensure_refs(node, "Devices", "devices", devices, what="device id")
        record = {"id": node.new_id(), **op.data, "devices": list(dict.fromkeys(devices))}
        node.put(self.name, record)
        _set_membership(node, "Devices", "device_groups", set(devices), record["id"], add=True)
        return f"Device group {op.data['name']!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        record = self.current(node, op)
        self.ensure_unique(node, op.data["name"], exclude=record["id"])
        current: list[str] = record.get("devices", [])
        devices = list(dict.fromkeys(op.data.get("devices", current)))
        ensure_refs(node, "Devices", "devices", devices, what="device id")
        node.put(self.name, {**record, **op.data, "devices": devices})
        old, new = set(record.get("devices", [])), set(devices)
        _set_membership(node, "Devices", "device_groups", old - new, record["id"], add=False)
        _set_membership(node, "Devices", "device_groups", new - old, record["id"], add=True)
        return f"Device group {op.data['name']!r} updated"

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        members = devices_in_group(node, record)
        if members:
            what = f"device {members[0]!r}" + (
                f" (and {len(members) - 1} more)" if len(members) > 1 else ""
            )
            refuse_used(f"device group {record['name']!r}", what)


class Devices(Resource):
    """``Devices``: the written fields are read back under other names.

    Write ``devicegroup``/``logpolicy``/risks → read ``device_groups``/``log_policies``/
    ``risk_values``; collectors live in ``col_apps``.
    """

    name = "Devices"
    label = "device"
    deletable = True
    create_schema = edit_schema = Schema(
        Field("name", required=True, nonempty=True),
        Field("ip", "strlist", required=True, nonempty=True),
        Field("availability", required=True, choices=RISKS),
        Field("confidentiality", required=True, choices=RISKS),
        Field("integrity", required=True, choices=RISKS),
        Field("timezone"),
        Field("devicegroup", "strlist"),
        Field("distributed_collector", "strlist"),
        Field("logpolicy", "strlist"),
    )

    @override
    def extra_routes(self) -> list[Route]:
        return [route("GET", "Devices/{id}/plugins", self.plugins)]

    def plugins(self, call: Call) -> list[dict[str, Any]]:
        """``GET Devices/{id}/plugins`` (doc §9.7 shape; ``plugins_with_uuid`` adds two keys)."""
        device = call.node.require(self.name, call.id)
        return [
            _plugin_item(device, app, call.node.knobs.plugins_with_uuid)
            for app in device["col_apps"]
        ]

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        record = {
            "id": node.new_id(),
            "col_apps": [],
            "active": True,
            "tid": "",
            "type": None,
            "device_groups": [],
            "distributed_collector": [],
            "log_policies": [],
            "timezone": "UTC",
        }
        self._write(node, record, op.data)
        return f"Device {op.data['name']!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        self._write(node, self.current(node, op), op.data)
        return f"Device {op.data['name']!r} updated"

    def _write(self, node: NodeView, record: Record, data: dict[str, Any]) -> None:
        self.ensure_unique(node, data["name"], exclude=record["id"])
        current: list[str] = record["device_groups"]
        groups = list(dict.fromkeys(data.get("devicegroup", current)))
        ensure_refs(node, "DeviceGroups", "devicegroup", groups, what="device group id")
        zones = [t["name"] for t in catalog()["timezones"]]
        ensure_in("timezone", [data.get("timezone", record["timezone"])], zones, "timezone")
        for field in ("distributed_collector", "logpolicy"):
            if data.get(field):
                raise OrderFailed(
                    f"{field}: unknown id {data[field][0]!r} (the simulator has none)"
                )
        risks = {k: data[k] for k in ("availability", "confidentiality", "integrity")}
        node.put(
            self.name,
            {
                **record,
                "name": data["name"],
                "ip": data["ip"],
                "has_hostname": any(not _is_address(ip) for ip in data["ip"]),
                "risk_values": risks,
                "timezone": data.get("timezone", record["timezone"]),
                "device_groups": groups,
            },
        )
        old, new = set(record["device_groups"]), set(groups)
        _set_membership(node, "DeviceGroups", "devices", old - new, record["id"], add=False)
        _set_membership(node, "DeviceGroups", "devices", new - old, record["id"], add=True)

    @override
    def apply_delete(self, node: NodeView, op: Op) -> str:
        record = self.current(node, op)
        _set_membership(
            node, "DeviceGroups", "devices", set(record["device_groups"]), record["id"], add=False
        )
        return super().apply_delete(node, op)

    @override
    def check_unused(self, node: NodeView, record: Record) -> None:
        ensure_not_a_used_proxy(node, record)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _plugin_item(device: Record, app: dict[str, Any], with_uuid: bool) -> dict[str, Any]:
    item = {
        "CSRFToken": hashlib.sha1(app["uuid"].encode()).hexdigest()[:15],
        "LOGGEDINUSER": "admin",
        "app": app["app"],
        "charset": app.get("charset", ""),
        "hasLCP": "0",
        "ips": ",".join(device["ip"]),
        "normalizer": "None",
        "parser": app.get("parser", ""),
        "proxy_condition": app.get("proxy_condition", "None"),
        "repo": "default",
        "requestType": "formsubmit",
        "sid": app.get("sid", ""),
    }
    if with_uuid:
        item.update(uuid=app["uuid"], processpolicy=app.get("processpolicy", "None"))
    return item

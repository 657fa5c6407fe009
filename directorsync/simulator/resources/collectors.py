"""SyslogCollector (doc §51): lives in its device's ``col_apps``; addressed by ``uuid``.

There is no List/Get: collectors are read through ``GET Devices`` (``col_apps[]`` with ``uuid``,
``processpolicy``, ``proxy_ip``, ``hostname``) and ``GET Devices/{id}/plugins``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from directorsync.simulator.catalog import catalog
from directorsync.simulator.monitor import Op
from directorsync.simulator.resources.base import Resource, ensure_in, ensure_refs
from directorsync.simulator.routing import WRITE, Call, Route, route
from directorsync.simulator.store import Record
from directorsync.simulator.validation import ApiError, Field, OrderFailed, Schema, bad

if TYPE_CHECKING:
    from directorsync.simulator.engine import NodeView

APP = "SyslogCollector"
CONDITIONS = ("use_as_proxy", "uses_proxy", "None")
_SCHEMA = Schema(
    Field("proxy_condition", required=True, choices=CONDITIONS),
    Field("device_id"),
    Field("policy_id"),
    Field("parser", choices=tuple(catalog()["syslog_parsers"])),
    Field("charset"),
    Field("processpolicy"),
    Field("proxy_ip", "strlist"),
    Field("hostname", "strlist"),
)


def find_collector(node: NodeView, uuid: str) -> tuple[Record, dict[str, Any]] | None:
    """The device and col_app of the SyslogCollector ``uuid``, or None."""
    for device in node.objects("Devices"):
        for app in device.get("col_apps", []):
            if app.get("app") == APP and app.get("uuid") == uuid:
                return device, app
    return None


class SyslogCollector(Resource):
    """``SyslogCollector``: create / edit / trash; one per device."""

    name = APP
    label = "syslog collector"
    readable = False

    @override
    def routes(self) -> list[Route]:
        return [
            route("POST", APP, self.create, WRITE),
            route("PUT", f"{APP}/{{id}}", self.edit, WRITE),
            route("DELETE", f"{APP}/{{id}}", self.delete, WRITE),
        ]

    @override
    def create(self, call: Call) -> Op:
        data = _check(call.data)
        if not data.get("device_id") and not data.get("policy_id"):
            raise bad("device_id: required (or policy_id)")
        return Op(APP, "create", None, data)

    @override
    def edit(self, call: Call) -> Op:
        _require(call.node, call.id)
        return Op(APP, "edit", call.id, _check(call.data))

    @override
    def delete(self, call: Call) -> Op:
        _require(call.node, call.id)
        return Op(APP, "delete", call.id)

    @override
    def apply_create(self, node: NodeView, op: Op) -> str:
        if op.data.get("policy_id"):
            raise OrderFailed(f"policy_id: unknown log collection policy {op.data['policy_id']!r}")
        ensure_refs(node, "Devices", "device_id", [op.data["device_id"]], what="device id")
        device = node.require("Devices", op.data["device_id"])
        existing = [a for a in device["col_apps"] if a.get("app") == APP]
        if existing:
            raise OrderFailed(
                f"device_id: device {device['name']!r} already has a SyslogCollector "
                f"(uuid {existing[0]['uuid']}); edit it with PUT SyslogCollector/{{uuid}}"
            )
        app = {"app": APP, "uuid": node.new_uuid(), "sid": f"syslog|device-{device['name']}"}
        _put_app(node, device, {**app, **_settings(node, op.data)})
        return f"SyslogCollector of device {device['name']!r} created"

    @override
    def apply_edit(self, node: NodeView, op: Op) -> str:
        device, app = _current(node, op)
        settings = _settings(node, op.data)
        _put_app(node, device, {k: app[k] for k in ("app", "uuid", "sid")} | settings)
        return f"SyslogCollector of device {device['name']!r} updated"

    @override
    def apply_delete(self, node: NodeView, op: Op) -> str:
        device, app = _current(node, op)
        if app.get("proxy_condition") == "use_as_proxy":
            ensure_not_a_used_proxy(node, device)
        apps = [a for a in device["col_apps"] if a.get("uuid") != app["uuid"]]
        node.put("Devices", {**device, "col_apps": apps})
        return f"SyslogCollector of device {device['name']!r} deleted"


def _check(data: dict[str, Any]) -> dict[str, Any]:
    out = _SCHEMA.check(data)
    condition = out["proxy_condition"]
    needed = {"use_as_proxy": ("parser", "charset"), "None": ("parser", "charset", "processpolicy")}
    for name in needed.get(condition, ("processpolicy",)):
        if not out.get(name):
            raise bad(f"{name}: required when proxy_condition is {condition}")
    return out


def _require(node: NodeView, uuid: str) -> None:
    if find_collector(node, uuid) is None:
        raise ApiError(
            404, f"SyslogCollector: no collector with uuid {uuid!r} on node {node.info.name}"
        )


def _current(node: NodeView, op: Op) -> tuple[Record, dict[str, Any]]:
    found = find_collector(node, op.target or "")
    if found is None:
        raise OrderFailed(f"id: SyslogCollector {op.target!r} no longer exists")
    return found


def _settings(node: NodeView, data: dict[str, Any]) -> dict[str, Any]:
    """The collector's stored settings, after checking them against the node."""
    if data.get("charset"):
        ensure_in("charset", [data["charset"]], catalog()["charsets"], "charset", "GET Charsets")
    policy = data.get("processpolicy", "None")
    if policy != "None":
        ensure_refs(
            node, "ProcessingPolicy", "processpolicy", [policy], what="processing policy id"
        )
    proxies = data.get("proxy_ip", [])
    if data["proxy_condition"] == "uses_proxy":
        _ensure_proxies(node, proxies)
    return {
        "proxy_condition": data["proxy_condition"],
        "parser": data.get("parser", ""),
        "charset": data.get("charset", ""),
        "processpolicy": policy,
        "proxy_ip": proxies,
        "hostname": data.get("hostname", []),
    }


def _proxy_ips(node: NodeView) -> dict[str, str]:
    """IP → device name of every device that has a ``use_as_proxy`` SyslogCollector."""
    return {
        ip: device["name"]
        for device in node.objects("Devices")
        if any(a.get("proxy_condition") == "use_as_proxy" for a in device.get("col_apps", []))
        for ip in device["ip"]
    }


def _ensure_proxies(node: NodeView, proxies: list[str]) -> None:
    known = _proxy_ips(node)
    for i, ip in enumerate(proxies):
        if ip not in known:
            raise OrderFailed(
                f"proxy_ip[{i}]: {ip!r} is not the IP of a device with a use_as_proxy SyslogCollector"
            )


def ensure_not_a_used_proxy(node: NodeView, device: Record) -> None:
    """Fail if another device's collector uses one of ``device``'s IPs as its proxy."""
    ips = set(device["ip"])
    for other in node.objects("Devices"):
        for app in other.get("col_apps", []):
            if other["id"] != device["id"] and ips & set(app.get("proxy_ip", [])):
                raise OrderFailed(
                    f"id: device {device['name']!r} is the proxy of device {other['name']!r}"
                )


def _put_app(node: NodeView, device: Record, app: dict[str, Any]) -> None:
    """Replace the col_app with the same uuid in place, or append it."""
    apps = [app if a.get("uuid") == app["uuid"] else a for a in device["col_apps"]]
    if app not in apps:
        apps.append(app)
    node.put("Devices", {**device, "col_apps": apps})

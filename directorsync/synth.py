"""Workbooks made by DirectorSync itself: the demo workbook and synthetic workbooks of any size.

The demo workbook (:func:`demo_frames`, :func:`write_demo_workbook`) is small, hand-written and
in exactly the format of the real tenant workbooks (same sheets, same columns, same quirks: ` | `
multi-values, text numbers, NaN for empty cells, 24-hex source ids in ``*_id`` columns, JSON in
alert columns). It holds a few deliberately bad rows, listed in :data:`DEMO_BAD_ROWS` with their
Excel row numbers (header = row 1).

Synthetic workbooks (:func:`synthetic_frames`, :func:`write_synthetic_workbook`,
:func:`write_synthetic_csv`) scale the ``Device`` sheet to any number of rows for benchmarks;
:func:`synthetic_inventory` returns the same devices as Director would list them, with a fraction
changed or missing. Everything is deterministic: the same arguments give the same data.

``directorsync make-workbook OUT.xlsx [--demo | --devices N] [--seed N] [--csv]`` is the CLI.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "DEMO_BAD_ROWS",
    "RISK_LEVELS",
    "SYNTH_GROUPS",
    "TENANT",
    "demo_frames",
    "make_workbook_command",
    "synthetic_frames",
    "synthetic_group_inventory",
    "synthetic_inventory",
    "write_csv",
    "write_demo_workbook",
    "write_synthetic_csv",
    "write_synthetic_workbook",
    "write_xlsx",
]

#: Tenant the demo workbook belongs to (tenant tokens appear in the ``original_*`` names).
TENANT = "demo"

#: Sheet name -> column names, in the order of the real tenant workbooks.
COLUMNS: dict[str, tuple[str, ...]] = {
    sheet: tuple(names.split())
    for sheet, names in {
        "Repo": "repo_number original_repo_name cleaned_repo_name storage_paths retention_days"
        " active used_size",
        "RoutingPolicy": "original_policy_name cleaned_policy_name active catch_all rule_type key"
        " value repo drop policy_id",
        "NormalizationPolicy": "policy_name normalization_packages compiled_normalizer",
        "ProcessingPolicy": "original_policy_name cleaned_policy_name active norm_policy"
        " enrich_policy routing_policy_id policy_id",
        "EnrichmentPolicy": "spec_index policy_name description tags active source policy_id",
        "EnrichmentRules": "policy_name source spec_index category source_key prefix operation"
        " type event_key",
        "EnrichmentCriteria": "policy_name source spec_index type key value",
        "Device": "device_id name description type tags ip fqdn active timezone has_hostname"
        " device_groups distributed_collector confidentiality integrity availability",
        "DeviceFetcher": "device_id device_name app sid parser processpolicy charset uuid path"
        " excludes hasLCP client_id api_key uri fetch_interval LOGGEDINUSER proxy"
        " authorization_url client_secret events_url distributed_collector tenant_id"
        " workspace_id endpoint resource user_query generated requestType ips proxy_condition"
        " CSRFToken proxy_ip hostname",
        "DeviceGroups": "group_id name description active device_ids tags",
        "Alert": "name settings.repos settings.user settings.assigned_to settings.visible_to_users"
        " settings.visible_to alert_index settings.vid settings.used_from settings.active"
        " settings.flush_on_trigger settings.description settings.data_privacy_request"
        " settings.time_range_seconds settings.version settings.tid settings.extra_config.query"
        " settings.risk settings.aggregate settings.condition.condition_option"
        " settings.condition.condition_value settings.name settings.notifications"
        " settings.alertrule_id settings.attack_tag settings.log_source settings.metadata"
        " settings.is_context_template_enabled settings.livesearch_data.vid"
        " settings.livesearch_data.flush_on_trigger settings.livesearch_data.query"
        " settings.livesearch_data.extra_query_filter settings.livesearch_data.generated_by"
        " settings.livesearch_data.tid settings.livesearch_data.description"
        " settings.livesearch_data.timerange_hour settings.livesearch_data.timerange_second"
        " settings.livesearch_data.searchname"
        " settings.livesearch_data.query_info.fieldsToExtract"
        " settings.livesearch_data.query_info.success"
        " settings.livesearch_data.query_info.query_type"
        " settings.livesearch_data.query_info.query_filter"
        " settings.livesearch_data.query_info.lucene_query"
        " settings.livesearch_data.query_info.aliases settings.livesearch_data.query_info.columns"
        " settings.livesearch_data.query_info.grouping settings.livesearch_data.timerange_day"
        " settings.livesearch_data.timerange_minute settings.livesearch_data.limit"
        " settings.throttling_enabled settings.context_template settings.throttling_time_range"
        " settings.throttling_field settings.simple_view"
        " settings.livesearch_data.query_info.lists_in_query"
        " settings.livesearch_data.search_interval_minute settings.livesearch_data.query_info"
        " settings.livesearch_data.data_privacy_request",
        "UserDefinedList": "user_list_index tid name vid hidden lists_vendor lists user"
        " last_updated age_limit list_type",
    }.items()
}

RISK_LEVELS = ("Minimal", "Minor", "Major", "Critical")
NAN = float("nan")


# ---------------------------------------------------------------------------------------------
# Deterministic identifiers (source-system ids: meaningless on the target, used for joins only)


def _digest(label: str) -> str:
    return hashlib.md5(f"{TENANT}:{label}".encode()).hexdigest()


def _oid(label: str) -> str:
    """A 24-hex Mongo-style id, as Director uses for objects (stable for a label)."""
    return "65" + _digest(label)[:22]


def _uuid32(label: str) -> str:
    """A 32-hex id, as used for collector uuids and alert rule ids."""
    return _digest("uuid:" + label)


def _token(label: str) -> str:
    """A UUID string, as found in the ``CSRFToken`` column."""
    return str(uuid.UUID(_digest("csrf:" + label)))


# ---------------------------------------------------------------------------------------------
# The demo workbook: hand-written rows, bad rows wrapped in _Bad


@dataclass(frozen=True)
class _Bad:
    """A deliberately bad demo row: the row, the offending column and what is wrong."""

    row: dict[str, Any]
    column: str
    problem: str


Row = dict[str, Any] | _Bad


def _records(fields: str, rows: Iterable[tuple | _Bad]) -> list[Row]:
    """Tuples (or _Bad-wrapped tuples) -> dicts keyed by the space-separated ``fields``."""
    names = fields.split()
    out: list[Row] = []
    for row in rows:
        if isinstance(row, _Bad):
            out.append(_Bad(dict(zip(names, row.row, strict=True)), row.column, row.problem))
        else:
            out.append(dict(zip(names, row, strict=True)))
    return out


def _unwrap(row: Row) -> dict[str, Any]:
    return row.row if isinstance(row, _Bad) else row


_REPOS = _records(
    "repo_number original_repo_name cleaned_repo_name storage_paths retention_days used_size",
    [
        (
            11,
            "Repo-demo-system",
            "Repo_system",
            "/data_hot | /cold_nfs",
            "30 | 335",
            "8412.55127 MB",
        ),
        (12, "Repo-demo-system-verbose", "Repo_system_verbose", "/data_hot", "7", "96.31445 MB"),
        (13, "Repo-demo-secu", "Repo_secu", "/data_hot | /cold_nfs", "90 | 640", "23517.90918 MB"),
        (14, "Repo-demo-cloud", "Repo_cloud", "/data_hot", "180", "2.11328 MB"),
        _Bad(
            (15, "Repo-demo-archive", "Repo_archive", "/cold_nfs", "ninety", "0.00000 MB"),
            "retention_days",
            "retention is not a number of days ('ninety'): the repo cannot be written",
        ),
    ],
)

_ROUTING = _records(
    "original_policy_name cleaned_policy_name catch_all rule_type key value repo drop",
    [
        ("rp_demo_system", "rp_system", "Repo-demo-system", "KeyPresentValueMatches",
         "event_source", "Microsoft-Windows-Sysmon", "Repo-demo-system-verbose", "store"),
        ("rp_demo_system", "rp_system", "Repo-demo-system", "KeyPresentValueMatches",
         "severity", "7", "Repo-demo-system-verbose", "store"),
        ("rp_demo_secu", "rp_secu", "Repo-demo-secu", "KeyPresentValueMatches",
         "sub_category", "forward", "Repo-demo-system-verbose", "store"),
        ("rp_demo_cloud", "rp_cloud", "Repo-demo-cloud", NAN, NAN, NAN, NAN, NAN),
        _Bad(
            ("rp_demo_legacy", "rp_legacy", "Repo-demo-legacy", NAN, NAN, NAN, NAN, NAN),
            "catch_all",
            "catch_all repo 'Repo-demo-legacy' is in no Repo row (and not on Director)",
        ),
    ],
)  # fmt: skip

# Package and compiled-normalizer names are vendor names taken from the real samples.
_NORMALIZATION = _records(
    "policy_name normalization_packages compiled_normalizer",
    [
        ("np_windows", NAN, "LPA_Windows | WindowsSysmonCompiledNormalizer"),
        ("np_linux", "LP_Common Unix System", "UnixCompiledNormalizer | JSONCompiledNormalizer"),
        ("np_fortinet", NAN, "FortiOSCompiledNormalizer"),
        ("np_cisco_asa", "LP_Cisco PIXASA | LP_Cisco PIX/ASA Generic",
         "CiscoPIXASACompiledNormalizer"),
        ("np_checkpoint", "LP_CheckPoint Firewall", NAN),
    ],
)  # fmt: skip

_ENRICHMENT_NAME = "TI_UEBA_Enrichment"
_ENRICHMENT = _records(
    "spec_index source", [(0, "threat_intelligence"), (1, "UEBA_ActiveDirectoryUsers")]
)
_ENRICHMENT_RULES = _records(
    "source spec_index category source_key prefix operation type event_key",
    [
        ("threat_intelligence", 0, "simple", "ip_address", False, "Equals", "ip", "source_address"),
        ("threat_intelligence", 0, "simple", "ip_address", False, "Equals", "ip",
         "destination_address"),
        ("UEBA_ActiveDirectoryUsers", 1, "simple", "sAMAccountName", False, "Equals", "string",
         "user"),
    ],
)  # fmt: skip
_ENRICHMENT_CRITERIA = _records(
    "source spec_index type key value",
    [
        ("threat_intelligence", 0, "KeyPresents", "source_address", NAN),
        ("threat_intelligence", 0, "KeyPresents", "destination_address", NAN),
        ("UEBA_ActiveDirectoryUsers", 1, "KeyPresentsValueMatches", "norm_id", "WinServer.*"),
        ("UEBA_ActiveDirectoryUsers", 1, "KeyPresents", "user", NAN),
    ],
)

# norm_policy, uses the enrichment policy?, routing policy (cleaned name)
_PROCESSING = _records(
    "original_policy_name cleaned_policy_name norm_policy enriched routing",
    [
        ("pp_demo_windows", "pp_windows", "np_windows", True, "rp_system"),
        ("pp_demo_linux", "pp_linux", "np_linux", False, "rp_system"),
        ("pp_demo_fortinet", "pp_fortinet", "np_fortinet", True, "rp_secu"),
        ("pp_demo_cisco_asa", "pp_cisco_asa", "np_cisco_asa", False, "rp_secu"),
        ("pp_demo_checkpoint", "pp_checkpoint", "np_checkpoint", False, "rp_cloud"),
    ],
)

_GROUPS = _records(
    "name description",
    [
        ("windows", "windows servers and domain controllers"),
        ("linux", "linux servers"),
        ("firewall", "security firewalls"),
        ("VPN", "Virtual Private Network gateways"),
        ("log_proxy", "log proxy (concentrator) forwarding logs"),
        ("PAM", "Privileged Access Management bastions"),
    ],
)

_DEVICES = _records(
    "name ip timezone device_groups confidentiality integrity availability",
    [
        ("demo-log-proxy1", "10.40.1.10", "UTC", "log_proxy", "Major", "Major", "Major"),
        ("demo-dc01", "10.40.2.11 | 10.40.2.111", "Europe/Brussels", "windows",
         "Critical", "Major", "Critical"),
        ("demo-dc02", "10.40.2.12", "Europe/Brussels", "windows", "Critical", "Major", "Critical"),
        ("demo-fw-edge01", "10.40.0.1 | 192.168.100.1", "UTC", "firewall | VPN",
         "Major", "Major", "Critical"),
        _Bad(
            ("demo-app01", "10.40.3.30", "UTC", "linux | databases", "Minor", "Minor", "Minor"),
            "device_groups",
            "device group 'databases' is not in the DeviceGroups sheet (nor on Director)",
        ),
        ("demo-asa01", "10.40.0.2", "Europe/Paris", "firewall | VPN", "Major", "Major", "Major"),
        ("demo-fw-dmz01", "10.40.0.3", "Europe/Paris", "firewall", "Major", "Major", "Major"),
        ("demo-web01", "10.40.3.21", "UTC", "linux", "Minor", "Minor", "Minimal"),
        _Bad(
            ("demo-nas01", "10.40.3.40", "UTC", "linux", "High", "Minor", "Minor"),
            "confidentiality",
            "risk value 'High' is not one of Minimal|Minor|Major|Critical",
        ),
        ("demo-bastion01", "10.40.3.5", "UTC", "linux | PAM", "Major", "Major", "Major"),
    ],
)  # fmt: skip

# One syslog collector per good device. The uses_proxy row sends through demo-log-proxy1.
_FETCHERS = _records(
    "device_name parser proxy_condition processing proxy_ip hostname hasLCP",
    [
        ("demo-log-proxy1", "SyslogParser", "use_as_proxy", NAN, NAN, NAN, NAN),
        ("demo-dc01", "SyslogParser", "None", "pp_windows", NAN, NAN, 0.0),
        ("demo-dc02", "SyslogParser", "None", "pp_windows", NAN, NAN, 0.0),
        ("demo-fw-edge01", "SyslogParser", "None", "pp_fortinet", NAN, NAN, NAN),
        ("demo-asa01", "SyslogParser", "None", "pp_cisco_asa", NAN, NAN, NAN),
        ("demo-fw-dmz01", "SyslogParser", "None", "pp_checkpoint", NAN, NAN, NAN),
        ("demo-web01", "SyslogParser", "uses_proxy", "pp_linux", "10.40.1.10", "demo-web01", NAN),
        ("demo-bastion01", "LineParser", "None", "pp_linux", NAN, NAN, NAN),
    ],
)

_LISTS = _records(
    "name lists age_limit list_type",
    [
        ("DEMO_ADMIN_USERS", ["adm.jdupont", "adm.mvermeulen", "adm.spetit"], 0, "static_list"),
        ("DEMO_BASTION_HOSTS", ["10.40.3.5/32"], 0, "static_list"),
        ("DEMO_EXCLUDED_USERS", ["svc_backup", "svc_monitoring", "healthcheck"], 0, "static_list"),
        ("DEMO_BLOCKED_IPS", [], 86400, "dynamic_list"),
        ("DEMO_VPN_SESSIONS", [], 1800, "dynamic_list"),
    ],
)

#: ``ip:port`` of the source backend, as it prefixes every ``settings.repos`` token.
_ALERT_REPO_HOST = "10.40.9.1:5504"
#: The tenant's device scope, as Director adds it to every search of the tenant's rules.
_DEVICE_FILTER = "(device_ip IN ['10.40.0.0/16', '192.168.100.1/32'])"
_ALERTS: list[Row] = [
    {
        "name": "DEMO - WINDOWS - SECURITY LOG CLEARED",
        "query": "norm_id=WinServer* event_id=1102 | chart count() by host, user",
        "repos": ["Repo-demo-secu"],
        "risk": "critical", "option": "greaterthan", "value": 0, "limit": 100, "minute": 5,
        "log_source": ["Windows"],
        "description": "The Security event log was cleared on a Windows server",
    },
    {
        "name": "DEMO - FIREWALL - DENIED CONNECTION BURST",
        "query": "norm_id=FortiGate* action=deny"
        " | chart count() by source_address order by count() desc",
        "repos": ["Repo-demo-secu", "Repo-demo-system"],
        "risk": "high", "option": "greaterthan", "value": 500, "limit": 25, "hour": 1,
        "throttle": (1.0, "source_address", 30.0), "flush": False,
    },
    {
        "name": "DEMO - LINUX - ROOT LOGIN OVER SSH",
        "query": "norm_id=Unix* label=Login label=Successful user=root"
        " | chart count() by host, source_address",
        "repos": ["Repo-demo-system"],
        "risk": "medium", "option": "greaterthan", "value": 0, "limit": 100, "minute": 15,
    },
    _Bad(
        {
            "name": NAN,
            "query": "label=Authentication label=Fail sub_category=vpn | chart count() by user",
            "repos": ["Repo-demo-secu"],
            "risk": "high", "option": "moreequal", "value": 10, "limit": 50, "minute": 30,
            "aggregate": "avg", "active": False,
        },
        "name",
        "alert rule has no name (nor searchname): it cannot be matched or created",
    ),
    {
        "name": "DEMO - ADMIN - LOGIN FROM OUTSIDE THE BASTION",
        "query": "label=Login user IN DEMO_ADMIN_USERS -source_address IN DEMO_BASTION_HOSTS"
        " | chart count() by user, source_address",
        "repos": ["Repo-demo-secu", "Repo-demo-cloud"],
        "risk": "low", "option": "greaterthan", "value": 0, "limit": 100, "day": 1,
        "lists": ["DEMO_ADMIN_USERS", "DEMO_BASTION_HOSTS"],
        "throttle": (NAN, NAN, NAN),  # rule saved before throttling existed: flag left empty
        "description": "An administrator logged in from a host that is not the bastion",
    },
]  # fmt: skip

#: Every demo sheet built from a hand-written table (the others are derived from these).
_TABLES: dict[str, list[Row]] = {
    "Repo": _REPOS,
    "RoutingPolicy": _ROUTING,
    "Device": _DEVICES,
    "Alert": _ALERTS,
}


def _collect_bad_rows() -> list[dict[str, Any]]:
    bad = []
    for sheet, rows in _TABLES.items():
        for position, row in enumerate(rows):
            if isinstance(row, _Bad):
                value = row.row[row.column]
                bad.append(
                    {
                        "sheet": sheet,
                        "excel_row": position + 2,
                        "column": row.column,
                        "value": None if pd.isna(value) else value,
                        "problem": row.problem,
                    }
                )
    return bad


#: The deliberately bad rows of the demo workbook: ``{sheet, excel_row, column, value, problem}``
#: (Excel row numbers: the header is row 1, the first data row is row 2; ``value`` is the cell's
#: content, ``None`` when empty).
DEMO_BAD_ROWS: list[dict[str, Any]] = _collect_bad_rows()


def _frame(sheet: str, rows: Iterable[dict[str, Any]], **constant: Any) -> pd.DataFrame:
    """Rows (dicts, missing keys = empty cells) -> a frame with exactly the sheet's columns."""
    frame = pd.DataFrame([{**constant, **row} for row in rows], columns=list(COLUMNS[sheet]))
    return frame.reset_index(drop=True)


def _ids(prefix: str, names: Iterable[str]) -> dict[str, str]:
    return {name: _oid(f"{prefix}/{name}") for name in names}


_RP_IDS = _ids("rp", {_unwrap(r)["cleaned_policy_name"] for r in _ROUTING})
_PP_IDS = _ids("pp", (_unwrap(r)["cleaned_policy_name"] for r in _PROCESSING))
_EP_ID = _oid(f"ep/{_ENRICHMENT_NAME}")
_DEVICE_IDS = _ids("device", (_unwrap(r)["name"] for r in _DEVICES))
_GROUP_IDS = _ids("dg", (r["name"] for r in map(_unwrap, _GROUPS)))
_DISTRIBUTED_COLLECTOR = _oid("distributed-collector/dc01")


def _repo_sheet() -> pd.DataFrame:
    return _frame("Repo", map(_unwrap, _REPOS), active=True)


def _routing_sheet() -> pd.DataFrame:
    rows = [
        {**row, "policy_id": _RP_IDS[row["cleaned_policy_name"]]} for row in map(_unwrap, _ROUTING)
    ]
    return _frame("RoutingPolicy", rows, active=True)


def _processing_sheet() -> pd.DataFrame:
    rows = [
        {
            **row,
            # Director exports an unset enrichment policy as the text "None" (read back as NaN).
            "enrich_policy": _EP_ID if row["enriched"] else "None",
            "routing_policy_id": _RP_IDS[row["routing"]],
            "policy_id": _PP_IDS[row["cleaned_policy_name"]],
        }
        for row in map(_unwrap, _PROCESSING)
    ]
    return _frame("ProcessingPolicy", rows, active=True)


def _enrichment_sheets() -> dict[str, pd.DataFrame]:
    name = {"policy_name": _ENRICHMENT_NAME}
    return {
        "EnrichmentPolicy": _frame(
            "EnrichmentPolicy", _ENRICHMENT, **name, active=True, policy_id=_EP_ID
        ),
        "EnrichmentRules": _frame("EnrichmentRules", _ENRICHMENT_RULES, **name),
        "EnrichmentCriteria": _frame("EnrichmentCriteria", _ENRICHMENT_CRITERIA, **name),
    }


def _device_sheet() -> pd.DataFrame:
    rows = [{**row, "device_id": _DEVICE_IDS[row["name"]]} for row in map(_unwrap, _DEVICES)]
    return _frame(
        "Device",
        rows,
        active=True,
        has_hostname=False,
        distributed_collector=_DISTRIBUTED_COLLECTOR,
    )


def _group_sheet() -> pd.DataFrame:
    members: dict[str, list[str]] = {}
    for device in map(_unwrap, _DEVICES):
        for group in device["device_groups"].split(" | "):
            members.setdefault(group, []).append(_DEVICE_IDS[device["name"]])
    rows = [
        {
            **group,
            "group_id": _GROUP_IDS[group["name"]],
            "device_ids": " | ".join(members.get(group["name"], [])) or NAN,
        }
        for group in map(_unwrap, _GROUPS)
    ]
    return _frame("DeviceGroups", rows, active=True)


def _fetcher_sheet() -> pd.DataFrame:
    ips = {row["name"]: row["ip"] for row in map(_unwrap, _DEVICES)}
    rows = [
        {
            **row,
            "device_id": _DEVICE_IDS[row["device_name"]],
            "sid": f"syslog|device-{row['device_name']}",
            "processpolicy": _PP_IDS.get(row["processing"], NAN),
            "uuid": _uuid32(f"collector/{row['device_name']}"),
            "ips": ips[row["device_name"]],
            "CSRFToken": _token(row["device_name"]),
        }
        for row in map(_unwrap, _FETCHERS)
    ]
    constant = {"app": "SyslogCollector", "charset": "utf_8", "LOGGEDINUSER": "admin"}
    return _frame("DeviceFetcher", rows, **constant, requestType="formsubmit")


def _list_sheet() -> pd.DataFrame:
    rows = [
        {
            **row,
            "user_list_index": index,
            "lists": json.dumps(row["lists"]),
            "last_updated": 0.0 if row["list_type"] == "dynamic_list" else NAN,
        }
        for index, row in enumerate(map(_unwrap, _LISTS))
    ]
    return _frame("UserDefinedList", rows, hidden=False, lists_vendor="[]", user="admin")


def _query_info(query: str) -> dict[str, Any]:
    """The ``settings.livesearch_data.query_info.*`` columns Director derives from a query."""
    search, _, command = (part.strip() for part in query.partition("|"))
    grouping = re.search(r" by (.+?)(?: order by |$)", command)
    chart = command.startswith("chart")
    fields = list(dict.fromkeys(re.findall(r"(\w+)(?:=| IN )", search)))
    prefix = "settings.livesearch_data.query_info."
    return {
        prefix + "fieldsToExtract": json.dumps(fields),
        prefix + "success": 1.0,
        prefix + "query_type": "chart" if chart else "simple",
        prefix + "query_filter": search,
        prefix + "aliases": json.dumps(["count()"] if chart else []),
        prefix + "columns": json.dumps(["count()"] if chart else []),
        prefix + "grouping": json.dumps(grouping.group(1).split(", ") if grouping else []),
    }


def _alert_row(index: int, spec: dict[str, Any]) -> dict[str, Any]:
    """One Alert sheet row (58 columns) from a short alert spec."""
    minute, hour, day = (spec.get(k, 0) for k in ("minute", "hour", "day"))
    enabled, field, window = spec.get("throttle", (0.0, NAN, NAN))
    live = "settings.livesearch_data."
    return {
        "name": spec["name"],
        "settings.repos": json.dumps([f"{_ALERT_REPO_HOST}/{r}" for r in spec["repos"]]),
        "settings.user": "admin",
        "alert_index": index,
        "settings.active": spec.get("active", True),
        "settings.flush_on_trigger": spec.get("flush", True),
        "settings.description": spec.get("description", NAN),
        "settings.time_range_seconds": minute * 60 + hour * 3600 + day * 86400,
        "settings.extra_config.query": spec["query"],
        "settings.risk": spec["risk"],
        "settings.aggregate": spec.get("aggregate", "max"),
        "settings.condition.condition_option": spec["option"],
        "settings.condition.condition_value": spec["value"],
        "settings.name": spec["name"],
        "settings.notifications": "[]",
        "settings.alertrule_id": _uuid32(f"alert/{index}"),
        "settings.attack_tag": "[]",
        "settings.log_source": json.dumps(spec.get("log_source", [])),
        "settings.metadata": "[]",
        "settings.is_context_template_enabled": False,
        live + "flush_on_trigger": spec.get("flush", True),
        live + "query": spec["query"],
        live + "extra_query_filter": _DEVICE_FILTER,
        live + "generated_by": "alert",
        live + "description": spec.get("description", NAN),
        live + "timerange_minute": minute,
        live + "timerange_hour": hour,
        live + "timerange_day": day,
        live + "timerange_second": 0,
        live + "searchname": spec["name"],
        live + "limit": spec["limit"],
        live + "query_info.lists_in_query": json.dumps(spec["lists"]) if "lists" in spec else NAN,
        **_query_info(spec["query"]),
        "settings.throttling_enabled": enabled,
        "settings.throttling_field": field,
        "settings.throttling_time_range": window,
        "settings.simple_view": "off",
    }


def _alert_sheet() -> pd.DataFrame:
    rows = [_alert_row(index, spec) for index, spec in enumerate(map(_unwrap, _ALERTS))]
    return _frame("Alert", rows)


def demo_frames() -> dict[str, pd.DataFrame]:
    """The demo workbook of tenant ``demo``, one frame per sheet, as a reader would return it.

    Same sheet names and columns as the real tenant workbooks (without the ``User`` and
    ``UserGroup`` sheets, which DirectorSync does not import). Every reference joins inside the
    workbook except the deliberately bad rows listed in :data:`DEMO_BAD_ROWS`.

    Returns:
        Sheet name -> frame, in workbook order; a fresh copy on every call, equal every time.
    """
    return {
        "Repo": _repo_sheet(),
        "RoutingPolicy": _routing_sheet(),
        "NormalizationPolicy": _frame("NormalizationPolicy", _NORMALIZATION),
        "ProcessingPolicy": _processing_sheet(),
        **_enrichment_sheets(),
        "Device": _device_sheet(),
        "DeviceFetcher": _fetcher_sheet(),
        "DeviceGroups": _group_sheet(),
        "Alert": _alert_sheet(),
        "UserDefinedList": _list_sheet(),
    }


def write_demo_workbook(path: Path | str) -> Path:
    """Write the demo workbook (see :func:`demo_frames`) as XLSX.

    Args:
        path: the ``.xlsx`` file to write; its folder is created if needed.

    Returns:
        The path written.
    """
    return write_xlsx(demo_frames(), path)


# ---------------------------------------------------------------------------------------------
# Synthetic workbooks: vectorised, any size

_KINDS = np.array(["fw", "sw", "rtr", "srv", "dc", "lb", "proxy", "ap", "vpn", "db"])
_SITES = np.array(["par", "bru", "ams", "fra", "lon", "mad", "mil", "zrh"])
_SITE_ZONES = np.array(
    ["Europe/Paris", "Europe/Brussels", "Europe/Amsterdam", "Europe/Berlin"]
    + ["Europe/London", "Europe/Madrid", "Europe/Rome", "Europe/Zurich"]
)
_ROLES = np.array(["edge", "core", "dmz", "app", "web", "mgmt", "ops", "lab"])
_RISK = np.array(RISK_LEVELS)
_UNKNOWN_GROUPS = np.array(["decommissioned", "to_classify", "old_dmz"])
_COLLECTORS = np.array([_oid("distributed-collector/dc01"), _oid("distributed-collector/dc02")])
_HEX = np.array(list("0123456789abcdef"))
_EPOCH = 0x6500_0000  # seconds of the first synthetic object id (September 2023)
_MAX_FETCHERS = 1000

#: The device groups of synthetic workbooks: (name, description).
SYNTH_GROUPS: tuple[tuple[str, str], ...] = tuple(
    (name, f"{label} devices")
    for name, label in [
        ("windows", "Windows"), ("linux", "Linux"), ("firewall", "firewall"), ("network", "network"),
        ("VPN", "VPN"), ("proxy", "web proxy"), ("domain_controllers", "domain controller"),
        ("dmz", "DMZ"), ("databases", "database"), ("web", "web server"), ("mail", "mail"),
        ("dns", "DNS"), ("storage", "storage"), ("backup", "backup"),
        ("virtualization", "virtualization"), ("identity", "identity"), ("PAM", "PAM"),
        ("ot", "OT / ICS"), ("cloud", "cloud"), ("log_proxy", "log proxy"),
    ]
)  # fmt: skip
_GROUP_NAMES = np.array([name for name, _ in SYNTH_GROUPS])


@dataclass(frozen=True)
class _Devices:
    """Synthetic devices as parallel arrays (one element per device)."""

    device_id: np.ndarray  # 24-hex source-system ids
    name: np.ndarray
    ip: np.ndarray  # " | "-joined, unique across devices
    timezone: np.ndarray
    groups: np.ndarray  # (n, 2) indexes into SYNTH_GROUPS; -1 = no second group
    risk: np.ndarray  # (n, 3) indexes into RISK_LEVELS: confidentiality, integrity, availability
    collector: np.ndarray  # index into _COLLECTORS


def _digits(values: np.ndarray, width: int, base: int = 16) -> np.ndarray:
    """(n, width) array of the digit characters of non-negative integers, zero-padded."""
    powers = np.uint64(base) ** np.arange(width - 1, -1, -1, dtype=np.uint64)
    return _HEX[(values.astype(np.uint64)[:, None] // powers) % np.uint64(base)]


def _join_digits(*digits: np.ndarray) -> np.ndarray:
    """Glue (n, w_i) digit arrays side by side into n strings."""
    glued = np.ascontiguousarray(np.hstack(digits))
    return glued.view(f"<U{glued.shape[1]}").ravel()


def _object_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct 24-hex ids shaped like Director's (seconds, random, counter)."""
    seconds = _EPOCH + np.sort(rng.integers(0, 3 * 365 * 86400, n))
    random = rng.integers(0, 1 << 40, n)
    counter = (rng.integers(0, 1 << 23) + np.arange(n)) % (1 << 24)
    return _join_digits(_digits(seconds, 8), _digits(random, 10), _digits(counter, 6))


def _unique_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """1-3 IPs per device, `` | ``-joined; no IP is used twice (60 devices per /24)."""
    subnet, slot = np.divmod(rng.permutation(n), 60)
    octets = [10 + subnet // 65536, subnet // 256 % 256, subnet % 256]
    prefix = octets[0].astype("U3")
    for octet in octets[1:]:
        prefix = prefix + "." + octet.astype("U3")
    prefix = prefix + "."
    count = rng.choice([1, 2, 3], size=n, p=[0.7, 0.2, 0.1])
    ips = prefix + (slot * 4 + 1).astype("U3")
    for k in (2, 3):  # second and third address, for the devices that have them
        ips = np.where(count >= k, ips + " | " + prefix + (slot * 4 + k).astype("U3"), ips)
    return ips


def _generate_devices(n: int, seed: int) -> _Devices:
    """``n`` clean devices (no bad rows), the same for the same seed."""
    rng = np.random.default_rng([seed, 0])
    site = rng.integers(0, len(_SITES), n)
    width = max(5, len(str(max(n - 1, 0))))
    number = _join_digits(_digits(np.arange(n), width, base=10))
    name = (
        _KINDS[rng.integers(0, len(_KINDS), n)]
        + "-"
        + _SITES[site]
        + "-"
        + _ROLES[rng.integers(0, len(_ROLES), n)]
        + "-"
        + number
    )
    first = rng.integers(0, len(SYNTH_GROUPS), n)
    second = (first + rng.integers(1, len(SYNTH_GROUPS), n)) % len(SYNTH_GROUPS)
    groups = np.column_stack([first, np.where(rng.random(n) < 0.35, second, -1)])
    base = rng.choice(len(RISK_LEVELS), size=n, p=[0.35, 0.3, 0.25, 0.1])
    vary = rng.random((n, 3)) < 0.15
    risk = np.where(vary, rng.integers(0, len(RISK_LEVELS), (n, 3)), base[:, None])
    return _Devices(
        device_id=_object_ids(rng, n),
        name=name,
        ip=_unique_ips(rng, n),
        timezone=np.where(rng.random(n) < 0.3, "UTC", _SITE_ZONES[site]),
        groups=groups,
        risk=risk,
        collector=rng.integers(0, len(_COLLECTORS), n),
    )


def _group_names(groups: np.ndarray) -> np.ndarray:
    """(n, 2) group indexes -> `` | ``-joined group names."""
    first = _GROUP_NAMES[groups[:, 0]]
    second = _GROUP_NAMES[np.maximum(groups[:, 1], 0)]
    return np.where(groups[:, 1] >= 0, first + " | " + second, first)


def _device_frame(pool: _Devices) -> pd.DataFrame:
    """The ``Device`` sheet of a device pool."""
    frame = pd.DataFrame(
        {
            "device_id": pool.device_id,
            "name": pool.name,
            "ip": pool.ip,
            "active": True,
            "timezone": pool.timezone,
            "has_hostname": False,
            "device_groups": _group_names(pool.groups),
            "distributed_collector": _COLLECTORS[pool.collector],
            "confidentiality": _RISK[pool.risk[:, 0]],
            "integrity": _RISK[pool.risk[:, 1]],
            "availability": _RISK[pool.risk[:, 2]],
        }
    )
    return frame.reindex(columns=list(COLUMNS["Device"]))


def _inject_bad_rows(
    frame: pd.DataFrame, bad_ratio: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Spoil ``round(len * bad_ratio)`` rows: empty names, duplicate names, unknown groups.

    Returns:
        The new frame and the (sorted) positions of the spoiled rows.
    """
    n = len(frame)
    positions = rng.choice(n, size=min(n, round(n * bad_ratio)), replace=False)
    kind = np.arange(len(positions)) % 3
    empty, duplicate, unknown = (positions[kind == k] for k in range(3))
    good = np.setdiff1d(np.arange(n), positions)
    sources = rng.choice(good if good.size else np.arange(n), size=duplicate.size)
    out = frame.copy()
    names = frame["name"].to_numpy()
    out.loc[empty, "name"] = NAN
    out.loc[duplicate, "name"] = names[sources]
    out.loc[unknown, "device_groups"] = rng.choice(_UNKNOWN_GROUPS, size=unknown.size)
    return out, np.sort(positions)


def _random_hex(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    return _join_digits(_HEX[rng.integers(0, 16, (n, width))])


def _fetcher_frame(pool: _Devices, bad: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """A ``DeviceFetcher`` sheet: one syslog collector for each of the first good devices."""
    rows = np.setdiff1d(np.arange(len(pool.name)), bad)[:_MAX_FETCHERS]
    names = pool.name[rows]
    policies = np.array(list(_PP_IDS.values()))
    frame = pd.DataFrame(
        {
            "device_id": pool.device_id[rows],
            "device_name": names,
            "app": "SyslogCollector",
            "sid": "syslog|device-" + names,
            "parser": "SyslogParser",
            "processpolicy": policies[rng.integers(0, len(policies), rows.size)],
            "charset": "utf_8",
            "uuid": _random_hex(rng, rows.size, 32),
            "LOGGEDINUSER": "admin",
            "requestType": "formsubmit",
            "ips": pool.ip[rows],
            "proxy_condition": "None",
            "CSRFToken": _token("synthetic"),
        }
    )
    return frame.reindex(columns=list(COLUMNS["DeviceFetcher"]))


def _synthetic_group_frame() -> pd.DataFrame:
    """The ``DeviceGroups`` sheet of synthetic workbooks (member ids left empty: they would
    exceed Excel's 32,767 characters per cell for large workbooks)."""
    rows = [
        {"group_id": _oid(f"synth-dg/{name}"), "name": name, "description": description}
        for name, description in SYNTH_GROUPS
    ]
    return _frame("DeviceGroups", rows, active=True)


def _clean_demo_frames() -> dict[str, pd.DataFrame]:
    """The demo frames without their deliberately bad rows."""
    frames = demo_frames()
    for bad in DEMO_BAD_ROWS:
        frames[bad["sheet"]] = frames[bad["sheet"]].drop(index=bad["excel_row"] - 2)
    return {sheet: frame.reset_index(drop=True) for sheet, frame in frames.items()}


def _check_sizes(devices: int, **fractions: float) -> None:
    if devices < 0:
        raise ValueError(f"devices must be >= 0, got {devices}")
    for name, value in fractions.items():
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")


def synthetic_frames(
    devices: int, *, seed: int = 7, bad_ratio: float = 0.001
) -> dict[str, pd.DataFrame]:
    """A workbook of any size for benchmarks, one frame per sheet.

    ``Device`` has exactly ``devices`` rows (names like ``fw-par-edge-00042``, 1-3 unique IPs,
    1-2 groups of :data:`SYNTH_GROUPS`, which form the ``DeviceGroups`` sheet). Of those rows,
    ``round(devices * bad_ratio)`` are bad, in equal shares: empty name, duplicate name, unknown
    device group. ``DeviceFetcher`` has one collector for each of the first 1,000 good devices;
    the other sheets are the demo workbook's good rows.

    Args:
        devices: number of ``Device`` rows.
        seed: random seed; the same seed gives the same frames.
        bad_ratio: fraction of bad ``Device`` rows (0 to 1).

    Returns:
        Sheet name -> frame, in workbook order.

    Raises:
        ValueError: ``devices`` is negative or ``bad_ratio`` is outside 0..1.
    """
    _check_sizes(devices, bad_ratio=bad_ratio)
    pool = _generate_devices(devices, seed)
    rng = np.random.default_rng([seed, 1])
    frames = _clean_demo_frames()
    frames["Device"], bad = _inject_bad_rows(_device_frame(pool), bad_ratio, rng)
    frames["DeviceFetcher"] = _fetcher_frame(pool, bad, rng)
    frames["DeviceGroups"] = _synthetic_group_frame()
    return {sheet: frames[sheet] for sheet in COLUMNS}


def _director_group_ids() -> np.ndarray:
    """Ids of the synthetic device groups on the (simulated) Director."""
    return np.array([_oid(f"director/dg/{name}") for name in _GROUP_NAMES])


def _change_one_field(pool: _Devices, rows: np.ndarray) -> _Devices:
    """A copy of ``pool`` where each of ``rows`` differs in one field (ip, timezone, risk,
    groups, in turn)."""
    field = np.arange(rows.size) % 4
    ip, timezone = pool.ip.astype(object), pool.timezone.astype(object)
    groups, risk = pool.groups.copy(), pool.risk.copy()
    at = rows[field == 0]  # one new address, outside the 10.0.0.0/7 pool
    ip[at] = "172." + (16 + at // 64000).astype(str) + "." + (at // 250 % 256).astype(str)
    ip[at] = ip[at] + "." + (at % 250 + 1).astype(str)
    at = rows[field == 1]
    timezone[at] = np.where(timezone[at] == "UTC", "Europe/Brussels", "UTC")
    at = rows[field == 2]
    risk[at, 2] = (risk[at, 2] + 1) % len(RISK_LEVELS)
    at = rows[field == 3]
    groups[at] = np.column_stack([(groups[at, 0] + 10) % len(SYNTH_GROUPS), np.full(at.size, -1)])
    return _Devices(pool.device_id, pool.name, ip, timezone, groups, risk, pool.collector)


def _read_shape(pool: _Devices, rows: np.ndarray, ids: np.ndarray) -> list[dict[str, Any]]:
    """Devices as ``GET Devices`` lists them (contract §2.8)."""
    group_ids = _director_group_ids()
    groups = pool.groups[rows]
    joined = np.where(
        groups[:, 1] >= 0,
        group_ids[groups[:, 0]] + " " + group_ids[np.maximum(groups[:, 1], 0)],
        group_ids[groups[:, 0]],
    )
    risk = _RISK[pool.risk[rows]].tolist()
    columns = zip(
        ids[rows].tolist(),
        pool.name[rows].tolist(),
        pd.Series(pool.ip[rows], dtype=object).str.split(" | ", regex=False).tolist(),
        np.char.split(joined.astype(str)).tolist(),
        risk,
        pool.timezone[rows].tolist(),
        strict=True,
    )
    return [
        {
            "id": device_id,
            "name": name,
            "ip": ip,
            "device_groups": groups,
            "distributed_collector": [],
            "log_policies": [],
            "risk_values": {"confidentiality": c, "integrity": i, "availability": a},
            "timezone": timezone,
            "col_apps": [],
            "active": True,
            "has_hostname": False,
            "tid": "",
            "type": "",
        }
        for device_id, name, ip, groups, (c, i, a), timezone in columns
    ]


def synthetic_inventory(
    devices: int, *, seed: int = 7, changed: float = 0.05, missing: float = 0.05
) -> list[dict[str, Any]]:
    """The devices of :func:`synthetic_frames` as Director would list them.

    Read shape of ``GET Devices``: ``{id, name, ip: [...], device_groups: [group ids],
    risk_values: {confidentiality, integrity, availability}, timezone, distributed_collector,
    log_policies, col_apps, active, has_hostname, tid, type}``. Ids are Director's (not the
    sheet's ``device_id``); group ids are those of :func:`synthetic_group_inventory`.

    Args:
        devices: number of devices in the matching workbook.
        seed: the workbook's seed.
        changed: fraction of devices that differ from the sheet in one field (ip, timezone,
            availability or device groups, in turn): updates.
        missing: fraction of devices left out: creates.

    Returns:
        ``devices - round(devices * missing)`` device objects, in sheet order.

    Raises:
        ValueError: a fraction is outside 0..1 or ``changed + missing`` exceeds 1.
    """
    _check_sizes(devices, changed=changed, missing=missing, total=changed + missing)
    pool = _generate_devices(devices, seed)
    rng = np.random.default_rng([seed, 2])
    order = rng.permutation(devices)
    n_missing, n_changed = round(devices * missing), round(devices * changed)
    pool = _change_one_field(pool, order[n_missing : n_missing + n_changed])
    return _read_shape(pool, np.sort(order[n_missing:]), _object_ids(rng, devices))


def synthetic_group_inventory(
    inventory: Iterable[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The synthetic device groups as ``GET DeviceGroups`` lists them.

    Args:
        inventory: devices from :func:`synthetic_inventory`; their ids fill each group's
            ``devices``.

    Returns:
        ``{id, name, description, devices: [device ids]}`` for each of :data:`SYNTH_GROUPS`.
    """
    ids = _director_group_ids().tolist()
    members: dict[str, list[str]] = {group_id: [] for group_id in ids}
    for device in inventory:
        for group_id in device["device_groups"]:
            members[group_id].append(device["id"])
    return [
        {"id": group_id, "name": name, "description": description, "devices": members[group_id]}
        for group_id, (name, description) in zip(ids, SYNTH_GROUPS, strict=True)
    ]


# ---------------------------------------------------------------------------------------------
# Writers (I/O edge) and the make-workbook command

_STREAM_ABOVE_ROWS = 1_000  # rows in all sheets above which write_xlsx streams


def write_xlsx(
    frames: dict[str, pd.DataFrame], path: Path | str, *, write_only: bool | None = None
) -> Path:
    """Write frames as one XLSX sheet each (empty cells for NaN, header row in bold).

    Args:
        frames: sheet name -> frame, in workbook order.
        path: the ``.xlsx`` file; its folder is created if needed.
        write_only: stream rows with openpyxl's write-only mode (about twice as fast as
            pandas' writer, same cells); default: above 1,000 rows in all.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if write_only is None:
        write_only = sum(len(frame) for frame in frames.values()) > _STREAM_ABOVE_ROWS
    if write_only:
        _write_xlsx_streaming(frames, path)
        return path
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet, frame in frames.items():
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return path


def _write_xlsx_streaming(frames: dict[str, pd.DataFrame], path: Path) -> None:
    """openpyxl write-only mode, header styled like pandas' (bold, thin border, centred)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, Side

    thin = Side(style="thin")
    style = {
        "font": Font(bold=True),
        "border": Border(left=thin, right=thin, top=thin, bottom=thin),
        "alignment": Alignment(horizontal="center", vertical="top"),
    }
    book = Workbook(write_only=True)
    for sheet, frame in frames.items():
        ws = book.create_sheet(sheet)
        header = [WriteOnlyCell(ws, value=name) for name in frame.columns]
        for cell in header:
            for attribute, value in style.items():
                setattr(cell, attribute, value)
        ws.append(header)
        for row in frame.astype(object).where(frame.notna(), None).to_numpy().tolist():
            ws.append(row)
    book.save(path)


def write_csv(frames: dict[str, pd.DataFrame], directory: Path | str) -> list[Path]:
    """Write frames as one ``<sheet>.csv`` (UTF-8, comma-separated) each.

    Args:
        frames: sheet name -> frame.
        directory: folder for the CSV files; created if needed.

    Returns:
        The paths written, in sheet order.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for sheet, frame in frames.items():
        paths.append(directory / f"{sheet}.csv")
        frame.to_csv(paths[-1], index=False)
    return paths


def write_synthetic_workbook(
    path: Path | str, devices: int = 100_000, *, seed: int = 7, bad_ratio: float = 0.001
) -> Path:
    """Write :func:`synthetic_frames` as XLSX (about 18 s per 100k devices).

    Returns:
        The path written.
    """
    return write_xlsx(synthetic_frames(devices, seed=seed, bad_ratio=bad_ratio), path)


def write_synthetic_csv(
    directory: Path | str, devices: int = 100_000, *, seed: int = 7, bad_ratio: float = 0.001
) -> list[Path]:
    """Write :func:`synthetic_frames` as one CSV per sheet into ``directory``.

    Returns:
        The paths written, in sheet order.
    """
    return write_csv(synthetic_frames(devices, seed=seed, bad_ratio=bad_ratio), directory)


def _describe(frames: dict[str, pd.DataFrame]) -> str:
    return ", ".join(f"{sheet} {len(frame)}" for sheet, frame in frames.items())


@click.command("make-workbook")
@click.argument("out", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--demo", "demo", is_flag=True, help="The demo workbook (default).")
@click.option(
    "--devices", type=click.IntRange(min=0), help="A synthetic workbook with N Device rows."
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="Random seed (synthetic only)."
)
@click.option(
    "--bad-ratio",
    type=click.FloatRange(0.0, 1.0),
    default=0.001,
    show_default=True,
    help="Fraction of bad Device rows (synthetic only).",
)
@click.option("--csv", "as_csv", is_flag=True, help="Write one CSV per sheet into OUT (a folder).")
def make_workbook_command(
    out: Path, demo: bool, devices: int | None, seed: int, bad_ratio: float, as_csv: bool
) -> int:
    """Write the demo workbook or a synthetic one of any size to OUT.

    \b
    directorsync make-workbook demo.xlsx
    directorsync make-workbook big.xlsx --devices 100000 --seed 7
    directorsync make-workbook big-csv/ --devices 100000 --csv
    """
    if demo and devices is not None:
        raise click.UsageError("choose one of --demo and --devices N")
    started = time.perf_counter()
    if devices is None:
        frames, what = demo_frames(), f"demo workbook (tenant {TENANT!r})"
    else:
        frames = synthetic_frames(devices, seed=seed, bad_ratio=bad_ratio)
        what = f"synthetic workbook ({devices} devices, seed {seed}, bad ratio {bad_ratio})"
    if as_csv:
        where = f"{out} ({len(write_csv(frames, out))} CSV files)"
    else:
        where = str(write_xlsx(frames, out))
    click.echo(f"wrote {what} to {where} in {time.perf_counter() - started:.1f} s")
    click.echo(f"  rows per sheet: {_describe(frames)}")
    if devices is None:
        click.echo(f"  {len(DEMO_BAD_ROWS)} deliberately bad rows:")
        for bad in DEMO_BAD_ROWS:
            click.echo(
                f"    {bad['sheet']} row {bad['excel_row']} {bad['column']}: {bad['problem']}"
            )
    return 0

"""The demo workbook: hand-written rows of tenant ``demo``, a few of them deliberately bad.

:func:`demo_frames` is small and in exactly the format of the real tenant workbooks (same
sheets, same columns, same quirks: `` | `` multi-values, text numbers, NaN for empty cells,
24-hex source ids in ``*_id`` columns, JSON in alert columns). The deliberately bad rows are
listed in :data:`DEMO_BAD_ROWS` with their Excel row numbers (header = row 1).
:func:`~directorsync.synth.writers.write_demo_workbook` writes it; ``directorsync demo``
(:mod:`directorsync.cli.demo_command`) plans and applies it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pandas as pd

from directorsync.synth.sheets import NAN, object_id, sheet_frame, source_token, uuid32

# ---------------------------------------------------------------------------------------------
# The demo workbook: hand-written rows, bad rows wrapped in _Bad


_R = TypeVar("_R")


@dataclass(frozen=True)
class _Bad(Generic[_R]):
    """A deliberately bad demo row: the row, the offending column and what is wrong."""

    row: _R
    column: str
    problem: str


Row = dict[str, Any] | _Bad[dict[str, Any]]


def _records(fields: str, rows: Iterable[tuple[Any, ...] | _Bad[tuple[Any, ...]]]) -> list[Row]:
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


def _ids(prefix: str, names: Iterable[str]) -> dict[str, str]:
    return {name: object_id(f"{prefix}/{name}") for name in names}


_RP_IDS = _ids("rp", {_unwrap(r)["cleaned_policy_name"] for r in _ROUTING})
PP_IDS = _ids("pp", (_unwrap(r)["cleaned_policy_name"] for r in _PROCESSING))
_EP_ID = object_id(f"ep/{_ENRICHMENT_NAME}")
_DEVICE_IDS = _ids("device", (_unwrap(r)["name"] for r in _DEVICES))
_GROUP_IDS = _ids("dg", (r["name"] for r in map(_unwrap, _GROUPS)))
_DISTRIBUTED_COLLECTOR = object_id("distributed-collector/dc01")


def _repo_sheet() -> pd.DataFrame:
    return sheet_frame("Repo", map(_unwrap, _REPOS), active=True)


def _routing_sheet() -> pd.DataFrame:
    rows = [
        {**row, "policy_id": _RP_IDS[row["cleaned_policy_name"]]} for row in map(_unwrap, _ROUTING)
    ]
    return sheet_frame("RoutingPolicy", rows, active=True)


def _processing_sheet() -> pd.DataFrame:
    rows = [
        {
            **row,
            # Director exports an unset enrichment policy as the text "None" (read back as NaN).
            "enrich_policy": _EP_ID if row["enriched"] else "None",
            "routing_policy_id": _RP_IDS[row["routing"]],
            "policy_id": PP_IDS[row["cleaned_policy_name"]],
        }
        for row in map(_unwrap, _PROCESSING)
    ]
    return sheet_frame("ProcessingPolicy", rows, active=True)


def _enrichment_sheets() -> dict[str, pd.DataFrame]:
    name = {"policy_name": _ENRICHMENT_NAME}
    return {
        "EnrichmentPolicy": sheet_frame(
            "EnrichmentPolicy", map(_unwrap, _ENRICHMENT), **name, active=True, policy_id=_EP_ID
        ),
        "EnrichmentRules": sheet_frame("EnrichmentRules", map(_unwrap, _ENRICHMENT_RULES), **name),
        "EnrichmentCriteria": sheet_frame(
            "EnrichmentCriteria", map(_unwrap, _ENRICHMENT_CRITERIA), **name
        ),
    }


def _device_sheet() -> pd.DataFrame:
    rows = [{**row, "device_id": _DEVICE_IDS[row["name"]]} for row in map(_unwrap, _DEVICES)]
    return sheet_frame(
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
    return sheet_frame("DeviceGroups", rows, active=True)


def _fetcher_sheet() -> pd.DataFrame:
    ips = {row["name"]: row["ip"] for row in map(_unwrap, _DEVICES)}
    rows = [
        {
            **row,
            "device_id": _DEVICE_IDS[row["device_name"]],
            "sid": f"syslog|device-{row['device_name']}",
            "processpolicy": PP_IDS.get(row["processing"], NAN),
            "uuid": uuid32(f"collector/{row['device_name']}"),
            "ips": ips[row["device_name"]],
            "CSRFToken": source_token(row["device_name"]),
        }
        for row in map(_unwrap, _FETCHERS)
    ]
    constant = {"app": "SyslogCollector", "charset": "utf_8", "LOGGEDINUSER": "admin"}
    return sheet_frame("DeviceFetcher", rows, **constant, requestType="formsubmit")


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
    return sheet_frame("UserDefinedList", rows, hidden=False, lists_vendor="[]", user="admin")


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
        "settings.alertrule_id": uuid32(f"alert/{index}"),
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
    return sheet_frame("Alert", rows)


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
        "NormalizationPolicy": sheet_frame("NormalizationPolicy", map(_unwrap, _NORMALIZATION)),
        "ProcessingPolicy": _processing_sheet(),
        **_enrichment_sheets(),
        "Device": _device_sheet(),
        "DeviceFetcher": _fetcher_sheet(),
        "DeviceGroups": _group_sheet(),
        "Alert": _alert_sheet(),
        "UserDefinedList": _list_sheet(),
    }

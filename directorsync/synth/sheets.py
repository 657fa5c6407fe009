"""The layout of the tenant workbooks (sheets, columns) and deterministic source-system ids.

Shared by the demo workbook (:mod:`directorsync.synth.demo`) and the synthetic workbooks
(:mod:`directorsync.synth.synthetic`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

import pandas as pd

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


def object_id(label: str) -> str:
    """A 24-hex Mongo-style id, as Director uses for objects (stable for a label)."""
    return "65" + _digest(label)[:22]


def uuid32(label: str) -> str:
    """A 32-hex id, as used for collector uuids and alert rule ids."""
    return _digest("uuid:" + label)


def source_token(label: str) -> str:
    """A UUID string, as found in the ``CSRFToken`` column."""
    return str(uuid.UUID(_digest("csrf:" + label)))


def sheet_frame(sheet: str, rows: Iterable[dict[str, Any]], **constant: Any) -> pd.DataFrame:
    """Rows (dicts, missing keys = empty cells) -> a frame with exactly the sheet's columns."""
    frame = pd.DataFrame([{**constant, **row} for row in rows], columns=list(COLUMNS[sheet]))
    return frame.reset_index(drop=True)

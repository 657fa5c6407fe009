"""Built-in hooks for the resources whose shape a column mapping cannot say.

Each hook is a pure function over DataFrames, registered in :data:`directorsync.hooks.registry.HOOKS` and
named by a profile's ``hooks:`` section. Profiles say why they need one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from directorsync.cells import is_empty
from directorsync.transforms import Context, Invalid, apply_transforms
from directorsync.vocabulary import ROW, ROWS, SHEET

RULE_KEYS = ["category", "source_key", "prefix", "operation", "type", "event_key"]
CRITERIA_KEYS = ["type", "key", "value"]
#: Columns the build hook reads, by sheet (template drift check); the rules' and criteria's own
#: ``source`` column is not read (the policy sheet decides).
COLUMNS_READ = {
    "EnrichmentPolicy": ("policy_name", "source", "description", "spec_index"),
    "EnrichmentRules": ("policy_name", "spec_index", *RULE_KEYS),
    "EnrichmentCriteria": ("policy_name", "spec_index", *CRITERIA_KEYS),
}


def _norm(frame: pd.DataFrame, cols: list[str], ctx: Context) -> pd.DataFrame:
    out = frame.copy()
    for col in cols:
        if col not in out:
            out[col] = None
        out[col] = apply_transforms(out[col].astype(object), ["norm_str"], ctx)
    return out


def _objects(frame: pd.DataFrame, keys: list[str], by: list[str]) -> pd.Series:
    """One list of unique objects per group (dict records; empty values left out)."""
    if frame.empty:  # still indexed by the group keys, for the join that reads it
        return pd.Series(dtype=object, index=pd.MultiIndex.from_arrays([[]] * len(by), names=by))
    body = frame[keys].astype(object).where(~frame[keys].apply(is_empty), None)
    records = pd.Series(body.to_dict("records"), index=frame.index)
    records = records.map(lambda r: {k: v for k, v in r.items() if v is not None})
    grouped = pd.DataFrame({**{b: frame[b] for b in by}, "_obj": records})
    grouped["_k"] = grouped["_obj"].map(lambda r: tuple(sorted(r.items())))
    grouped = grouped.drop_duplicates([*by, "_k"])
    return grouped.groupby(by, sort=False)["_obj"].agg(list)


def enrichment_build(sheets: Any, profile: Any, ctx: Context) -> pd.DataFrame:
    """EnrichmentPolicy + EnrichmentRules + EnrichmentCriteria → one row per policy.

    Specifications are one per distinct ``source`` of a policy; its rules and criteria are the
    union of those of the policy's ``spec_index`` rows with that source. A specification without
    rules makes the policy invalid (Director needs at least one rule per specification).
    """
    policies = _norm(
        sheets["EnrichmentPolicy"], ["policy_name", "source", "description", "spec_index"], ctx
    )
    policies = policies[~is_empty(policies["policy_name"])]
    rules = _norm(
        sheets.get("EnrichmentRules", pd.DataFrame()),
        ["policy_name", "spec_index", *RULE_KEYS],
        ctx,
    )
    crit = _norm(
        sheets.get("EnrichmentCriteria", pd.DataFrame()),
        ["policy_name", "spec_index", *CRITERIA_KEYS],
        ctx,
    )
    rules["prefix"] = apply_transforms(rules["prefix"], ["to_bool", {"default": False}], ctx)
    rules["operation"] = apply_transforms(rules["operation"], [{"default": "Equals"}], ctx)
    crit["value"] = crit["value"].where(crit["value"].notna(), "")
    spec_of = policies[["policy_name", "spec_index", "source"]].drop_duplicates()
    # the rules/criteria sheets' own `source` column is ignored: the policy sheet decides
    rules = rules.drop(columns=["source"], errors="ignore").merge(
        spec_of, on=["policy_name", "spec_index"]
    )
    crit = crit.drop(columns=["source"], errors="ignore").merge(
        spec_of, on=["policy_name", "spec_index"]
    )
    by = ["policy_name", "source"]
    specs = policies.groupby(by, sort=False).agg(_row=(ROW, "min")).reset_index()
    specs = specs.join(_objects(rules, RULE_KEYS, by).rename("rules"), on=by)
    specs = specs.join(_objects(crit, CRITERIA_KEYS, by).rename("criteria"), on=by)
    for col in ("rules", "criteria"):
        specs[col] = specs[col].map(lambda v: v if isinstance(v, list) else [])
    specs["spec"] = pd.Series(
        specs[["source", "rules", "criteria"]].to_dict("records"), index=specs.index
    )
    out = (
        policies.groupby("policy_name", sort=False)
        .agg(
            _row=(ROW, "min"),
            _rows=(ROW, list),
            description=("description", lambda s: next((v for v in s if v), None)),
        )
        .reset_index()
        .rename(columns={"policy_name": "name"})
    )
    per_policy = specs.groupby("policy_name", sort=False)
    out["specifications"] = out["name"].map(per_policy["spec"].agg(list))
    out["sources"] = out["name"].map(per_policy["source"].agg(list))
    missing = out["name"].map(
        specs[specs["rules"].map(len).eq(0)].groupby("policy_name")["source"].agg(list)
    )
    bad = missing.map(lambda v: isinstance(v, list) and len(v) > 0).astype(bool)
    out.loc[bad, "specifications"] = pd.Series(
        [
            Invalid(
                ", ".join(m),
                "a source with no enrichment rules (each specification needs one)",
                "EnrichmentRules",
            )
            for m in missing[bad]
        ],
        index=out.index[bad],
        dtype=object,
    )
    out[SHEET] = "EnrichmentPolicy"
    return out[["name", "description", "specifications", "sources", ROW, ROWS, SHEET]]


def enrichment_export(
    rows: pd.DataFrame, profile: Any, ctx: dict[str, Any]
) -> dict[str, pd.DataFrame]:
    """Director's policies → the EnrichmentPolicy, EnrichmentRules and EnrichmentCriteria sheets.

    The reverse of :func:`enrichment_build`: one EnrichmentPolicy row per specification
    (``spec_index`` counts them within the policy, ``source`` is the specification's), its rules
    and criteria on the other two sheets under the same ``policy_name`` and ``spec_index``.
    ``prefix`` is written as a boolean; ``policy_id`` holds the policy name (the key the
    processing policies' ``enrich_policy`` column is translated through).
    """
    policies, rules, criteria = [], [], []
    names = rows["name"] if "name" in rows else pd.Series(dtype=object)
    descriptions = rows["description"] if "description" in rows else [None] * len(rows)
    specs_of = rows["specifications"] if "specifications" in rows else [None] * len(rows)
    for name, description, specs in zip(names, descriptions, specs_of):
        specs = specs if isinstance(specs, list) else []
        text = description if isinstance(description, str) and description else None
        for index, spec in enumerate(s for s in specs if isinstance(s, dict)):
            base = {"policy_name": name, "spec_index": index}
            policies.append(
                {**base, "description": text, "source": spec.get("source"), "policy_id": name}
            )
            for rule in spec.get("rules") or []:
                rules.append({**base, **{k: rule.get(k) for k in RULE_KEYS}})
            for item in spec.get("criteria") or []:
                criteria.append({**base, **{k: item.get(k) for k in CRITERIA_KEYS}})
    return {
        "EnrichmentPolicy": pd.DataFrame(
            policies, columns=["policy_name", "spec_index", "source", "description", "policy_id"]
        ),
        "EnrichmentRules": pd.DataFrame(rules, columns=["policy_name", "spec_index", *RULE_KEYS]),
        "EnrichmentCriteria": pd.DataFrame(
            criteria, columns=["policy_name", "spec_index", *CRITERIA_KEYS]
        ),
    }

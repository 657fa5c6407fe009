"""Hooks of the alert rule profile.

- ``alert_rules_build`` (build): the Alert sheet mapped as declared, then ``repos`` expanded per
  storage node of the tenant (needs the tenant topology and the Repo sheet).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from directorsync.mapping import map_sheet
from directorsync.transforms import Context, Invalid

DEFAULT_REPOS = ("default", "_logpoint", "_LogPointAlerts")
STORAGE_ROLES = ("backends", "all_in_one")
#: Columns the build hook reads besides the profile's mapping, by sheet (template drift check).
COLUMNS_READ = {"Repo": ("cleaned_repo_name", "original_repo_name")}
#: a repo token that is not ``address:port/<repo>`` (``10.0.0.5:5504/``): it names no repo
NAMELESS_TOKEN = "names no repo: write each repo as ip:port/<repo> (e.g. 10.0.0.5:5504/Repo_system)"
_TOKEN = re.compile(r"^(?P<address>[^/\s]+):(?P<port>\d+)/(?P<repo>[^/\s]+)$")


def alert_rules_build(sheets: Any, profile: Any, ctx: Context) -> pd.DataFrame:
    """The Alert sheet mapped as the profile declares, then ``repos`` expanded per storage node.

    Each sheet token ``ip:port/<repo>`` names a repo of the source system: its original name
    (Repo sheet ``original_repo_name``), its cleaned name, or a default repo. It becomes
    ``{ip_private or ip}:{port}/{cleaned name}`` for every backend and all-in-one node of the
    tenant; default repos become ``127.0.0.1:{port}/{name}``. Repos that are not the tenant's
    are left out and listed in ``foreign_repos`` (a warning); a rule left without any repo is
    invalid (SKIP) and leaves ``searchname`` empty, so that only the tenant's own copies of a
    rule compete for its name.
    """
    frame = map_sheet(sheets[profile.sheet], profile, ctx, ctx.workbook_name)
    port = int(profile.xlsx.get("repo_port") or 5504)
    repo_sheet = sheets["Repo"] if "Repo" in sheets else None
    nodes = ctx.tenant.by_role(*STORAGE_ROLES) if ctx.tenant is not None else []
    repos, foreign = expand_repos(frame["repos"], repo_sheet, nodes, port)
    # another tenant's copy of a rule does not claim its name: uniqueness is checked on
    # `searchname`, set only for rules that search at least one of this tenant's repos
    elsewhere = repos.map(lambda v: isinstance(v, Invalid))
    searchname = frame["name"].where(~elsewhere, None)
    return frame.assign(repos=repos, foreign_repos=foreign, searchname=searchname)


def _repo_table(repo_sheet: pd.DataFrame | None) -> dict[str, str]:
    """Every accepted repo name (original or cleaned) → its cleaned name; defaults as is."""
    table = {name: name for name in DEFAULT_REPOS}
    if repo_sheet is None or "cleaned_repo_name" not in repo_sheet:
        return table
    cleaned = repo_sheet["cleaned_repo_name"].astype(str).str.strip()
    for col in ("cleaned_repo_name", "original_repo_name"):
        if col in repo_sheet:
            names = repo_sheet[col].astype(str).str.strip()
            table.update((n, c) for n, c in zip(names, cleaned) if n and c and n not in table)
    return table


def expand_repos(
    tokens: pd.Series, repo_sheet: pd.DataFrame | None, nodes: list[Any], port: int = 5504
) -> tuple[pd.Series, pd.Series]:
    """Sheet repo tokens → (expanded repo strings per row, foreign names per row as text).

    Returns:
        ``repos``: sorted unique ``address:port/name`` lists, or an :class:`Invalid` marker when
        the rule names repos but none of them is the tenant's; ``foreign``: the names (or
        tokens) left out, comma-joined, or None.
    """
    table = _repo_table(repo_sheet)
    addresses = list(dict.fromkeys(n.ip_private or n.ip or "127.0.0.1" for n in nodes))
    items = tokens.map(lambda v: v if isinstance(v, list) else []).explode().dropna()
    items = items.map(lambda t: str(t).strip(" \t\"'[]"))
    items = items[items.ne("")]
    parsed = items.str.extract(_TOKEN)
    cleaned = parsed["repo"].map(table)
    is_default = parsed["repo"].isin(DEFAULT_REPOS)
    local = cleaned[is_default].map(lambda name: [f"127.0.0.1:{port}/{name}"])
    remote = cleaned[cleaned.notna() & ~is_default].map(
        lambda name: [f"{a}:{port}/{name}" for a in addresses]
    )
    expanded = pd.concat([local, remote]).explode().dropna()
    per_row = expanded.groupby(level=0).agg(lambda s: sorted(set(s)))
    left_out = parsed["repo"].where(parsed["repo"].notna(), items)[cleaned.isna()]
    foreign = left_out.groupby(level=0).agg(lambda s: ", ".join(dict.fromkeys(s)))
    if not addresses:
        left_out = parsed["repo"][cleaned.notna() & ~is_default]
        foreign = pd.concat([foreign, left_out.groupby(level=0).agg(", ".join)])
        foreign = foreign.groupby(level=0).agg(", ".join)
    repos: pd.Series = pd.Series([[] for _ in range(len(tokens))], index=tokens.index, dtype=object)
    repos.loc[per_row.index] = per_row
    named = items.groupby(level=0).size().reindex(tokens.index, fill_value=0).gt(0)
    nothing = named & repos.map(len).eq(0)
    nameless = items[parsed["repo"].isna()].groupby(level=0).agg(", ".join)
    repos[nothing] = [
        Invalid(nameless[i], NAMELESS_TOKEN, "settings.repos")
        if i in nameless.index
        else Invalid(
            foreign.get(i, ""),
            "not a repo of this tenant (no repo of the rule is in the Repo sheet, by original "
            "or cleaned name, nor a default repo"
            + ("" if addresses else "; the tenant has no backend or all-in-one node")
            + "): the rule would search no repo",
            "settings.repos",
        )
        for i in tokens.index[nothing]
    ]
    foreign_text = foreign.reindex(tokens.index).where(~nothing, None)
    return repos, foreign_text.astype(object).where(foreign_text.notna(), None)

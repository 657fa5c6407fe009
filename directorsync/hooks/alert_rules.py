"""Hooks of the alert rule profile.

- ``alert_rules_build`` (build): the Alert sheet mapped as declared, then ``repos`` expanded per
  storage node of the tenant (needs the tenant topology and the Repo sheet). A storage node is
  addressed by its ``ip_private`` (as the current tool does); by its public ``ip`` only with the
  setting ``inputs.public_ip_fallback`` — either way said per node in a plan note.
- :func:`block_on_absent_repos`: rules searching a repo neither planned nor on Director are SKIP.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from directorsync.errors import DirectorError
from directorsync.mapping import map_sheet
from directorsync.transforms import Context, Invalid

DEFAULT_REPOS = ("default", "_logpoint", "_LogPointAlerts")
STORAGE_ROLES = ("backends", "all_in_one")
#: Columns the build hook reads besides the profile's mapping, by sheet (template drift check).
COLUMNS_READ = {"Repo": ("cleaned_repo_name", "original_repo_name")}
#: a repo token that is not ``address:port/<repo>`` (``10.0.0.5:5504/``): it names no repo
NAMELESS_TOKEN = "names no repo: write each repo as ip:port/<repo> (e.g. 10.0.0.5:5504/Repo_system)"
#: the setting (``inputs.public_ip_fallback``) passed in the plan's context options
PUBLIC_IP_FALLBACK = "public_ip_fallback"
NO_ADDRESS = "the tenant has no backend or all-in-one node with an ip_private"
_TOKEN = re.compile(r"^(?P<address>[^/\s]+):(?P<port>\d+)/(?P<repo>[^/\s]+)$")


def alert_rules_build(sheets: Any, profile: Any, ctx: Context) -> pd.DataFrame:
    """The Alert sheet mapped as the profile declares, then ``repos`` expanded per storage node.

    Each sheet token ``ip:port/<repo>`` names a repo of the source system: its original name
    (Repo sheet ``original_repo_name``), its cleaned name, or a default repo. It becomes
    ``{ip_private}:{port}/{cleaned name}`` for every backend and all-in-one node of the tenant
    (see :func:`repo_address`); default repos become ``127.0.0.1:{port}/{name}``. Repos that are not the tenant's
    are left out and listed in ``foreign_repos`` (a warning); a rule left without any repo is
    invalid (SKIP) and leaves ``searchname`` empty, so that only the tenant's own copies of a
    rule compete for its name.
    """
    frame = map_sheet(sheets[profile.sheet], profile, ctx, ctx.workbook_name)
    port = int(profile.xlsx.get("repo_port") or 5504)
    repo_sheet = sheets["Repo"] if "Repo" in sheets else None
    nodes = ctx.tenant.by_role(*STORAGE_ROLES) if ctx.tenant is not None else []
    options = ctx.options if ctx.options is not None else {}
    fallback = bool(options.get(PUBLIC_IP_FALLBACK))
    options.setdefault("notes", []).extend(address_notes(nodes, fallback))
    repos, foreign = expand_repos(frame["repos"], repo_sheet, nodes, port, fallback=fallback)
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


def repo_address(node: Any, fallback: bool = False) -> str | None:
    """The address alert rules reach a storage node's repos at.

    ``ip_private``; else, with ``fallback``, its public ``ip``; else None (the node's repos are
    left out).
    """
    return node.ip_private or (node.ip if fallback else None) or None


def address_notes(nodes: list[Any], fallback: bool) -> list[dict[str, str]]:
    """One warning per storage node without ``ip_private`` (falling back, or left out)."""
    notes = []
    for node in nodes:
        if node.ip_private:
            continue
        if fallback and node.ip:
            text = (
                f"node {node.name} has no ip_private: alert rules address its repos by its public "
                f"ip {node.ip} (inputs.public_ip_fallback); check that the search head reaches it there"
            )
        else:
            text = (
                f"node {node.name} has no ip_private: alert rules do not search its repos. Add "
                "ip_private to the tenants file"
                + (f", or set inputs.public_ip_fallback to use its ip {node.ip}" if node.ip else "")
            )
        notes.append({"resource": "alert_rules", "level": "warning", "message": text})
    return notes


def expand_repos(
    tokens: pd.Series,
    repo_sheet: pd.DataFrame | None,
    nodes: list[Any],
    port: int = 5504,
    *,
    fallback: bool = False,
) -> tuple[pd.Series, pd.Series]:
    """Sheet repo tokens → (expanded repo strings per row, foreign names per row as text).

    Returns:
        ``repos``: sorted unique ``address:port/name`` lists, or an :class:`Invalid` marker when
        the rule names repos but none of them is the tenant's; ``foreign``: the names (or
        tokens) left out, comma-joined, or None.
    """
    table = _repo_table(repo_sheet)
    addresses = list(dict.fromkeys(a for a in (repo_address(n, fallback) for n in nodes) if a))
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
            + ("" if addresses else f"; {NO_ADDRESS}")
            + "): the rule would search no repo",
            "settings.repos",
        )
        for i in tokens.index[nothing]
    ]
    foreign_text = foreign.reindex(tokens.index).where(~nothing, None)
    return repos, foreign_text.astype(object).where(foreign_text.notna(), None)


def block_on_absent_repos(
    rows: pd.DataFrame, tenant: Any, inventory: Any, why: str, fallback: bool = False
) -> None:
    """Skip alert rules searching a repo that is not on Director, when repos are not planned.

    Such rules (``why`` says why repos are not planned in this run) become SKIP before sending,
    naming the repo and the node.

    The tenant's storage nodes are listed (``inventory``); a repo ``address:port/name`` is looked
    for on the nodes of that address. A listing that fails leaves the rule SKIP too: whether its
    repos exist cannot be checked. Changes ``rows`` in place.
    """
    alerts = rows.index[
        rows["resource"].eq("alert_rules") & rows["action"].isin(["create", "update"])
    ]
    if not len(alerts):
        return
    on_address: dict[str, list[tuple[str, set[str] | str]]] = {}
    for node in tenant.by_role(*STORAGE_ROLES):
        try:
            frame = inventory.frame("repos", node, ["name"])
            names: set[str] | str = (
                set(frame["name"].dropna().astype(str)) if "name" in frame else set()
            )
        except DirectorError as exc:
            names = "could not list " + exc.message.removeprefix("cannot list ")
        address = repo_address(node, fallback)
        if address:
            on_address.setdefault(address, []).append((node.name, names))
    for i in alerts:
        payload: dict[str, Any] = rows.at[i, "payload"] or {}  # type: ignore[assignment]
        for repo in payload.get("repos") or []:
            where, _, name = str(repo).rpartition("/")
            address = where.rpartition(":")[0]
            reason = _absent_reason(name, on_address.get(address, []), why)
            if reason:
                rows.at[i, "action"], rows.at[i, "reason"] = "skip", reason
                break


def _absent_reason(name: str, nodes: list[tuple[str, set[str] | str]], why: str) -> str | None:
    """Why the rule cannot search ``name`` on these nodes, or None when one of them has it."""
    if (
        name in DEFAULT_REPOS
        or not nodes
        or any(isinstance(n, set) and name in n for _, n in nodes)
    ):
        return None
    failed = [listing for _, listing in nodes if isinstance(listing, str)]
    if failed:
        return f"repo '{name}' could not be checked ({failed[0]}); it is not planned in this run ({why})"
    where = ", ".join(node for node, _ in nodes)
    return (
        f"repo '{name}' is not on {where} and is not planned in this run ({why}): plan the Repo "
        "sheet with the alert rules, or create the repo first"
    )

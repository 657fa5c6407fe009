"""Director's values back into workbook cells: the reverse of a profile's ``xlsx.mapping``.

The importers read a sheet column, run the entry's ``transform`` chain, and — when a
``resolve`` entry reads the field — turn names into ids. Reading back goes the other way:

- a **column rule** (:func:`column_rules`) says which Director field feeds a sheet column: the
  resolve target reading the mapped field (``devicegroup`` for ``device_groups``), a key of a
  zipped or object field (``hiddenrepopath[].path`` for ``storage_paths``), or the field itself;
- a resolved id turns back into the name it was looked up by, per node (:func:`lookup_tables`);
- each transform of the chain has a reverse (:data:`REVERSE`), run last to first: lists are
  joined with `` | `` (``split``) or written as JSON (``parse_list``), ``map`` tables are read
  backwards, booleans stay booleans and numbers numbers, text transforms are left as they are.

A transform without a reverse (``pluck``, ``csv``, ``regex_replace`` …) makes a field
unreadable: the profile then lists it under ``export.skip`` (or writes its sheets with an
``export`` hook) and the linter checks that it does (DS-LINT-018).

:func:`cell_text` is the entry point for one cell (drift's ``--adopt`` uses it);
:func:`column_values` does the same over a whole column (export uses it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from directorsync.profile.model import Profile
from directorsync.profile.schema import using_field
from directorsync.transforms import parse_spec

#: The separator multi-value cells are written with (the importers split on it).
JOIN = " | "


def _is_null(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return v is pd.NA or v is pd.NaT


def _identity(v: Any, arg: Any) -> Any:
    return v


def _join(v: Any, arg: Any) -> Any:
    if isinstance(v, (list, tuple)):
        items = [_scalar(i) for i in v if not _is_null(i) and i != ""]
        if len(items) == 1 and isinstance(items[0], int) and not isinstance(items[0], bool):
            return items[0]  # one number: a number cell, as users write it
        return JOIN.join(str(i) for i in items) if items else None
    return v


def _json_list(v: Any, arg: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return json.dumps(list(v), ensure_ascii=False) if v else None
    return v


def _json(v: Any, arg: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, sort_keys=True) if v else None
    return v


def _int(v: Any, arg: Any) -> Any:
    if isinstance(v, bool) or _is_null(v):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    return v


def _bool(v: Any, arg: Any) -> Any:
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return v


def _unmap(v: Any, arg: Any) -> Any:
    table = {k: t for k, t in (arg or {}).items() if k != "*"}
    if any(str(k).lower() == str(v).lower() and t == v for k, t in table.items()):
        return v  # the value maps to itself: written as it is
    for key, target in table.items():
        if target == v or (_is_null(target) and _is_null(v)):
            return key
    return v


def _scalar(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


#: Transform name → its reverse ``fn(value, arg) -> value``. Absent names have none.
REVERSE: dict[str, Callable[[Any, Any], Any]] = {
    "norm_str": _identity,
    "upper": _identity,
    "lower": _identity,
    "one_of": _identity,
    "uniq": _identity,
    "sort": _identity,
    "trailing_slash": _identity,
    "none_if_empty": _identity,
    "default": _identity,
    "sheet_map": _identity,  # names are written; export fills the translating sheet's key column
    "split": _join,
    "parse_list": _json_list,
    "parse_json": _json,
    "to_int": _int,
    "to_bool": _bool,
    "map": _unmap,
}


def reversible(chain: list[Any]) -> list[str]:
    """The transforms of ``chain`` that have no reverse (empty: the chain reads back)."""
    return [parse_spec(s)[0] for s in chain or [] if parse_spec(s)[0] not in REVERSE]


def compile_chain(chain: list[Any]) -> Callable[[Any], Any]:
    """``chain``'s reverse as one function ``value -> cell`` (the transforms parsed once)."""
    steps = [(REVERSE[name], arg) for name, arg in map(parse_spec, reversed(chain or []))]

    def run(value: Any) -> Any:
        if _is_null(value):
            value = None
        for fn, arg in steps:
            value = fn(value, arg)
        if isinstance(value, (list, dict)):  # a chain that never made a list out of text
            value = _join(value, None) if isinstance(value, list) else _json(value, None)
        return None if value == "" else _scalar(value)

    return run


def reverse_value(chain: list[Any], value: Any) -> Any:
    """A write-shape value back through ``chain`` (last transform first) → a cell value."""
    return compile_chain(chain)(value)


@dataclass(frozen=True)
class Lookup:
    """A resolve entry read backwards: ``target`` ids → ``by`` names in inventory ``source``."""

    target: str
    source: str
    by: str | None
    returns: str
    many: bool
    none_value: Any


@dataclass(frozen=True)
class ColumnRule:
    """How one sheet column is read back from Director's object.

    Attributes:
        column: the sheet column.
        field: the mapped field that reads it.
        source: the Director (write-shape) field holding its value.
        chain: the mapping entry's transform chain (reversed on the way back).
        lookup: ids to turn back into names first (a resolve entry), or None.
        part: the key of each item of ``source`` (a zipped or object field), or None.
        rows: ``source`` is a list of objects written one per sheet row (``aggregate: list``).
        sets: ``source`` is compared as a set: items are written sorted.
    """

    column: str
    field: str
    source: str
    chain: tuple[Any, ...]
    lookup: Lookup | None = None
    part: str | None = None
    rows: bool = False
    sets: bool = False


def _entry(spec: Any) -> dict[str, Any]:
    return {"col": spec} if isinstance(spec, str) else dict(spec or {})


def _lookups(profile: Profile) -> dict[str, Lookup]:
    """Mapped field → the resolve entry reading it (by the field its ``using`` names)."""
    out: dict[str, Lookup] = {}
    for target, spec in profile.resolve.items():
        many = "lookup_many" in spec and spec["lookup_many"]
        lookup = spec.get("lookup_many" if many else "lookup") or {}
        field = using_field(str(lookup.get("using", "")))
        out.setdefault(
            field,
            Lookup(
                target=target,
                source=spec["from"],
                by=lookup.get("by"),
                returns=spec.get("return", "id") or "id",
                many=bool(many),
                none_value=spec.get("none_value"),
            ),
        )
    return out


def export_section(profile: Profile) -> dict[str, Any]:
    """The profile's ``export`` section (``skip``), empty when absent."""
    return profile.section("export")


def column_rules(profile: Profile) -> list[ColumnRule]:
    """One rule per sheet column the profile's mapping reads (first mapping of a column wins).

    Fields listed under ``export.skip`` and derived entries (``from``, ``const``, ``expr``) are
    not read back.
    """
    skip = set(export_section(profile).get("skip") or [])
    sets = set(profile.diff.get("list_as_sets") or []) | set(profile.diff.get("deep_sets") or [])
    lookups = _lookups(profile)
    zipped: dict[str, tuple[str, str]] = {}  # field → (zip field, key)
    for field, raw in profile.mapping.items():
        spec = _entry(raw)
        for key, inner in (spec.get("zip") or {}).items():
            if isinstance(inner, str):
                zipped[inner] = (field, key)
    rules: list[ColumnRule] = []
    seen: set[str] = set()

    def add(rule: ColumnRule) -> None:
        if rule.column not in seen and rule.field not in skip:
            seen.add(rule.column)
            rules.append(rule)

    for field, raw in profile.mapping.items():
        spec = _entry(raw)
        if spec.get("col"):
            chain = tuple(spec.get("transform") or [])
            lookup = lookups.get(field)
            if field in zipped:
                parent, key = zipped[field]
                add(ColumnRule(spec["col"], field, parent, chain, None, key, sets=parent in sets))
            elif lookup is not None:
                add(
                    ColumnRule(
                        spec["col"], field, lookup.target, chain, lookup, sets=lookup.target in sets
                    )
                )
            else:
                add(ColumnRule(spec["col"], field, field, chain, sets=field in sets))
        for kind in ("zip", "object"):
            for key, inner in (spec.get(kind) or {}).items():
                if isinstance(inner, dict) and inner.get("col"):
                    chain = tuple(inner.get("transform") or [])
                    rows = kind == "object" and spec.get("aggregate") == "list"
                    add(
                        ColumnRule(
                            inner["col"], field, field, chain, None, key, rows, field in sets
                        )
                    )
    return rules


def rule_for(profile: Profile, column: str) -> ColumnRule | None:
    """The rule of one sheet column (aliases of it accepted), or None."""
    names = {column, *[k for k, v in (profile.xlsx.get("aliases") or {}).items() if column in v]}
    return next((r for r in column_rules(profile) if r.column in names), None)


def lookup_tables(
    profile: Profile, frames: Callable[[str], pd.DataFrame | None]
) -> dict[str, dict[Any, Any]]:
    """Per resolve target, Director's returned value → the name it is looked up by.

    ``frames(source)`` gives the inventory of ``source`` on one node (None when not listed).
    """
    out: dict[str, dict[Any, Any]] = {}
    for lookup in _lookups(profile).values():
        frame = frames(lookup.source)
        by = lookup.by or ("name" if frame is not None and "name" in frame else None)
        if frame is None or by is None or by not in frame or lookup.returns not in frame:
            out[lookup.target] = {}
            continue
        pairs = frame[[lookup.returns, by]].dropna()
        out[lookup.target] = dict(zip(pairs[lookup.returns].map(_key), pairs[by]))
    return out


def _key(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool)) else repr(v)


def _unresolve(lookup: Lookup, value: Any, table: Mapping[Any, Any]) -> Any:
    def one(v: Any) -> Any:
        if _is_null(v) or v == lookup.none_value:
            return None
        return table.get(_key(v), v)

    if lookup.many:
        items = value if isinstance(value, (list, tuple)) else ([] if _is_null(value) else [value])
        return [n for n in (one(v) for v in items) if n is not None]
    if isinstance(value, (list, tuple)):
        return [one(v) for v in value]
    return one(value)


def _sorted(items: list[Any]) -> list[Any]:
    if all(isinstance(i, str) for i in items):
        return sorted(items)
    return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))


def reader(rule: ColumnRule, tables: Mapping[str, Mapping[Any, Any]]) -> Callable[[Any], Any]:
    """One Director value of ``rule.source`` → the cell: :func:`read_back` compiled once."""
    chain = compile_chain(list(rule.chain))
    table = tables.get(rule.lookup.target, {}) if rule.lookup is not None else {}
    lookup, part, sets = rule.lookup, rule.part, rule.sets

    def read(value: Any) -> Any:
        if part is not None and not rule.rows:
            items = value if isinstance(value, (list, tuple)) else []
            if sets:
                items = _sorted(list(items))
            value = [i.get(part) for i in items if isinstance(i, dict)]
        elif part is not None:
            value = value.get(part) if isinstance(value, dict) else None
        if lookup is not None:
            value = _unresolve(lookup, value, table)
        if sets and part is None and isinstance(value, list):
            value = _sorted(value)
        return chain(value)

    if rule.rows:  # a list of objects, one sheet row each: a list of cells
        return lambda value: [read(v) for v in value] if isinstance(value, list) else []
    return read


def read_back(rule: ColumnRule, value: Any, tables: Mapping[str, Mapping[Any, Any]]) -> Any:
    """One Director value of ``rule.source`` → the cell (for a ``part``, the item key's values)."""
    return reader(rule, tables)(value)


_PLAIN = frozenset(name for name, fn in REVERSE.items() if fn is _identity)


def _joins_only(rule: ColumnRule) -> bool:
    """The rule reads back by joining lists (``split``) and keeping text: the fast path."""
    names = [parse_spec(spec)[0] for spec in rule.chain]
    plain = all(n in _PLAIN or n == "split" for n in names)
    return plain and rule.part is None and not rule.rows and rule.lookup is None


def column_values(
    rule: ColumnRule, values: pd.Series, tables: Mapping[str, Mapping[Any, Any]]
) -> pd.Series:
    """:func:`read_back` over a column.

    Equal values are read back once (texts, numbers, and lists of texts such as id lists);
    texts and lists of texts of a rule that only joins lists take a fast path.
    """
    read = reader(rule, tables)
    fast, sets = _joins_only(rule), rule.sets
    seen: dict[Any, Any] = {}
    lists: dict[tuple[Any, ...], Any] = {}
    out: list[Any] = []
    append = out.append
    for v in values.to_numpy(dtype=object):
        kind = type(v)
        if kind is str and fast:
            append(v or None)
        elif kind is list and fast and all(type(i) is str for i in v):
            items = [i for i in (sorted(v) if sets else v) if i]
            append(JOIN.join(items) if items else None)
        elif kind is str or kind is int:
            found = seen.get(v, seen)
            if found is seen:
                found = seen[v] = read(v)
            append(found)
        elif kind is list and all(type(i) is str for i in v):
            key = tuple(v)
            found = lists.get(key, lists)
            if found is lists:
                found = lists[key] = read(v)
            append(found)
        else:
            append(read(v))
    return pd.Series(out, index=values.index, dtype=object)


def cell_text(
    profile: Profile | Mapping[str, Profile],
    resource: str,
    column: str,
    value: Any,
    context: Mapping[str, Mapping[Any, Any]] | None = None,
) -> Any:
    """The cell a workbook would hold for Director's ``value`` in ``column`` of ``resource``.

    Args:
        profile: the resource's profile (or every profile by name: ``resource`` picks one).
        resource: the resource (profile) name.
        column: the sheet column (its canonical name or an alias).
        value: Director's value of the field behind the column — the compared field as the
            plan shows it (``devicegroup`` ids for ``device_groups``; the whole
            ``hiddenrepopath`` list for ``storage_paths``).
        context: per resolve target, Director's value → name on the node the value comes
            from (:func:`lookup_tables`); ids stay as they are without it.

    Returns:
        A text, number or boolean as users write them (None: an empty cell). A column the
        profile does not read back gives the value unchanged (lists joined with `` | ``).
    """
    chosen = profile if isinstance(profile, Profile) else profile[resource]
    rule = rule_for(chosen, column)
    if rule is None:
        return reverse_value([], value)
    return read_back(rule, value, context or {})

"""The profile's typed form: pydantic models of every section, and the spec's names.

A profile file is YAML; :func:`canonical` turns the merged mapping into the spec's forms
(``transform``, prechecks ``{type, field}``, ``lookup: {by, using}``, a ``payload`` without
``create`` as the create template) and :class:`ProfileSpec` validates the result. Earlier forms
(``transforms``, ``{non_empty: name}``, ``lookup: name`` + ``match``, resolve entries with
``return: null`` as existence checks) are still read; :func:`canonical` lists each one it
rewrote, for the linter's deprecation notes. The linter reads the allowed keys from these
models (:func:`section_keys`), so a key is known to both or to neither.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Transform = str | dict[str, Any]
Severity = Literal["skip", "error", "warn"]
#: ``${field}`` in a text (an optional ``|filter`` chain after the name).
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.]+)(?:\|[a-z_|]+)?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Endpoint(_Strict):
    """``endpoint``: paths relative to the node's config API; ``{field}`` placeholders."""

    list: str | None = None
    create: str | None = None
    update: str | None = None
    action: str | None = None


class Identity(_Strict):
    """``identity``: how a sheet object finds its remote twin."""

    id_field: str = "id"
    name_field: str | None = None
    natural_key: str | list[str] | None = None
    remote_key: str | list[str] | None = None


class Filter(_Strict):
    """One ``xlsx.filter`` condition on a sheet column's trimmed text."""

    column: str
    equals: str | int | float | bool | None = None
    in_: list[Any] | None = Field(None, alias="in")
    matches: str | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Filter:
        given = [k for k in ("equals", "in_", "matches") if k in self.model_fields_set]
        if len(given) != 1:
            raise ValueError("a filter needs exactly one of equals, in, matches")
        return self


class MappingEntry(_Strict):
    """One ``xlsx.mapping`` field: exactly one source, then its ``transform`` chain."""

    col: str | None = None
    expr: str | None = None
    from_: str | None = Field(None, alias="from")
    const: Any = None
    zip: dict[str, str | MappingEntry] | None = None
    object: dict[str, str | MappingEntry] | None = None
    transform: list[Transform] = []
    fallback: str | None = None
    aggregate: Literal["first", "list", "union"] | None = None
    when_any: list[str] | None = None


#: The keys of a mapping entry that name its source (exactly one per entry).
SOURCES = ("col", "expr", "from", "const", "zip", "object")


class Xlsx(_Strict):
    """``xlsx``: the sheet(s) read and how rows become fields."""

    sheet: str | list[str] | None = None
    extra_sheets: list[str] = []
    required_columns: list[str] = []
    aliases: dict[str, list[str]] = {}
    filter: Filter | list[Filter] | None = None
    group_by: str | list[str] | None = None
    invalid_severity: Severity = "skip"
    mapping: dict[str, str | MappingEntry] = {}
    repo_port: int | None = None


class Lookup(_Strict):
    """``lookup``/``lookup_many``: the inventory column ``by`` compared with ``using``."""

    by: str | None = None
    using: str


class ResolveEntry(_Strict):
    """One ``resolve`` target: names in a field → values of an inventory, per node."""

    from_: str = Field(alias="from")
    lookup: Lookup | None = None
    lookup_many: Lookup | None = None
    return_: str = Field("id", alias="return")
    none_value: Any = None
    label: str | None = None
    severity: Severity = "skip"


PRECHECK_TYPES = (
    "non_empty",
    "unique_in_sheet",
    "one_of",
    "matches",
    "length",
    "required_when",
    "forbidden_when",
    "any_non_empty",
    "clean_items",
    "must_exist",
    "must_exist_many",
)
#: Existence checks: against Director's inventories, per node (they run with ``resolve``).
EXISTENCE_CHECKS = ("must_exist", "must_exist_many")


class Precheck(_Strict):
    """One ``prechecks`` item: ``{type, field, ...}`` (the arguments its type takes)."""

    type: str
    field: str | None = None
    fields: list[str] | None = None
    values: list[Any] | None = None
    pattern: str | None = None
    message: str | None = None
    min: int | None = None
    max: int | None = None
    when: dict[str, Any] | None = None
    from_: str | None = Field(None, alias="from")
    by: str | None = None
    label: str | None = None
    severity: Severity = "skip"


class Diff(_Strict):
    """``diff``: what is compared and how."""

    compare: list[str] | None = None
    list_as_sets: list[str] = []
    deep_sets: list[str] = []
    ignore_fields: list[str] = []
    write_only: list[str] = []
    write_only_if_absent: list[str] = []
    push_write_only: bool = False
    case_insensitive: list[str] = []


class Payload(_Strict):
    """``payload``: request body templates; ``update`` defaults to ``create`` plus the id."""

    create: dict[str, Any] | None = None
    update: dict[str, Any] | None = None
    update_omits: list[str] = []
    omit_empty: bool = True


class Inventory(_Strict):
    """``inventory``: how Director's listing is read and reshaped."""

    path: str | None = None
    fetch: bool = False
    rename: dict[str, str] = {}
    unnest: list[str] = []
    transform: dict[str, list[Transform]] = {}


HOOK_POINTS = (
    "build",
    "inventory",
    "desired",
    "preprocess_row",
    "post_payload",
    "pre_apply",
    "post_apply",
    "export",
)


class Hooks(_Strict):
    """``hooks``: a registered hook name per point (see ``directorsync.hooks.registry``)."""

    build: str | None = None
    inventory: str | None = None
    desired: str | None = None
    preprocess_row: str | None = None
    post_payload: str | None = None
    pre_apply: str | None = None
    post_apply: str | None = None
    export: str | None = None


class Waves(_Strict):
    """``apply.waves``: rows written in waves, by the order of a field's values."""

    field: str
    order: list[Any]


class Apply(_Strict):
    """``apply``: write order."""

    waves: Waves | None = None


class Lifecycle(_Strict):
    """``lifecycle``: whether DirectorSync may delete objects the workbook no longer names."""

    prune: bool = False


class AfterWrite(_Strict):
    """A follow-up write after a create or update (``path``), when the row matches ``when``."""

    path: str
    when: dict[str, Any] = {}


class Actions(_Strict):
    """``actions``: calls made after a successful write."""

    after_write: list[AfterWrite] = []


class Export(_Strict):
    """``export``: how Director's objects are written back into the sheet.

    Used by ``directorsync export`` and drift's ``--adopt``.

    Most columns read back from the mapping itself (:mod:`directorsync.reverse`); a mapped field
    whose transforms cannot be reversed is listed in ``skip`` (its column is left empty), or the
    profile names an ``export`` hook (``hooks.export``) that writes its sheets.
    """

    skip: list[str] = []


class ProfileSpec(_Strict):
    """A whole (merged, canonical) profile."""

    version: int | None = None
    resource: str | None = None
    title: str | None = None
    notes: Any = None
    depends_on: list[str] = []
    targets: list[str] | None = None
    endpoint: Endpoint = Endpoint()
    identity: Identity = Identity()
    xlsx: Xlsx = Xlsx()
    resolve: dict[str, ResolveEntry] = {}
    prechecks: list[Precheck] = []
    diff: Diff = Diff()
    payload: Payload = Payload()
    hooks: Hooks = Hooks()
    inventory: Inventory = Inventory()
    actions: Actions = Actions()
    apply: Apply = Apply()
    lifecycle: Lifecycle = Lifecycle()
    export: Export = Export()


def schema_errors(raw: dict[str, Any]) -> list[tuple[list[str], str, str]]:
    """What makes a canonical mapping fail :class:`ProfileSpec`: ``(key path, message, kind)``.

    ``kind`` is pydantic's error type (``extra_forbidden`` for an unknown key).
    """
    xlsx = raw.get("xlsx")
    if isinstance(xlsx, dict) and isinstance(xlsx.get("filter"), str):
        message = "a filter is {column, equals|in|matches}, not text (a profile holds no code)"
        return [(["xlsx", "filter"], message, "filter_text")]
    try:
        ProfileSpec.model_validate(raw)
    except ValidationError as exc:
        return [
            (
                [str(p) for p in err["loc"] if not any(c in str(p) for c in "[(")],
                err["msg"],
                err["type"],
            )
            for err in exc.errors()
        ]
    return []


def _keys(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(f.alias or name for name, f in model.model_fields.items())


#: Keys still read in their earlier spelling (the linter notes them as deprecated).
LEGACY_KEYS = {"mapping": {"transforms"}, "inventory": {"transforms"}, "resolve": {"match"}}


def section_keys() -> dict[str, frozenset[str]]:
    """Allowed keys per section, read from the models (plus the earlier spellings)."""
    out = {
        name: _keys(model)
        for name, model in (
            ("endpoint", Endpoint),
            ("identity", Identity),
            ("xlsx", Xlsx),
            ("diff", Diff),
            ("payload", Payload),
            ("inventory", Inventory),
            ("hooks", Hooks),
            ("apply", Apply),
            ("actions", Actions),
            ("lifecycle", Lifecycle),
            ("export", Export),
            ("resolve", ResolveEntry),
            ("mapping", MappingEntry),
            ("prechecks", Precheck),
        )
    }
    for section, extra in LEGACY_KEYS.items():
        out[section] = out[section] | extra
    return out


#: Top-level sections (``extends`` is read before the merge).
SECTIONS = _keys(ProfileSpec) | {"extends"}


# ---------------------------------------------------------------- earlier forms → spec forms


def canonical(raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[list[str], str]]]:
    """The spec's forms of a merged profile mapping, and a note per earlier form rewritten.

    Each note is ``(key path, message)``. Shapes this function does not know are left as they
    are, for the model (or the linter) to report.
    """
    out = copy.deepcopy(raw)
    notes: list[tuple[list[str], str]] = []
    xlsx = out.get("xlsx")
    if isinstance(xlsx, dict) and isinstance(xlsx.get("mapping"), dict):
        for field, spec in xlsx["mapping"].items():
            _canonical_entry(spec, ["xlsx", "mapping", str(field)], notes)
    inventory = out.get("inventory")
    if isinstance(inventory, dict) and "transforms" in inventory:
        inventory["transform"] = inventory.pop("transforms")
        notes.append((["inventory", "transforms"], "'transforms' is now 'transform'"))
    out["prechecks"] = [_canonical_check(i, notes) for i in out.get("prechecks") or []]
    resolve = out.get("resolve")
    if isinstance(resolve, dict):
        for target in list(resolve):
            spec = resolve[target]
            if not isinstance(spec, dict):
                continue
            check = _canonical_resolve(str(target), spec, notes)
            if check is not None:
                del resolve[target]
                out["prechecks"].append(check)
    if not out["prechecks"]:
        del out["prechecks"]
    payload = out.get("payload")
    if isinstance(payload, dict) and is_body_shorthand(payload):
        body = {k: v for k, v in payload.items() if k not in _PAYLOAD_SETTINGS}
        out["payload"] = {k: v for k, v in payload.items() if k in _PAYLOAD_SETTINGS}
        out["payload"]["create"] = body
    return out, notes


_PAYLOAD_SETTINGS = ("update", "update_omits", "omit_empty")


def is_body_shorthand(payload: Any) -> bool:
    """Whether ``payload`` is the spec's form: the create body itself.

    That is: no ``create`` key, and a ``${field}`` among the values of its other keys.
    """
    if not isinstance(payload, dict) or "create" in payload:
        return False
    body = [v for k, v in payload.items() if k not in _PAYLOAD_SETTINGS]
    return "${" in repr(body)


def _canonical_entry(spec: Any, where: list[str], notes: list) -> None:
    if not isinstance(spec, dict):
        return
    if "transforms" in spec:
        spec["transform"] = spec.pop("transforms")
        notes.append(([*where, "transforms"], "'transforms' is now 'transform'"))
    for sub in ("zip", "object"):
        if isinstance(spec.get(sub), dict):
            for name, inner in spec[sub].items():
                _canonical_entry(inner, [*where, sub, str(name)], notes)


#: Earlier one-key precheck forms whose argument is the field (or the fields).
_FIELD_ARG = {
    "non_empty": "field",
    "unique_in_sheet": "field",
    "any_non_empty": "fields",
    "clean_items": "field",
}


def _canonical_check(item: Any, notes: list) -> Any:
    if not isinstance(item, dict) or "type" in item:
        return item
    rest = {k: v for k, v in item.items() if k != "severity"}
    if len(rest) != 1:
        return item
    ((kind, arg),) = rest.items()
    if kind in _FIELD_ARG and not isinstance(arg, dict):
        out = {"type": kind, _FIELD_ARG[kind]: arg}
    elif isinstance(arg, dict):
        out = {"type": kind, **arg}
    else:
        return item
    if "severity" in item:
        out["severity"] = item["severity"]
    notes.append((["prechecks", kind], f"'{{{kind}: …}}' is now '{{type: {kind}, …}}'"))
    return out


def _canonical_resolve(target: str, spec: dict[str, Any], notes: list) -> dict | None:
    """Rewrite a resolve entry in place; an existence check (``return: null``) is returned."""
    where = ["resolve", target]
    match = spec.pop("match", None)
    for kind in ("lookup", "lookup_many"):
        value = spec.get(kind)
        if isinstance(value, str):
            spec[kind] = {"using": "${" + value + "}", **({"by": match} if match else {})}
            notes.append(
                ([*where, kind], f"'{kind}: {value}' is now '{kind}: {{by, using: ${{{value}}}}}'")
            )
        elif isinstance(value, dict) and match and "by" not in value:
            value["by"] = match
    if match is not None and not (spec.get("lookup") or spec.get("lookup_many")):
        spec["match"] = match  # nothing to move it to: left for the model to report
    if "return" not in spec or spec["return"] is not None:
        return None
    many = "lookup_many" in spec
    lookup = spec.get("lookup_many" if many else "lookup") or {}
    check = {
        "type": "must_exist_many" if many else "must_exist",
        "field": using_field(lookup.get("using", "")),
        "from": spec.get("from"),
    }
    if lookup.get("by"):
        check["by"] = lookup["by"]
    for key in ("label", "severity"):
        if key in spec:
            check[key] = spec[key]
    notes.append(
        (where, f"a resolve entry with 'return: null' is now a precheck '{check['type']}'")
    )
    return check


def using_field(using: str) -> str:
    """``"${name}"`` (or ``"name"``) → ``name``: the field a lookup reads its names from."""
    found = PLACEHOLDER.fullmatch(using.strip())
    return found.group(1) if found else using.strip()

"""Profile linter: stable codes, file and line for every finding.

| code | severity | finding |
|---|---|---|
| DS-LINT-001 | error | the file is not valid YAML or not a mapping |
| DS-LINT-002 | error | ``version: 1`` missing or wrong |
| DS-LINT-003 | error | unknown top-level section |
| DS-LINT-004 | error | ``extends`` target missing or cyclic |
| DS-LINT-005 | error | required section missing (resource, endpoint.list, identity, payload.create) |
| DS-LINT-006 | error | unknown transform |
| DS-LINT-007 | error | mapping entry without exactly one source (col/expr/from/const/zip/object) |
| DS-LINT-008 | error | unknown precheck, or bad severity |
| DS-LINT-009 | error | resolve entry without ``from`` or ``lookup``/``lookup_many``, or unknown source |
| DS-LINT-010 | error | ``${field}`` in a payload template that is neither mapped, resolved nor ``id`` |
| DS-LINT-011 | error | unknown hook |
| DS-LINT-012 | warning | compared field that is neither mapped nor resolved |
| DS-LINT-013 | warning | ``depends_on`` names a resource without a profile |
| DS-LINT-014 | warning (error in strict) | no ``title`` / comment header explaining the profile |
| DS-LINT-015 | error | unknown key in a section, a resolve entry, a mapping entry or a precheck (with a close match) |
| DS-LINT-016 | error | a value of the wrong shape for the profile schema (``profile/schema.py``), e.g. a text ``filter`` |
| DS-LINT-017 | warning | an earlier form, still read: ``transforms``, ``{non_empty: f}``, ``lookup: f`` + ``match``, ``return: null`` |
| DS-LINT-018 | error | a precheck, a lookup's ``using`` or the natural key names a field that is neither mapped nor resolved |
| DS-LINT-019 | error | export: a mapped column whose transforms cannot be read back (no reverse) and that ``export.skip`` does not list (nor an ``export`` hook writes); an ``export.skip`` entry that is no mapped field |

The allowed sections and keys are read from the pydantic models of
:mod:`directorsync.profile.schema`, which the loader validates against: one list for both.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from directorsync.errors import ProfileError
from directorsync.hooks.registry import HOOKS
from directorsync.inventory import CATALOGS
from directorsync.prechecks import CHECK_BUILDERS, SEVERITIES
from directorsync.profile.model import merged_yaml, profile_files
from directorsync.profile.schema import (
    EXISTENCE_CHECKS,
    PLACEHOLDER,
    SOURCES,
    canonical,
    is_body_shorthand,
    schema_errors,
    section_keys,
    using_field,
)
from directorsync.profile.schema import SECTIONS as SCHEMA_SECTIONS
from directorsync.reverse import reversible
from directorsync.transforms import TRANSFORMS, parse_spec

SECTIONS = SCHEMA_SECTIONS
#: Keys each section may hold (DS-LINT-015): read from the schema's models.
_KEYS = section_keys()
SECTION_KEYS: dict[str, frozenset[str]] = {
    k: v for k, v in _KEYS.items() if k not in ("resolve", "mapping", "prechecks")
}
RESOLVE_KEYS = _KEYS["resolve"]
MAPPING_KEYS = _KEYS["mapping"]
PRECHECK_KEYS = _KEYS["prechecks"]


@dataclass
class Finding:
    """One lint finding."""

    code: str
    severity: str
    file: str
    line: int
    message: str

    def text(self) -> str:
        """The finding as one line: ``file:line: code severity: message``."""
        return f"{self.file}:{self.line}: {self.code} {self.severity}: {self.message}"


def _line_of(path: Path, needle: str) -> int:
    """First line holding ``needle`` (1 when not found)."""
    try:
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if needle in line:
                return i
    except OSError:
        pass
    return 1


#: ``add(code, severity, needle, message)``: records a finding at the first line holding the needle
AddFinding = Callable[[str, str, str, str], None]


def lint_file(path: Path, known_resources: set[str], strict: bool = False) -> list[Finding]:
    """Lint one profile file."""
    out: list[Finding] = []

    def add(code: str, sev: str, needle: str, msg: str) -> None:
        out.append(Finding(code, sev, str(path), _line_of(path, needle), msg))

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return [Finding("DS-LINT-001", "error", str(path), line, f"invalid YAML: {exc}")]
    if not isinstance(raw, dict):
        return [Finding("DS-LINT-001", "error", str(path), 1, "a profile must be a mapping")]
    out += _check_keys(path, raw)
    for key in raw:
        if key not in SECTIONS:
            add(
                "DS-LINT-003",
                "error",
                f"{key}:",
                f"unknown section '{key}' (known: {', '.join(sorted(SECTIONS))})",
            )
    if path.name.startswith("_"):
        return out
    try:
        merged = merged_yaml(path)
    except ProfileError as exc:
        return [
            *out,
            Finding("DS-LINT-004", "error", str(path), _line_of(path, "extends"), exc.message),
        ]
    if merged.get("version") != 1:
        message = f"{path}: 'version: 1' is required (found {merged.get('version')!r})"
        return [
            *out,
            Finding("DS-LINT-002", "error", str(path), _line_of(path, "version"), message),
        ]
    merged, notes = canonical(merged)
    lines = _lines(path)
    for keys, message, kind in schema_errors(merged):
        if kind != "extra_forbidden":  # unknown keys: DS-LINT-015, in the file that holds them
            line = _line_of_path(lines, keys)
            out.append(
                Finding("DS-LINT-016", "error", str(path), line, f"{'.'.join(keys)}: {message}")
            )
    for keys, message in notes:
        line = _line_of_path(lines, keys)
        out.append(
            Finding(
                "DS-LINT-017", "warning", str(path), line, f"earlier form (still read): {message}"
            )
        )
    _check_required(merged, add)
    fields = _check_mapping(merged, add)
    resolved = _check_resolve(merged, known_resources, add)
    _check_prechecks(merged, known_resources, resolved, add)
    _check_field_names(merged, fields, resolved, add)
    _check_payload(merged, fields | resolved | {"id"}, add)
    _check_hooks(merged, add)
    _check_export(merged, fields, add)
    for f in (merged.get("diff") or {}).get("compare") or []:
        if f not in fields | resolved:
            add("DS-LINT-012", "warning", f, f"compared field '{f}' is neither mapped nor resolved")
    for dep in merged.get("depends_on") or []:
        if dep not in known_resources:
            add("DS-LINT-013", "warning", dep, f"depends_on '{dep}' has no profile")
    if not merged.get("title"):
        add("DS-LINT-014", "error" if strict else "warning", "resource:", "no 'title'")
    return out


def _check_keys(path: Path, raw: dict[str, Any]) -> list[Finding]:
    """DS-LINT-015 over this file's own YAML: sections, resolve entries and mapping entries."""
    lines = _lines(path)
    out: list[Finding] = []

    def check(body: Any, known: frozenset[str], where: list[str], label: str) -> None:
        for key in body if isinstance(body, dict) else {}:
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                line = _line_of_path(lines, [*where, str(key)])
                message = f"unknown key '{key}' in {label}{hint}; known: {', '.join(sorted(known))}"
                out.append(Finding("DS-LINT-015", "error", str(path), line, message))

    for section, known in SECTION_KEYS.items():
        body = raw.get(section)
        if section == "payload" and is_body_shorthand(body):
            continue  # the spec's form: the payload is the create body itself (its own keys)
        check(body, known, [section], section)
    for target, spec in _items(raw.get("resolve")):
        check(spec, RESOLVE_KEYS, ["resolve", str(target)], f"resolve '{target}'")
    for item in raw.get("prechecks") or []:
        if isinstance(item, dict) and "type" in item:
            check(
                item, PRECHECK_KEYS, ["prechecks", str(item["type"])], f"precheck '{item['type']}'"
            )
    for field, spec in _items((raw.get("xlsx") or {}).get("mapping")):
        where = ["xlsx", "mapping", str(field)]
        check(spec, MAPPING_KEYS, where, f"mapping '{field}'")
        for sub in ("zip", "object"):
            for name, inner in _items((spec or {}).get(sub) if isinstance(spec, dict) else None):
                label = f"mapping '{field}.{name}'"
                check(inner, MAPPING_KEYS, [*where, sub, str(name)], label)
    return out


def _items(value: Any) -> list[tuple[Any, Any]]:
    return list(value.items()) if isinstance(value, dict) else []


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def _line_of_path(lines: list[str], keys: list[str]) -> int:
    """Line of the last of ``keys``, each looked for from the line of the one before it.

    Keys are matched as YAML keys (block or flow style), not as parts of longer names.
    """
    found = 0
    for key in keys:
        pattern = re.compile(rf"(?:^|[\s{{,\-])[\"']?{re.escape(key)}[\"']?\s*:")
        for i in range(found, len(lines)):
            if pattern.search(lines[i]):
                found = i
                break
    return found + 1


def _check_required(raw: dict[str, Any], add: AddFinding) -> None:
    if not raw.get("resource"):
        add("DS-LINT-005", "error", "version", "missing 'resource'")
    if not (raw.get("endpoint") or {}).get("list"):
        add("DS-LINT-005", "error", "endpoint", "missing 'endpoint.list'")
    if not raw.get("identity"):
        add("DS-LINT-005", "error", "identity", "missing 'identity'")
    if not (raw.get("payload") or {}).get("create"):
        add("DS-LINT-005", "error", "payload", "missing 'payload.create'")


def _check_transforms(specs: Any, where: str, add: AddFinding) -> None:
    for spec in specs or []:
        try:
            name, _ = parse_spec(spec)
        except ProfileError as exc:
            add("DS-LINT-006", "error", where, exc.message)
            continue
        if name not in TRANSFORMS:
            add(
                "DS-LINT-006",
                "error",
                name,
                f"unknown transform '{name}' in {where} (known: {', '.join(TRANSFORMS.names())})",
            )


def _check_mapping(raw: dict[str, Any], add: AddFinding) -> set[str]:
    mapping = ((raw.get("xlsx") or {}).get("mapping")) or {}
    for field, spec in mapping.items():
        if isinstance(spec, str):
            continue
        if not isinstance(spec, dict) or sum(k in spec for k in SOURCES) != 1:
            add(
                "DS-LINT-007",
                "error",
                f"{field}:",
                f"mapping '{field}' needs exactly one of {', '.join(SOURCES)}",
            )
            continue
        _check_transforms(spec.get("transform"), field, add)
        for sub in ("zip", "object"):
            for name, inner in (spec.get(sub) or {}).items():
                if isinstance(inner, dict):
                    _check_transforms(inner.get("transform"), f"{field}.{name}", add)
    return set(mapping)


def _check_resolve(raw: dict[str, Any], known: set[str], add: AddFinding) -> set[str]:
    out = set()
    for target, spec in (raw.get("resolve") or {}).items():
        spec = spec or {}
        lookup = spec.get("lookup") or spec.get("lookup_many")
        if not spec.get("from") or not isinstance(lookup, dict) or not lookup.get("using"):
            add(
                "DS-LINT-009",
                "error",
                f"{target}:",
                f"resolve '{target}' needs 'from' and 'lookup' or 'lookup_many' ({{by, using}})",
            )
            continue
        _check_source(spec["from"], f"resolve '{target}'", known, add)
        if spec.get("severity", "skip") not in SEVERITIES:
            add("DS-LINT-008", "error", f"{target}:", f"resolve '{target}': bad severity")
        out.add(target)
    return out


def _check_source(source: str, where: str, known: set[str], add: AddFinding) -> None:
    if source not in known and source not in CATALOGS:
        add("DS-LINT-009", "error", source, f"{where}: unknown source '{source}'")


#: The arguments each precheck type needs besides ``type``.
_NEEDS = {
    "one_of": ("field", "values"),
    "matches": ("field", "pattern"),
    "required_when": ("field", "when"),
    "forbidden_when": ("field", "when"),
    "any_non_empty": ("fields",),
}


def _check_prechecks(
    raw: dict[str, Any], known: set[str], resolved: set[str], add: AddFinding
) -> None:
    kinds = sorted([*CHECK_BUILDERS, *EXISTENCE_CHECKS])
    for item in raw.get("prechecks") or []:
        item = dict(item or {})
        kind = str(item.get("type") or "")
        needs = _NEEDS.get(kind, ("field",))
        if (
            item.get("severity", "skip") not in SEVERITIES
            or kind not in kinds
            or any(item.get(k) is None for k in needs)
        ):
            add(
                "DS-LINT-008",
                "error",
                kind or "prechecks",
                f"bad precheck {item} (known: {', '.join(kinds)}; each {{type, field, ...}})",
            )
        elif kind in EXISTENCE_CHECKS and item.get("from"):
            _check_source(item["from"], f"precheck '{kind}'", known, add)
        elif kind in EXISTENCE_CHECKS and item["field"] not in resolved:
            add(
                "DS-LINT-008",
                "error",
                str(item["field"]),
                f"precheck '{kind}' on '{item['field']}': name an inventory ('from') or a resolve target",
            )


def _check_field_names(
    raw: dict[str, Any], fields: set[str], resolved: set[str], add: AddFinding
) -> None:
    """DS-LINT-018 (spec §13): names of fields that nothing maps or resolves.

    A ``build`` hook makes its own fields: its profiles are not checked.
    """
    if (raw.get("hooks") or {}).get("build"):
        return
    known = fields | resolved
    named: list[tuple[str, str, str]] = []  # (field, where, text to find its line)
    for item in raw.get("prechecks") or []:
        if isinstance(item, dict):
            names = [item.get("field")] + list(item.get("fields") or [])
            names += list((item.get("when") or {}) if isinstance(item.get("when"), dict) else [])
            named += [(str(n), f"precheck '{item.get('type')}'", str(n)) for n in names if n]
    for target, spec in (raw.get("resolve") or {}).items():
        lookup = (spec or {}).get("lookup") or (spec or {}).get("lookup_many")
        if isinstance(lookup, dict) and lookup.get("using"):
            using = str(lookup["using"])
            named.append((using_field(using), f"resolve '{target}'", using))
    key = (raw.get("identity") or {}).get("natural_key") or []
    keys = [key] if isinstance(key, str) else key
    named += [(str(k), "identity.natural_key", "natural_key") for k in keys]
    for name, where, needle in named:
        if name not in known:
            message = f"{where} names '{name}', which is neither mapped nor resolved"
            add("DS-LINT-018", "error", needle, message)


def _check_payload(raw: dict[str, Any], known: set[str], add: AddFinding) -> None:
    text = json.dumps(raw.get("payload") or {})
    for name in sorted(set(PLACEHOLDER.findall(text))):
        if name not in known:
            add(
                "DS-LINT-010",
                "error",
                "${" + name,
                f"payload uses '${{{name}}}' which is neither mapped nor resolved",
            )


def _check_hooks(raw: dict[str, Any], add: AddFinding) -> None:
    known = set(HOOKS.names())
    for kind, name in (raw.get("hooks") or {}).items():
        if name not in known:
            add(
                "DS-LINT-011",
                "error",
                str(name),
                f"unknown {kind} hook '{name}' (known: {', '.join(sorted(known))})",
            )


def _check_export(raw: dict[str, Any], fields: set[str], add: AddFinding) -> None:
    """DS-LINT-019: every mapped column reads back for ``export``, or is declared."""
    export = raw.get("export") or {}
    skip = set(export.get("skip") or []) if isinstance(export, dict) else set()
    for name in sorted(skip - fields):
        add("DS-LINT-019", "error", name, f"export.skip names '{name}', which is not mapped")
    if (raw.get("hooks") or {}).get("export"):
        return
    mapping = ((raw.get("xlsx") or {}).get("mapping")) or {}
    for field, spec in mapping.items():
        if field in skip or not isinstance(spec, dict):
            continue
        chains = [(field, spec)] if spec.get("col") else []
        for sub in ("zip", "object"):
            chains += [
                (f"{field}.{k}", inner)
                for k, inner in (spec.get(sub) or {}).items()
                if isinstance(inner, dict) and inner.get("col")
            ]
        for where, entry in chains:
            try:
                missing = reversible(entry.get("transform") or [])
            except ProfileError:
                continue  # an unknown transform: DS-LINT-006 says so
            if missing:
                add(
                    "DS-LINT-019",
                    "error",
                    f"{field}:",
                    f"mapping '{where}': {', '.join(missing)} cannot be read back for export; "
                    "list the field under export.skip or write the sheet with an export hook",
                )


def lint_paths(paths: list[Path] | None = None, strict: bool = False) -> list[Finding]:
    """Lint profile files (default: the built-in profiles folder)."""
    files = profile_files()
    known = set(files)
    targets: list[Path] = []
    for p in paths or [next(iter(files.values())).parent]:
        p = Path(p)
        targets += sorted(p.glob("*.yml")) if p.is_dir() else [p]
    findings: list[Finding] = []
    for path in targets:
        findings += lint_file(path, known | {path.stem}, strict)
    return findings


def codes_markdown() -> str:
    """The code table of this module's docstring (for ``docs/profiles.md``)."""
    return "\n".join(line for line in (__doc__ or "").splitlines() if line.startswith("|"))


def findings_json(findings: list[Finding]) -> str:
    """The findings as a JSON array of objects (``--format json``)."""
    return json.dumps([asdict(f) for f in findings], indent=1)

"""Profiles: declarative YAML saying how a sheet becomes Director objects.

One file per resource in ``profiles/`` (``version: 1``). ``extends`` names another profile file
(relative to the profile; a bare name such as ``"_defaults"`` may leave out ``.yml`` and may name
a built-in profile) whose content is deep-merged under this one: maps merge, lists and
scalars override; cycles are rejected. ``_defaults.yml`` is extended implicitly unless the
profile says ``extends: null``. The DSL is documented in ``docs/profiles.md``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from directorsync.errors import ProfileError
from directorsync.profile.schema import EXISTENCE_CHECKS, ProfileSpec, canonical, schema_errors

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "profiles"
DEFAULTS_FILE = "_defaults.yml"


@dataclass
class Profile:
    """A loaded, merged profile.

    Attributes:
        name: the resource name (``repos``); also the file stem.
        path: the profile file.
        raw: the merged mapping in the spec's forms (earlier forms rewritten on construction).
        spec: the same, typed (:class:`~directorsync.profile.schema.ProfileSpec`).
        notes: each earlier form that was rewritten (key path, message), for the linter.
    """

    name: str
    path: Path | None
    raw: dict[str, Any] = field(repr=False)
    spec: ProfileSpec = field(init=False, repr=False)
    notes: list[tuple[list[str], str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.raw, self.notes = canonical(self.raw)
        self.spec = validate_spec(self.raw, self.path)

    def section(self, key: str) -> dict[str, Any]:
        """A mapping section (empty when absent)."""
        value = self.raw.get(key) or {}
        return value if isinstance(value, dict) else {}

    @property
    def title(self) -> str:
        """The resource's title for people (``title``, else its name)."""
        return self.spec.title or self.name

    @property
    def depends_on(self) -> list[str]:
        """The resources this one's rows may reference."""
        return list(self.spec.depends_on)

    @property
    def endpoint(self) -> dict[str, Any]:
        """The ``endpoint`` section (list and write paths)."""
        return self.section("endpoint")

    @property
    def identity(self) -> dict[str, Any]:
        """The ``identity`` section (natural key, name and id fields)."""
        return self.section("identity")

    @property
    def natural_key(self) -> list[str]:
        """The fields that identify an object (default: its name field)."""
        key = self.spec.identity.natural_key or [self.spec.identity.name_field or "name"]
        return [key] if isinstance(key, str) else list(key)

    @property
    def name_field(self) -> str:
        """The field holding an object's name (default: the first key field)."""
        return self.spec.identity.name_field or self.natural_key[0]

    @property
    def remote_key(self) -> list[str]:
        """Key fields on the remote (inventory) side; default: the natural key."""
        key = self.spec.identity.remote_key or self.natural_key
        return [key] if isinstance(key, str) else list(key)

    @property
    def id_field(self) -> str:
        """The field holding Director's id of an object (default ``id``)."""
        return self.spec.identity.id_field or "id"

    @property
    def targets(self) -> list[str] | None:
        """The node kinds the resource is written to (None: every node)."""
        return list(self.spec.targets) if self.spec.targets else None

    @property
    def xlsx(self) -> dict[str, Any]:
        """The ``xlsx`` section (sheet, header, aliases, mapping)."""
        return self.section("xlsx")

    @property
    def sheet(self) -> str | None:
        """The main sheet (the first alternative when ``xlsx.sheet`` is a list)."""
        sheet = self.spec.xlsx.sheet
        if isinstance(sheet, list):
            return sheet[0] if sheet else None
        return sheet or None

    @property
    def sheets(self) -> list[str]:
        """Every sheet this profile reads (main sheet first)."""
        names = [self.sheet] if self.sheet else []
        names += [s for s in self.spec.xlsx.extra_sheets if s not in names]
        return names

    @cached_property
    def mapping(self) -> dict[str, Any]:
        """The ``xlsx.mapping`` of fields to workbook columns."""
        return dict(self.xlsx.get("mapping") or {})

    @property
    def prechecks(self) -> list[dict[str, Any]]:
        """The ``prechecks`` list."""
        return list(self.raw.get("prechecks") or [])

    @property
    def resolve(self) -> dict[str, Any]:
        """The ``resolve`` section (names looked up to ids)."""
        return self.section("resolve")

    @property
    def existence_checks(self) -> list[dict[str, Any]]:
        """Prechecks ``must_exist``/``must_exist_many`` (they run per node, with ``resolve``)."""
        return [c for c in self.prechecks if c.get("type") in EXISTENCE_CHECKS]

    @property
    def update_template(self) -> dict[str, Any]:
        """``payload.update``; by default ``payload.create`` plus ``id``, minus ``update_omits``."""
        payload = self.payload
        if payload.get("update"):
            return dict(payload["update"])
        omits = set(payload.get("update_omits") or [])
        body = {self.id_field: "${id}", **(payload.get("create") or {})}
        return {k: v for k, v in body.items() if k not in omits}

    @property
    def inventory(self) -> dict[str, Any]:
        """The ``inventory`` section (how Director's objects are read)."""
        return self.section("inventory")

    @property
    def diff(self) -> dict[str, Any]:
        """The ``diff`` section (compared fields and their forms)."""
        return self.section("diff")

    @property
    def payload(self) -> dict[str, Any]:
        """The ``payload`` section (create and update bodies)."""
        return self.section("payload")

    @property
    def hooks(self) -> dict[str, Any]:
        """The ``hooks`` section (registered hook names by point)."""
        return self.section("hooks")

    @property
    def actions(self) -> dict[str, Any]:
        """The ``actions`` section."""
        return self.section("actions")


def validate_spec(raw: dict[str, Any], path: Path | None) -> ProfileSpec:
    """The typed profile of a canonical mapping.

    Raises:
        ProfileError: one line naming the file, the key path and what is wrong.
    """
    errors = schema_errors(raw)
    if errors:
        keys, message, _ = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        where = ".".join(keys) or "profile"
        raise ProfileError(f"{path or 'profile'}: {where}: {message}{more}", file=str(path))
    return ProfileSpec.model_validate(raw)


def load_profile(path: str | Path) -> Profile:
    """Load one profile file, resolving ``extends``.

    Raises:
        ProfileError: unreadable YAML, a missing or cyclic ``extends``, a wrong ``version``.
    """
    path = Path(path).resolve()
    raw = merged_yaml(path)
    version = raw.get("version")
    if version != 1:
        raise ProfileError(f"{path}: 'version: 1' is required (found {version!r})", file=str(path))
    name = str(raw.get("resource") or path.stem)
    return Profile(name=name, path=path, raw=raw)


def merged_yaml(path: str | Path) -> dict[str, Any]:
    """A profile file's mapping with its ``extends`` chain merged in (not validated)."""
    return _load_merged(Path(path).resolve(), chain=())


def _load_merged(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ProfileError(f"profile 'extends' cycle: {cycle}", file=str(path))
    data = read_yaml(path)
    parent_name = data.pop("extends", _implicit_parent(path))
    if not parent_name:
        return data
    parent_path = _parent_path(path, str(parent_name))
    if not parent_path.is_file():
        raise ProfileError(
            f"{path}: extends '{parent_name}' but {parent_path} does not exist", file=str(path)
        )
    return deep_merge(_load_merged(parent_path, (*chain, path)), data)


def _parent_path(path: Path, name: str) -> Path:
    """The file an ``extends`` names: beside the profile, or a built-in profile.

    A bare name (the spec's ``"_defaults"``) may leave out ``.yml``.
    """
    candidates = [path.parent / name]
    if not name.endswith((".yml", ".yaml")):
        candidates += [path.parent / f"{name}.yml", BUILTIN_DIR / f"{name}.yml"]
    for candidate in candidates:
        if candidate.resolve().is_file():
            return candidate.resolve()
    return candidates[0].resolve()


def _implicit_parent(path: Path) -> str | None:
    defaults = path.parent / DEFAULTS_FILE
    if path.name == DEFAULTS_FILE or not defaults.is_file():
        return None
    return DEFAULTS_FILE


#: Parsed profile files by (path, size, modification time): a plan reads every profile of its
#: folder again (for the columns no profile reads), and parsing YAML costs ~10 ms a file.
_PARSED: dict[tuple[Path, int, int], Any] = {}


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with a ProfileError naming the file on failure.

    The mapping is the caller's own (a copy of the parse, which is kept while the file is
    unchanged).
    """
    try:
        stat = path.stat()
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key not in _PARSED:
            for old in [k for k in _PARSED if k[0] == path]:  # the file changed
                del _PARSED[old]
            _PARSED[key] = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = copy.deepcopy(_PARSED[key])
    except FileNotFoundError as exc:
        raise ProfileError(f"profile {path} does not exist", file=str(path)) from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"cannot read profile {path}: {exc}", file=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProfileError(f"profile {path} must hold a mapping", file=str(path))
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Maps merge recursively; lists and scalars in ``override`` replace ``base``'s."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def profile_files(search_paths: list[Path] | None = None) -> dict[str, Path]:
    """Profile files by resource name; earlier search paths win, built-ins come last."""
    found: dict[str, Path] = {}
    for folder in [*(search_paths or []), BUILTIN_DIR]:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yml")):
            if path.name.startswith("_"):
                continue
            found.setdefault(path.stem, path)
    return found


def load_profiles(
    names: list[str] | None = None, search_paths: list[Path] | None = None
) -> dict[str, Profile]:
    """Load profiles by resource name (all when ``names`` is None).

    Raises:
        ProfileError: an unknown resource name (the message lists the known ones).
    """
    files = profile_files(search_paths)
    names = list(files) if names is None else names
    unknown = [n for n in names if n not in files]
    if unknown:
        raise ProfileError(
            f"unknown resource(s): {', '.join(unknown)} (known: {', '.join(sorted(files))})"
        )
    return {n: load_profile(files[n]) for n in names}


#: The migration plan's order; the topological sort keeps it where dependencies allow.
RESOURCE_ORDER = [
    "repos",
    "normalization_policies",
    "enrichment_policies",
    "routing_policies",
    "processing_policies",
    "device_groups",
    "devices",
    "syslog_collectors",
    "alert_rules",
    "user_defined_lists",
]


def dependency_order(profiles: dict[str, Profile]) -> list[str]:
    """Resource names so that every profile comes after what it depends on.

    Dependencies outside ``profiles`` are ignored (their objects are looked up remotely).
    Ties follow :data:`RESOURCE_ORDER`, then the name.
    """
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ProfileError(f"dependency cycle: {' -> '.join((*trail, name))}")
        state[name] = "visiting"
        for dep in profiles[name].depends_on:
            if dep in profiles:
                visit(dep, (*trail, name))
        state[name] = "done"
        order.append(name)

    rank = {n: i for i, n in enumerate(RESOURCE_ORDER)}
    for name in sorted(profiles, key=lambda n: (rank.get(n, len(rank)), n)):
        visit(name, ())
    return order

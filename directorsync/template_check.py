"""Template drift: sheet names and columns of a workbook that the profiles do not expect.

Pure functions over sheet names, sheet headers and profiles; the planner turns them into notes:

- a sheet whose name differs from a profile's only by case or surrounding spaces (``Repo `` or
  ``REPO`` for ``Repo``) is read under the profile's name, with a warning;
- two sheets that differ only so (``Repo`` and ``REPO``) are an error naming both: the resources
  reading that sheet are not planned;
- the columns of a sheet a planned profile reads that no profile reads are listed once per sheet
  (info), each with a "did you mean" against the columns the profiles name when one is close.

What a profile reads: its mapping's ``col`` (nested ``zip``/``object`` included), its
``required_columns`` and ``aliases`` (and every other text of its ``xlsx`` section and prechecks —
``expr``/``filter`` strings are split into identifiers — so that a column a profile may read is
never called unread), the ``from``/``to`` columns of ``sheet_map`` transforms on the sheet they
name, and, for a ``build`` hook, the ``COLUMNS_READ`` constant of the hook's module (the columns it
reads besides the profile's mapping, by sheet). A build hook whose module has no such constant
makes the profile's own sheets unchecked.
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from directorsync.errors import ProfileError
from directorsync.hooks.registry import HOOKS
from directorsync.profile.model import Profile, load_profiles
from directorsync.vocabulary import ROW

#: Keys of a profile whose text values are column names (suggestions are taken from them).
_COLUMN_KEYS = ("col", "required_columns", "aliases")
_IDENTIFIER = re.compile(r"`([^`]+)`|([A-Za-z_][A-Za-z0-9_.]*)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
#: How close an unread column must be to a profile's column for a "did you mean".
SUGGEST_CUTOFF = 0.85


def fold(name: str) -> str:
    """A sheet or column name compared without case and surrounding spaces."""
    return str(name).strip().casefold()


@dataclass
class SheetReads:
    """The columns profiles read, by folded sheet name.

    Attributes:
        named: columns named as such (``col``, ``required_columns``, aliases, ``sheet_map``,
            hook constants), as written — the "did you mean" candidates.
        mentioned: folded names of every column a profile may read (``named`` included).
        opaque: folded names of sheets read by a build hook that says nothing of its columns.
        sheets: folded sheet name → the name as the profiles write it.
    """

    named: dict[str, list[str]] = field(default_factory=dict)
    mentioned: dict[str, set[str]] = field(default_factory=dict)
    opaque: set[str] = field(default_factory=set)
    sheets: dict[str, str] = field(default_factory=dict)

    def add(self, sheet: str, names: Iterable[str], *, named: bool) -> None:
        """Record columns read from ``sheet``."""
        key = fold(sheet)
        self.sheets.setdefault(key, sheet)
        for name in names:
            self.mentioned.setdefault(key, set()).add(fold(name))
            if named and name not in self.named.setdefault(key, []):
                self.named[key].append(name)


@dataclass
class SheetNames:
    """How the profiles' sheet names map onto the workbook's.

    Attributes:
        aliases: profile sheet name → the workbook's sheet read for it.
        conflicts: profile sheet name → the workbook's sheets that all match it.
        notes: the warnings (renamed sheets) and errors (conflicts, one per resource).
        blocked: resources not planned because a sheet they read is ambiguous.
    """

    aliases: dict[str, str] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    notes: list[dict[str, str]] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)


def raw_profile(profile: Profile) -> dict[str, Any]:
    """The profile as the YAML says it (``raw``; a typed profile's dump by alias otherwise)."""
    raw = getattr(profile, "raw", None)
    if isinstance(raw, dict):
        return raw
    dump = getattr(profile, "model_dump", None)
    return dump(by_alias=True) if callable(dump) else {}


def main_sheets(profile: Profile) -> list[str]:
    """Every alternative of a profile's ``xlsx.sheet`` (the first the workbook has is mapped)."""
    main = (raw_profile(profile).get("xlsx") or {}).get("sheet")
    return [str(s) for s in main] if isinstance(main, list) else [str(main)] if main else []


def own_sheets(profile: Profile) -> list[str]:
    """The sheets a profile maps: every ``xlsx.sheet`` alternative, then ``extra_sheets``."""
    extra = (raw_profile(profile).get("xlsx") or {}).get("extra_sheets") or []
    return list(dict.fromkeys([*main_sheets(profile), *map(str, extra)]))


def sheets_read(profile: Profile) -> list[str]:
    """Every sheet a profile reads: its own, those of ``sheet_map`` transforms and of its hook."""
    reads = columns_read([profile])
    own = own_sheets(profile)
    extra = [s for k, s in reads.sheets.items() if k not in {fold(n) for n in own}]
    return [*own, *extra]


def columns_read(profiles: Iterable[Profile]) -> SheetReads:
    """What the profiles read, per sheet (see the module's docstring)."""
    reads = SheetReads()
    for profile in profiles:
        raw = raw_profile(profile)
        xlsx = raw.get("xlsx") or {}
        for sheet in main_sheets(profile):  # the mapping reads the main sheet
            _walk(xlsx, sheet, reads, named=False)
            _walk(raw.get("prechecks") or [], sheet, reads, named=False)
        build = (raw.get("hooks") or {}).get("build")
        hook_reads = hook_columns(str(build)) if build else {}
        if hook_reads is None:
            reads.opaque.update(fold(s) for s in own_sheets(profile))
        for sheet, names in (hook_reads or {}).items():
            reads.add(sheet, names, named=True)
    return reads


def hook_columns(name: str) -> Mapping[str, Iterable[str]] | None:
    """The ``COLUMNS_READ`` constant of a build hook's module (None: unknown or not declared)."""
    try:
        fn = HOOKS.get(name, "build")
    except ProfileError:
        return None
    return getattr(importlib.import_module(fn.__module__), "COLUMNS_READ", None)


def _walk(node: Any, sheet: str, reads: SheetReads, *, named: bool, key: str = "") -> None:
    """Record the text values of a profile section as columns of ``sheet``."""
    if isinstance(node, dict):
        other = node.get("sheet")
        if isinstance(other, str) and key != "" and ("from" in node or "to" in node):
            # a sheet_map: its columns belong to the sheet it names
            names = [node[k] for k in ("from", "to") if isinstance(node.get(k), str)]
            reads.add(other, names, named=True)
            return
        for k, value in node.items():
            is_column = named or k in _COLUMN_KEYS
            if k == "aliases" and isinstance(value, dict):
                reads.add(sheet, [str(a) for a in value], named=True)
            _walk(value, sheet, reads, named=is_column, key=str(k))
    elif isinstance(node, list):
        for item in node:
            _walk(item, sheet, reads, named=named, key=key or "[]")
    elif isinstance(node, str):
        reads.add(sheet, [node], named=named)
        if not named:
            tokens = _IDENTIFIER.findall(_QUOTED.sub(" ", node))
            reads.add(sheet, [a or b for a, b in tokens], named=False)


def resolve_sheet_names(
    workbook: str, sheet_names: list[str], profiles: Mapping[str, Profile]
) -> SheetNames:
    """Match the sheets the profiles read with the workbook's, ignoring case and spaces.

    Args:
        workbook: the workbook's name (for messages).
        sheet_names: the workbook's sheets, in order.
        profiles: the planned profiles, by resource name.
    """
    out = SheetNames()
    readers: dict[str, list[str]] = {}  # sheet → resources reading it, those mapping it first
    for own in (True, False):
        for name, profile in profiles.items():
            for sheet in own_sheets(profile) if own else sheets_read(profile):
                if name not in readers.setdefault(sheet, []):
                    readers[sheet].append(name)
    for wanted, names in readers.items():
        matches = [s for s in sheet_names if fold(s) == fold(wanted)]
        if len(matches) > 1:
            out.conflicts[wanted] = matches
            shown = " and ".join(f"'{m}'" for m in matches)
            for resource in names:
                out.blocked.add(resource)
                out.notes.append(
                    {
                        "resource": resource,
                        "level": "error",
                        "message": (
                            f"{workbook}: sheets {shown} differ only by case or spaces, so "
                            f"which one is '{wanted}' is unclear: rename or delete one; "
                            f"{resource} not planned"
                        ),
                    }
                )
        elif matches and matches[0] != wanted:
            out.aliases[wanted] = matches[0]
            out.notes.append(
                {
                    "resource": names[0],
                    "level": "warning",
                    "message": (
                        f"{workbook}: sheet '{matches[0]}' is read as '{wanted}' (the names "
                        f"differ only by case or spaces); rename it '{wanted}'"
                    ),
                }
            )
    return out


def known_profiles(profiles: Mapping[str, Profile]) -> list[Profile]:
    """The planned profiles and the others found next to them (what any profile may read)."""
    folders = list(dict.fromkeys(Path(p.path).parent for p in profiles.values() if p.path))
    try:
        others = load_profiles(None, folders)
    except ProfileError:  # a broken profile elsewhere: the planned ones are enough
        others = {}
    return [*profiles.values(), *(p for n, p in others.items() if n not in profiles)]


def unread_column_notes(
    workbook: str,
    headers: Mapping[str, tuple[str, list[str]]],
    profiles: Iterable[Profile],
) -> list[dict[str, str]]:
    """One info note per sheet listing the columns no profile reads.

    Args:
        workbook: the workbook's name (for messages).
        headers: sheet name → (the resource mapping it, the sheet's columns).
        profiles: every profile whose reads count (see :func:`known_profiles`).
    """
    reads = columns_read(profiles)
    notes = []
    for sheet, (resource, columns) in headers.items():
        key = fold(sheet)
        if key in reads.opaque:
            continue
        mentioned = reads.mentioned.get(key, set())
        unread = [c for c in columns if c != ROW and fold(c) not in mentioned]
        if not unread:
            continue
        candidates = reads.named.get(key, [])
        shown = ", ".join(_with_suggestion(c, candidates) for c in unread)
        what = "column no profile reads" if len(unread) == 1 else "columns no profile reads"
        notes.append(
            {
                "resource": resource,
                "level": "info",
                "message": f"{workbook} › {sheet}: {len(unread)} {what} (ignored): {shown}",
            }
        )
    return notes


def _with_suggestion(column: str, candidates: list[str]) -> str:
    scored = [(similarity(column, c), c) for c in candidates if fold(c) != fold(column)]
    best = max(scored, default=(0.0, ""), key=lambda pair: pair[0])
    return f"{column} (did you mean '{best[1]}'?)" if best[0] >= SUGGEST_CUTOFF else column


def similarity(a: str, b: str) -> float:
    """The difflib ratio of two column names, without the dotted segments they start with alike.

    ``settings.vid`` and ``settings.risk`` compare as ``vid`` and ``risk`` (not similar), so a
    long shared prefix does not make every pair of dotted columns look alike.
    """
    left, right = fold(a).split("."), fold(b).split(".")
    while len(left) > 1 and len(right) > 1 and left[0] == right[0]:
        left, right = left[1:], right[1:]
    return difflib.SequenceMatcher(None, ".".join(left), ".".join(right)).ratio()

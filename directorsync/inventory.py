"""Inventories: what Director holds, listed once per (source, node) and kept for the run.

Two kinds of sources:

- a **resource** (a profile): listed from its ``inventory.path`` (default ``endpoint.list``), or
  fetched through an async order when ``inventory.fetch`` is set; the read shape is normalised to
  the write shape as the profile declares (``rename``, ``unnest`` dicts into columns, ``hook``);
- a **catalog** (vendor data used for name → id resolution): registered in :data:`CATALOGS`
  (normalization packages, compiled normalizers, enrichment sources, repo paths, users, …).

Objects the same plan will create are added with :meth:`Inventory.add_planned`, so that a later
resource resolves them (with a ``$ref:`` placeholder id and a dependency).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

from directorsync.director.listing import Unnested
from directorsync.errors import DirectorError, ProfileError
from directorsync.hooks.registry import HOOKS
from directorsync.profile.model import Profile
from directorsync.tenants import Node, Tenant
from directorsync.transforms import Context, apply_transforms
from directorsync.vocabulary import NODE, PLANNED, REF_PREFIX


class Lister(Protocol):
    """What inventories need from the Director client."""

    def list_objects(self, pool: str, node: str, path: str) -> list[dict[str, Any]]:
        """Every object of a listing ``path`` on one node."""
        ...

    def fetch(
        self, pool: str, node: str, path: str, data: dict | None = None
    ) -> list[dict[str, Any]]:
        """The rows of a fetch order (``path`` answered through an order) on one node."""
        ...


@dataclass(frozen=True)
class Catalog:
    """A vendor/catalog listing used for lookups.

    Attributes:
        name: registry name used in profiles (``from: repo_paths``).
        path: configapi path (``Repos/RepoPaths``).
        fetch: list through an async fetch order instead of a GET.
        explode: ``(list_key, column)``: the listing is ``[{list_key: [...]}]``; one row per item.
    """

    name: str
    path: str
    fetch: bool = False
    explode: tuple[str, str] | None = None
    doc: str = ""


class CatalogRegistry:
    """Catalog sources by name."""

    def __init__(self) -> None:
        self._items: dict[str, Catalog] = {}

    def register(self, catalog: Catalog) -> Catalog:
        """Add (or replace) a catalog under its name; returns it."""
        self._items[catalog.name] = catalog
        return catalog

    def get(self, name: str) -> Catalog:
        """The catalog of this name; a ProfileError listing the known ones otherwise."""
        try:
            return self._items[name]
        except KeyError:
            raise ProfileError(
                f"unknown inventory '{name}' (catalogs: {', '.join(sorted(self._items))}; "
                "or the name of a resource profile)"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        """The catalog names, sorted."""
        return sorted(self._items)


CATALOGS = CatalogRegistry()
for _c in (
    Catalog(
        "repo_paths", "Repos/RepoPaths", explode=("paths", "path"), doc="allowed repo storage paths"
    ),
    Catalog(
        "remote_repos", "Repos/RemoteRepos/fetch", fetch=True, doc="repo strings for alert rules"
    ),
    Catalog(
        "normalization_packages", "NormalizationPackage", doc="normalization packages (id, name)"
    ),
    Catalog(
        "compiled_normalizers",
        "NormalizationPackage/CompiledNormalizers",
        doc="compiled normalizers (name)",
    ),
    Catalog("enrichment_sources", "EnrichmentSource", doc="enrichment sources (source_name)"),
    Catalog("charsets", "Charsets", explode=("charsets", "charset"), doc="syslog charsets"),
    Catalog("timezones", "Timezone", doc="time zones (name)"),
    Catalog("users", "Users", doc="users (id, username)"),
    Catalog("incident_user_groups", "IncidentUserGroups", doc="incident user groups (id, name)"),
    Catalog(
        "mitre_attacks", "MitreAttacks/fetch", fetch=True, doc="MITRE attacks (id, hash, attack_id)"
    ),
    Catalog("devices_raw", "Devices", doc="devices as listed (with col_apps)"),
):
    CATALOGS.register(_c)


#: Builds a received listing's frame from some fields (or all: None); returns the frame and the
#: fields it was built from (None when whole).
Builder = Callable[[frozenset[str] | None], tuple[pd.DataFrame, frozenset[str] | None]]


@dataclass
class Inventory:
    """Listings for one tenant, cached per (source, node) for the run.

    A listing is received once per (source, node). Its frame is built on demand: whole, or —
    when the caller names the ``columns`` it reads (the diff, the lookups) — from those fields
    alone (:meth:`ReceivedListing.columns`), which halves the cost of a large listing. A later
    request for more columns, or for the whole frame, decodes the same received body again:
    nothing is listed twice.

    Args:
        client: anything with ``list``/``fetch`` (the :class:`~directorsync.director.client.DirectorClient`).
        tenant: the tenant (pool and nodes).
        profiles: resource profiles by name (for resource sources).
    """

    client: Lister
    tenant: Tenant
    profiles: dict[str, Profile]
    max_workers: int = 8
    _listed: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)
    _fields: dict[tuple[str, str], frozenset[str] | None] = field(default_factory=dict, repr=False)
    _builders: dict[tuple[str, str], Builder] = field(default_factory=dict, repr=False)
    _joined: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _refresh_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, repr=False)
    _pending: dict[tuple[str, str], Future] = field(default_factory=dict, repr=False)
    _planned: dict[tuple[str, str], list[pd.DataFrame]] = field(default_factory=dict, repr=False)
    calls: int = 0

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(max(1, self.max_workers))

    def frame(self, source: str, node: Node, columns: list[str] | None = None) -> pd.DataFrame:
        """One source's objects on one node (listed on first use, or by a pending prefetch).

        Args:
            source: the resource listed (a profile name).
            node: the node whose objects are listed.
            columns: the columns the caller reads (None: all). The frame may hold more.
        """
        key = (source, node.id)
        with self._lock:
            if self._covers(key, columns):
                return self._with_planned(key)
            pending = self._pending.get(key)
            builder = self._builders.get(key)
        if builder is None:
            if pending is None:
                builder = self._receive(source, node)
            else:
                try:
                    builder = pending.result()
                finally:
                    with self._lock:
                        if self._pending.get(key) is pending:
                            del self._pending[key]
        with self._lock:
            wanted = self._wanted(key, columns)
        try:
            frame, wanted = builder(wanted)
        except BaseException:
            with self._lock:
                self._builders.pop(key, None)  # the next read lists again
            raise
        with self._lock:
            if not self._covers(key, columns):
                self._listed[key], self._fields[key] = frame, wanted
                self._joined.pop(key, None)
            if wanted is None:
                self._builders.pop(key, None)  # whole: the received body is no longer needed
            elif self._fields.get(key) is not None:
                self._builders[key] = builder
            return self._with_planned(key)

    def _covers(self, key: tuple[str, str], columns: list[str] | None) -> bool:
        """A frame of ``key`` with ``columns`` (all when None) is built (caller holds the lock)."""
        if key not in self._listed:
            return False
        have = self._fields[key]
        return have is None or (columns is not None and set(columns) <= have)

    def _wanted(self, key: tuple[str, str], columns: list[str] | None) -> frozenset[str] | None:
        """The fields to build: those asked now and before (never fewer than the cached frame)."""
        if columns is None:
            return None
        return frozenset(columns) | (self._fields.get(key) or frozenset())

    def _with_planned(self, key: tuple[str, str]) -> pd.DataFrame:
        """The listing with the planned objects added (caller holds the lock)."""
        if key not in self._joined:
            extra = self._planned.get(key)
            listed = self._listed[key]
            self._joined[key] = pd.concat([listed, *extra], ignore_index=True) if extra else listed
        return self._joined[key]

    def prefetch(self, source: str, nodes: list[Node], columns: list[str] | None = None) -> None:
        """Start listing ``source`` on ``nodes`` in the background; returns at once.

        :meth:`frame` then waits for the listing instead of starting another (and raises its
        error, if any). At most ``max_workers`` listings run at a time. With ``columns`` (those
        the caller will read), the prefetch thread also decodes those columns as soon as the
        listing is received (:func:`directorsync.director.listing.decode_columns`: a large
        listing is parsed without the interpreter lock, beside the planning thread).
        """
        for node in nodes:
            key = (source, node.id)
            with self._lock:
                if key in self._listed or key in self._pending or key in self._builders:
                    continue
                future: Future[Builder] = Future()
                self._pending[key] = future
            threading.Thread(
                target=self._fill,
                args=(source, node, future, columns),
                name=f"list {source}",
                daemon=True,
            ).start()

    def _fill(
        self, source: str, node: Node, future: Future, columns: list[str] | None = None
    ) -> None:
        with self._slots:
            try:
                future.set_result(self._receive(source, node, columns))
            except BaseException as exc:  # handed to whoever waits in frame()
                future.set_exception(exc)

    def frames(
        self, source: str, nodes: list[Node], columns: list[str] | None = None
    ) -> pd.DataFrame:
        """One source across nodes, listed concurrently, concatenated (``_node_id`` column)."""
        with self._lock:
            missing = sum(not self._covers((source, n.id), columns) for n in nodes)
        if missing > 1:
            self.prefetch(source, nodes)
        parts = [self.frame(source, n, columns) for n in nodes]
        parts = [p for p in parts if len(p.columns)]
        if not parts:
            return pd.DataFrame({NODE: pd.Series(dtype=object)})
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def refresh(self, source: str, node: Node) -> pd.DataFrame:
        """List again now and replace the cached listing (never an older, slower listing)."""
        key = (source, node.id)
        with self._refresh_lock(source, node):
            frame = self._list(source, node)
            with self._lock:
                self._pending.pop(key, None)
                self._builders.pop(key, None)
                self._listed[key], self._fields[key] = frame, None
                self._joined.pop(key, None)
                return self._with_planned(key)

    def _refresh_lock(self, source: str, node: Node) -> threading.Lock:
        with self._lock:
            return self._refresh_locks.setdefault((source, node.id), threading.Lock())

    def invalidate(self, source: str, node: Node | None = None) -> None:
        """Forget a listing and the objects planned on it (after writes, before re-reading)."""
        with self._lock:
            stores = (
                self._listed,
                self._fields,
                self._builders,
                self._joined,
                self._pending,
                self._planned,
            )
            for store in stores:
                for key in list(store):
                    if key[0] == source and (node is None or key[1] == node.id):
                        del store[key]

    def release_received(self) -> None:
        """Let go of received listings kept for a later decode (and of unread prefetches).

        Their bodies — tens of megabytes each for large listings — are freed; frames already
        built stay. A later request for more of such a listing lists it again.
        """
        with self._lock:
            self._builders.clear()
            self._pending.clear()

    def add_planned(self, source: str, node: Node, rows: pd.DataFrame) -> None:
        """Add objects the plan will create (their id is a ``$ref:`` placeholder).

        They join the listing the next time it is read (most listings never are again).
        """
        if rows.empty:
            return
        columns: dict[str, str | bool] = {NODE: node.id, PLANNED: True}
        rows = rows.assign(**columns)
        with self._lock:
            self._planned.setdefault((source, node.id), []).append(rows)
            self._joined.pop((source, node.id), None)

    def _list(self, source: str, node: Node) -> pd.DataFrame:
        return self._receive(source, node)(None)[0]

    def _receive(self, source: str, node: Node, columns: list[str] | None = None) -> Builder:
        """Do the listing's I/O now; return what builds its frame (decoding included).

        Prefetch threads receive, and decode the ``columns`` to read when they are known (the
        columnar decoder works without the interpreter lock); normalising holds the lock for
        long stretches, so it runs on the thread that needs the frame.
        """
        with self._lock:
            self.calls += 1
        if source in self.profiles:
            profile = self.profiles[source]
            spec = profile.inventory
            path = spec.get("path") or profile.endpoint.get("list")
            if not path:
                raise ProfileError(f"{profile.path}: endpoint.list (or inventory.path) is required")
            listing = self._read(path, bool(spec.get("fetch")), node)
            if columns is not None and listing.start is not None and projectable(profile):
                wanted = frozenset(columns)
                listing.start(read_fields(profile, wanted), unnest_keys(profile, wanted))

            def build(fields: frozenset[str] | None) -> tuple[pd.DataFrame, frozenset | None]:
                if fields is not None and listing.columns is not None and projectable(profile):
                    read = read_fields(profile, fields)
                    columns = listing.columns(read, unnest_keys(profile, fields))
                    return normalise_columns(columns, profile, node, fields), fields
                return normalise_listing(listing.items(), profile, node, self), None

            return build
        catalog = CATALOGS.get(source)
        listing = self._read(catalog.path, catalog.fetch, node)
        return lambda fields: (self._catalog_frame(catalog, listing.items(), node), None)

    @staticmethod
    def _catalog_frame(catalog: Catalog, items: list[dict[str, Any]], node: Node) -> pd.DataFrame:
        if catalog.explode:
            list_key, column = catalog.explode
            values = [v for item in items for v in (item.get(list_key) or [])]
            frame = pd.DataFrame({column: values})
        else:
            frame = pd.DataFrame(items)
        frame[NODE] = node.id
        return frame

    def _read(self, path: str, fetch: bool, node: Node) -> _Listing:
        """Receive a listing; it decodes later (both steps may raise DirectorError)."""
        pool = self.tenant.pool_uuid

        def failed(exc: DirectorError) -> DirectorError:
            return DirectorError(
                f"cannot list {path} on node {node.name}: {exc}", node=node.name, path=path
            )

        def checked(decode: Callable[..., Any]) -> Callable[..., Any]:
            def run(*args: Any) -> Any:
                try:
                    return decode(*args)
                except DirectorError as exc:
                    raise failed(exc) from exc

            return run

        try:
            if fetch:
                items = self.client.fetch(pool, node.id, path, {})
                return _Listing(lambda: items)
            receive = getattr(self.client, "receive_listing", None)
            if receive is not None:
                received = receive(pool, node.id, path)
                return _Listing(
                    checked(received.items), checked(received.columns), received.start_columns
                )
            receive = getattr(self.client, "receive_list", None)
            if receive is None:
                items = self.client.list_objects(pool, node.id, path)
                return _Listing(lambda: items)
            return _Listing(checked(receive(pool, node.id, path)))
        except DirectorError as exc:
            raise failed(exc) from exc


@dataclass(frozen=True)
class _Listing:
    """A received listing: ``items()`` decodes it whole.

    ``columns(fields, unnest)``, when the client can, decodes only the named fields
    (``{field: values}``), which ``start(fields, unnest)`` decodes ahead (on a prefetch thread).
    """

    items: Callable[[], list[dict[str, Any]]]
    columns: Callable[[list[str], dict[str, list[str]]], dict[str, list[Any]]] | None = None
    start: Callable[[list[str], dict[str, list[str]]], None] | None = None


def projectable(profile: Profile) -> bool:
    """A listing whose frame may be built from some fields only (no hook reads it whole)."""
    return not (profile.hooks or {}).get("inventory")


def read_fields(profile: Profile, columns: frozenset[str]) -> list[str]:
    """The listing's fields that make the write-shape ``columns`` (``rename``, ``unnest``)."""
    spec = profile.inventory
    unnest = list(spec.get("unnest") or [])
    renamed = {new: old for old, new in (spec.get("rename") or {}).items()}
    fields = set(columns) | set(unnest) | {profile.id_field, *profile.remote_key}
    fields |= {renamed[c] for c in columns if c in renamed}
    fields |= {c[: -len(u) - 1] for c in columns for u in unnest if c.endswith(f"_{u}")}
    return sorted(fields - {NODE, PLANNED})


def unnest_keys(profile: Profile, columns: frozenset[str]) -> dict[str, list[str]]:
    """``{unnest field: [keys]}``: the keys of its objects that may make the ``columns``."""
    spec = profile.inventory
    rename = spec.get("rename") or {}
    return {u: sorted(_inner_keys(u, columns, rename)) for u in spec.get("unnest") or []}


def normalise_columns(
    columns: dict[str, list[Any]], profile: Profile, node: Node, wanted: frozenset[str]
) -> pd.DataFrame:
    """Some fields of a listing (``{field: values}``) → a frame in the write shape.

    The same frame as :func:`normalise_listing` gives, restricted to the ``wanted`` columns
    (and the id and key), for profiles without an inventory hook.
    """
    spec = profile.inventory
    rename = spec.get("rename") or {}
    rows = getattr(columns, "rows", None)  # objects listed (when no column tells)
    columns = dict(columns)
    for col in spec.get("unnest") or []:
        if col not in columns:
            continue
        cells = columns.pop(col)
        if isinstance(cells, Unnested):  # already one column per key
            keyed = {key: cells[key] for key in cells.keys() & _inner_keys(col, wanted, rename)}
        else:
            present = set().union(*(c for c in cells if type(c) is dict))
            keyed = {
                key: [c.get(key) if type(c) is dict else None for c in cells]
                for key in present & _inner_keys(col, wanted, rename)
            }
        for inner in sorted(keyed):
            name = inner if inner not in columns or inner == col else f"{inner}_{col}"
            columns[name] = keyed[inner]
    count = len(next(iter(columns.values()))) if columns else (rows or 0)
    frame = pd.DataFrame(
        {rename.get(k, k): pd.Series(v, dtype=object) for k, v in columns.items()},
        index=pd.RangeIndex(count),
        copy=False,
    )
    for col, specs in (spec.get("transform") or {}).items():
        if col in frame:
            frame[col] = apply_transforms(frame[col].astype(object), specs, Context(sheets={}))
    for col in {profile.id_field, *profile.remote_key}:
        if col not in frame:
            frame[col] = pd.Series(None, index=frame.index, dtype=object)
    frame[NODE] = node.id
    return frame


def _inner_keys(col: str, wanted: frozenset[str], rename: dict[str, str] | None = None) -> set[str]:
    """Keys of an ``unnest`` column's objects that may become wanted columns.

    Renamed or not: ``rename`` applies after ``unnest``.
    """
    names = set(wanted) | {old for old, new in (rename or {}).items() if new in wanted}
    suffix = f"_{col}"
    return names | {w[: -len(suffix)] for w in names if w.endswith(suffix)}


def normalise_listing(
    items: list[dict[str, Any]], profile: Profile, node: Node, inventory: Inventory | None = None
) -> pd.DataFrame:
    """A listing → a frame in the write shape (``rename``, ``unnest``, ``hook``).

    Cells stay the values Director sent (object columns: an integer column with a gap does not
    turn into floats), as in :func:`normalise_columns`, so both give the same comparisons and
    hashes.
    """
    spec = profile.inventory
    frame = pd.DataFrame(items, dtype=object)
    for col in spec.get("unnest") or []:
        if col in frame:
            inner = pd.DataFrame(
                frame[col].map(lambda v: v if isinstance(v, dict) else {}).tolist(),
                index=frame.index,
                dtype=object,
            )
            inner.columns = [
                c if c not in frame or c == col else f"{c}_{col}" for c in inner.columns
            ]
            frame = pd.concat([frame.drop(columns=[col]), inner], axis=1)
    rename = spec.get("rename") or {}
    frame = frame.rename(columns={k: v for k, v in rename.items() if k in frame})
    for col, specs in (spec.get("transform") or {}).items():
        if col in frame:
            frame[col] = apply_transforms(frame[col].astype(object), specs, Context(sheets={}))
    hook = (profile.hooks or {}).get("inventory")
    if hook:
        fn: Callable[..., pd.DataFrame] = HOOKS.get(hook, "inventory")
        frame = fn(frame, profile, {"node": node, "inventory": inventory})
    for col in {profile.id_field, *profile.remote_key}:
        if col not in frame:
            frame[col] = pd.Series(dtype=object)
    frame[NODE] = node.id
    return frame


def ref(resource: str, key: str) -> str:
    """The placeholder id of an object the plan creates."""
    return f"{REF_PREFIX}{resource}:{key}"


def is_ref(value: Any) -> bool:
    """Whether a cell is the placeholder id of an object the plan creates."""
    return isinstance(value, str) and value.startswith(REF_PREFIX)


SKIP_PREFIX = "$skip:"


def skipped_marker(reason: str) -> str:
    """The placeholder id of an object whose own row the plan skips (with the reason)."""
    return f"{SKIP_PREFIX}{reason}"


def is_skipped(value: Any) -> bool:
    """Whether a cell marks an object the plan skips (see :func:`skipped_marker`)."""
    return isinstance(value, str) and value.startswith(SKIP_PREFIX)


def skip_reason(value: Any) -> str | None:
    """Why a skipped object is skipped; None for any other cell."""
    return value[len(SKIP_PREFIX) :] if is_skipped(value) else None

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

from directorsync.errors import DirectorError, ProfileError
from directorsync.hooks import HOOKS
from directorsync.profile import Profile
from directorsync.topology import Node, Tenant
from directorsync.transforms import Context, apply_transforms

NODE = "_node_id"
PLANNED = "_planned"
REF_PREFIX = "$ref:"


class Lister(Protocol):
    """What inventories need from the Director client."""

    def list(self, pool: str, node: str, path: str) -> list[dict[str, Any]]: ...

    def fetch(
        self, pool: str, node: str, path: str, data: dict | None = None
    ) -> list[dict[str, Any]]: ...


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
        self._items[catalog.name] = catalog
        return catalog

    def get(self, name: str) -> Catalog:
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


@dataclass
class Inventory:
    """Listings for one tenant, cached per (source, node) for the run.

    Args:
        client: anything with ``list``/``fetch`` (the :class:`~directorsync.client.DirectorClient`).
        tenant: the tenant (pool and nodes).
        profiles: resource profiles by name (for resource sources).
    """

    client: Lister
    tenant: Tenant
    profiles: dict[str, Profile]
    max_workers: int = 8
    _cache: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _refresh_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, repr=False)
    _pending: dict[tuple[str, str], Future] = field(default_factory=dict, repr=False)
    _planned: dict[tuple[str, str], list[pd.DataFrame]] = field(default_factory=dict, repr=False)
    calls: int = 0

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(max(1, self.max_workers))

    def frame(self, source: str, node: Node) -> pd.DataFrame:
        """One source's objects on one node (listed on first use, or by a pending prefetch)."""
        key = (source, node.id)
        with self._lock:
            if key in self._cache:
                return self._with_planned(key)
            pending = self._pending.get(key)
        if pending is None:
            frame = self._list(source, node)
        else:
            try:
                frame = pending.result()()
            finally:
                with self._lock:
                    if self._pending.get(key) is pending:
                        del self._pending[key]
        with self._lock:
            self._cache.setdefault(key, frame)
            return self._with_planned(key)

    def _with_planned(self, key: tuple[str, str]) -> pd.DataFrame:
        """The cached listing with the planned objects added since (caller holds the lock)."""
        extra = self._planned.pop(key, None)
        if extra:
            self._cache[key] = pd.concat([self._cache[key], *extra], ignore_index=True)
        return self._cache[key]

    def prefetch(self, source: str, nodes: list[Node]) -> None:
        """Start listing ``source`` on ``nodes`` in the background; returns at once.

        :meth:`frame` then waits for the listing instead of starting another (and raises its
        error, if any). At most ``max_workers`` listings run at a time.
        """
        for node in nodes:
            key = (source, node.id)
            with self._lock:
                if key in self._cache or key in self._pending:
                    continue
                future: Future[pd.DataFrame] = Future()
                self._pending[key] = future
            threading.Thread(
                target=self._fill, args=(source, node, future), name=f"list {source}", daemon=True
            ).start()

    def _fill(self, source: str, node: Node, future: Future) -> None:
        with self._slots:
            try:
                future.set_result(self._receive(source, node))
            except BaseException as exc:  # handed to whoever waits in frame()
                future.set_exception(exc)

    def frames(self, source: str, nodes: list[Node]) -> pd.DataFrame:
        """One source across nodes, listed concurrently, concatenated (``_node_id`` column)."""
        if sum((source, n.id) not in self._cache for n in nodes) > 1:
            self.prefetch(source, nodes)
        parts = [self.frame(source, n) for n in nodes]
        parts = [p for p in parts if len(p.columns)]
        if not parts:
            return pd.DataFrame({NODE: pd.Series(dtype=object)})
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def refresh(self, source: str, node: Node) -> pd.DataFrame:
        """List again now and replace the cached listing (never an older, slower listing)."""
        with self._refresh_lock(source, node):
            frame = self._list(source, node)
            with self._lock:
                self._pending.pop((source, node.id), None)
                planned = self._cache.get((source, node.id))
                if planned is not None and PLANNED in planned:
                    keep = planned[planned[PLANNED].fillna(False).astype(bool)]
                    frame = pd.concat([frame, keep], ignore_index=True) if len(keep) else frame
                self._cache[(source, node.id)] = frame
                return self._with_planned((source, node.id))

    def _refresh_lock(self, source: str, node: Node) -> threading.Lock:
        with self._lock:
            return self._refresh_locks.setdefault((source, node.id), threading.Lock())

    def invalidate(self, source: str, node: Node | None = None) -> None:
        """Forget a listing (after writes, before re-reading)."""
        with self._lock:
            for store in (self._cache, self._pending, self._planned):
                for key in list(store):
                    if key[0] == source and (node is None or key[1] == node.id):
                        del store[key]

    def add_planned(self, source: str, node: Node, rows: pd.DataFrame) -> None:
        """Add objects the plan will create (their id is a ``$ref:`` placeholder).

        They join the listing the next time it is read (most listings never are again).
        """
        if rows.empty:
            return
        rows = rows.assign(**{NODE: node.id, PLANNED: True})
        with self._lock:
            self._planned.setdefault((source, node.id), []).append(rows)

    def _list(self, source: str, node: Node) -> pd.DataFrame:
        return self._receive(source, node)()

    def _receive(self, source: str, node: Node) -> Callable[[], pd.DataFrame]:
        """Do the listing's I/O now; return what builds its frame (decoding included).

        Prefetch threads only receive: decoding and normalising hold the interpreter lock for
        long stretches, so they run on the thread that needs the frame, not beside it.
        """
        with self._lock:
            self.calls += 1
        if source in self.profiles:
            profile = self.profiles[source]
            spec = profile.inventory
            path = spec.get("path") or profile.endpoint.get("list")
            if not path:
                raise ProfileError(f"{profile.path}: endpoint.list (or inventory.path) is required")
            items = self._read(path, bool(spec.get("fetch")), node)
            return lambda: normalise_listing(items(), profile, node, self)
        catalog = CATALOGS.get(source)
        items = self._read(catalog.path, catalog.fetch, node)
        return lambda: self._catalog_frame(catalog, items(), node)

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

    def _read(self, path: str, fetch: bool, node: Node) -> Callable[[], list[dict[str, Any]]]:
        """Receive a listing; the returned function decodes it (both may raise DirectorError)."""
        pool = self.tenant.pool_uuid

        def failed(exc: DirectorError) -> DirectorError:
            return DirectorError(
                f"cannot list {path} on node {node.name}: {exc}", node=node.name, path=path
            )

        try:
            if fetch:
                items = self.client.fetch(pool, node.id, path, {})
                return lambda: items
            receive = getattr(self.client, "receive_list", None)
            if receive is None:
                items = self.client.list(pool, node.id, path)
                return lambda: items
            decode = receive(pool, node.id, path)
        except DirectorError as exc:
            raise failed(exc) from exc

        def decoded() -> list[dict[str, Any]]:
            try:
                return decode()
            except DirectorError as exc:
                raise failed(exc) from exc

        return decoded


def normalise_listing(
    items: list[dict[str, Any]], profile: Profile, node: Node, inventory: Inventory | None = None
) -> pd.DataFrame:
    """A listing → a frame in the write shape (``rename``, ``unnest``, ``hook``)."""
    spec = profile.inventory
    frame = pd.DataFrame(items)
    for col in spec.get("unnest") or []:
        if col in frame:
            inner = pd.DataFrame(
                frame[col].map(lambda v: v if isinstance(v, dict) else {}).tolist(),
                index=frame.index,
            )
            inner.columns = [
                c if c not in frame or c == col else f"{c}_{col}" for c in inner.columns
            ]
            frame = pd.concat([frame.drop(columns=[col]), inner], axis=1)
    rename = spec.get("rename") or {}
    frame = frame.rename(columns={k: v for k, v in rename.items() if k in frame})
    for col, specs in (spec.get("transforms") or {}).items():
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
    return isinstance(value, str) and value.startswith(REF_PREFIX)


SKIP_PREFIX = "$skip:"


def skipped_marker(reason: str) -> str:
    """The placeholder id of an object whose own row the plan skips (with the reason)."""
    return f"{SKIP_PREFIX}{reason}"


def is_skipped(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SKIP_PREFIX)


def skip_reason(value: Any) -> str | None:
    return value[len(SKIP_PREFIX) :] if is_skipped(value) else None

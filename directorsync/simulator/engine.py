"""The simulated Director: per-node state, orders and their lazy completion.

:class:`Director` owns the topology, the store, the orders, the fault rules, the request log and
one re-entrant lock around all of them. Resources see one node through a :class:`NodeView`;
when an order completes, the view *stages* every change and commits them only if the operation
succeeds, so an operation that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from typing import Any

from directorsync.simulator import catalog
from directorsync.simulator.faults import FaultBook
from directorsync.simulator.knobs import Knobs
from directorsync.simulator.monitor import FAILED, FATE_FAIL, SUCCESS, Op, Order, OrderBook
from directorsync.simulator.pools import NodeInfo, Topology
from directorsync.simulator.requestlog import RequestLog
from directorsync.simulator.resources import build_resources
from directorsync.simulator.routing import Router
from directorsync.simulator.store import MemoryStore, Record
from directorsync.simulator.validation import ApiError, OrderFailed

SIMULATED_FAILURE = "simulated order failure: the job failed on the node, nothing was applied"


class Director:
    """All simulated nodes and what happens to them."""

    def __init__(self, topology: Topology, knobs: Knobs, store: MemoryStore) -> None:
        self.topology = topology
        self.knobs = knobs
        self.store = store
        self.lock = threading.RLock()
        self.rng = random.Random(knobs.rng_seed)
        self.clock_offset = 0.0
        self.faults = FaultBook()
        self.log = RequestLog()
        self.resources = build_resources()
        self.router = Router(r for res in self.resources.values() for r in res.routes())
        self.orders = OrderBook(store)
        #: resources whose listing lags behind writes with ``stale_listings`` (own RefreshList)
        self.lagging = {n for n, r in self.resources.items() if f"{n}/refreshlist" in r.refresh}
        #: (node key, resource) → id → the record as last refreshed (None: absent then)
        self.stale: dict[tuple[str, str], dict[str, Record | None]] = {}
        self.stale_version = 0
        for info in topology.nodes():
            if not store.has_node(info.key):
                store.seed(info.key, catalog.seed_node(info))

    def now(self) -> float:
        """The simulator's clock: wall time plus whatever :meth:`advance` added."""
        return time.time() + self.clock_offset

    def advance(self, ms: float) -> None:
        """Move the clock forward (orders due by then complete on the next request)."""
        with self.lock:
            self.clock_offset += ms / 1000.0

    def view(self, pool: str, node_id: str) -> NodeView:
        """The view of one node.

        Raises:
            ApiError: 404 for an unknown pool or node.
        """
        if not self.topology.has_pool(pool):
            raise ApiError(404, f"unknown pool {pool!r}")
        info = self.topology.node(pool, node_id)
        if info is None:
            raise ApiError(404, f"unknown node {node_id!r} in pool {pool!r}")
        return NodeView(self, info)

    def random(self) -> float:
        """A draw from the seeded generator."""
        with self.lock:
            return self.rng.random()

    def new_hex(self, bits: int) -> str:
        """A random hex id of ``bits`` bits from the seeded generator."""
        with self.lock:
            return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def submit(self, view: NodeView, op: Op, request: dict[str, Any], fate: str) -> Order:
        """Create the order of an accepted write; it is due ``job_ms`` from now."""
        with self.lock:
            order_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            while order_id in self.orders:
                order_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            now = self.now()
            order = Order(
                order_id, view.info.pool, view.info.id, now, now + self.knobs.job_ms / 1000.0,
                op, request, fate,
            )  # fmt: skip
            self.orders.add(order)
            return order

    def settle(self) -> None:
        """Complete every order whose due time has come, in due order, exactly once."""
        with self.lock:
            for order in self.orders.due(self.now()):
                self._complete(order)

    def _complete(self, order: Order) -> None:
        info = self.topology.node(order.pool, order.node_id)
        if order.fate == FATE_FAIL or info is None:
            order.state, order.message = FAILED, order.message or SIMULATED_FAILURE
        else:
            view = NodeView(self, info)
            resource = self.resources[order.op.resource]
            try:
                result = getattr(resource, f"apply_{order.op.action}")(view, order.op)
            except OrderFailed as exc:
                order.state, order.message = FAILED, exc.message
            else:
                if order.alter:
                    view.alter(order.op.resource, order.alter)
                view.commit()
                order.state = SUCCESS
                if order.op.fetch:
                    order.rows = result
                    order.message = f"{len(result)} rows fetched"
                else:
                    order.message = result
        self.orders.save(order)

    def reset(self) -> None:
        """Back to the seeded state: objects, orders, faults, log, clock and generator."""
        with self.lock:
            self.store.clear()
            self.orders.clear()
            for info in self.topology.nodes():
                self.store.seed(info.key, catalog.seed_node(info))
            self.faults.clear()
            self.log.clear()
            self.forget_stale()
            self.clock_offset = 0.0
            self.rng.seed(self.knobs.rng_seed)

    def forget_stale(self, node: str | None = None, resource: str | None = None) -> None:
        """A refresh: listings of ``resource`` on ``node`` (every one when None) are current."""
        with self.lock:
            for key in list(self.stale):
                if node in (None, key[0]) and resource in (None, key[1]):
                    del self.stale[key]
            self.stale_version += 1

    def dump(self) -> dict[str, Any]:
        """State, orders and fault rules as JSON-able data (``GET /_sim/state``)."""
        with self.lock:
            return {
                "nodes": self.store.dump(),
                "orders": [o.to_dict() for o in self.orders.all()],
                "faults": self.faults.as_list(),
                "knobs": self.knobs.as_dict(),
            }


class NodeView:
    """One node's state as resources see it; changes are staged until :meth:`commit`."""

    def __init__(self, director: Director, info: NodeInfo) -> None:
        self.director = director
        self.info = info
        self.knobs = director.knobs
        self._staged: dict[tuple[str, str], Record | None] = {}

    def objects(self, resource: str) -> list[Record]:
        """The records of ``resource``, oldest first, staged changes included."""
        base = self.director.store.objects(self.info.key, resource)
        if not any(res == resource for res, _ in self._staged):
            return base
        out = [self._staged.get((resource, r["id"]), r) for r in base]
        known = {r["id"] for r in base}
        out += [r for (res, oid), r in self._staged.items() if res == resource and oid not in known]
        return [r for r in out if r is not None]

    def listed(self, resource: str) -> list[Record]:
        """What ``GET {resource}`` lists: :meth:`objects`, or the pre-refresh records.

        With ``stale_listings``, records written since the last refresh are listed as they were
        before (see the knob).
        """
        current = self.objects(resource)
        stale = self.director.stale.get((self.info.key, resource))
        if not stale or not self.knobs.stale_listings:
            return current
        out = [stale.get(r["id"], r) if r["id"] in stale else r for r in current]
        known = {r["id"] for r in current}
        out += [r for oid, r in stale.items() if oid not in known]
        return [r for r in out if r is not None]

    def alter(self, resource: str, changes: dict[str, Any]) -> None:
        """Set fields of the staged records of ``resource`` (an ``alter`` fault rule)."""
        for (res, oid), record in list(self._staged.items()):
            if res == resource and record is not None:
                self._staged[(res, oid)] = {**record, **changes}

    def get(self, resource: str, oid: str) -> Record | None:
        """One record (staged changes included), or None."""
        if (resource, oid) in self._staged:
            return self._staged[(resource, oid)]
        return self.director.store.get(self.info.key, resource, oid)

    def require(self, resource: str, oid: str) -> Record:
        """One record; a 404 if it does not exist."""
        record = self.get(resource, oid)
        if record is None:
            raise ApiError(404, f"{resource}: no object with id {oid!r} on node {self.info.name}")
        return record

    def put(self, resource: str, record: Record) -> None:
        """Stage an insert or replacement."""
        self._staged[(resource, record["id"])] = record

    def delete(self, resource: str, oid: str) -> None:
        """Stage a removal."""
        self._staged[(resource, oid)] = None

    def commit(self) -> None:
        """Write the staged changes to the store."""
        store, key = self.director.store, self.info.key
        lag = self.knobs.stale_listings and self.director.lagging
        for (resource, oid), record in self._staged.items():
            if lag and resource in lag:  # keep the record as listed before (the first write)
                before = self.director.stale.setdefault((key, resource), {})
                before.setdefault(oid, copy.deepcopy(store.get(key, resource, oid)))
            if record is None:
                store.delete(key, resource, oid)
            else:
                store.put(key, resource, record)
        self._staged.clear()

    def find(self, resource: str, field: str, value: Any, *, fold: bool = False) -> Record | None:
        """The first record whose ``field`` equals ``value`` (case-insensitively if ``fold``)."""
        want = value.casefold() if fold and isinstance(value, str) else value
        for r in self.objects(resource):
            have = r.get(field)
            if (have.casefold() if fold and isinstance(have, str) else have) == want:
                return r
        return None

    def new_id(self) -> str:
        """A fresh 24-hex object id, unused on this node (also after a restart with the same seed)."""
        oid = self.director.new_hex(96)
        while any(self.get(resource, oid) is not None for resource in self.director.resources):
            oid = self.director.new_hex(96)
        return oid

    def new_uuid(self) -> str:
        """A fresh 32-hex plugin uuid."""
        return self.director.new_hex(128)

    def peers(self, roles: tuple[str, ...]) -> list[NodeView]:
        """Views of the nodes of the same pool whose role is in ``roles``."""
        nodes = self.director.topology.pool_nodes(self.info.pool, roles)
        return [NodeView(self.director, n) for n in nodes]

"""Async orders: what a write leaves behind, and what ``monitorapi`` answers about it.

Every accepted write creates an :class:`Order` holding the operation to perform (:class:`Op`)
and its due time (``created + job_ms``). Completion is lazy and deterministic: the first request
that sees ``now >= due`` runs the operation (see :meth:`OrderBook.due`), exactly once, in due
order. Until then the monitor answers "running" and the state is unchanged (contract §6.9).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from directorsync.simulator.store import MemoryStore

RUNNING, SUCCESS, FAILED = "running", "success", "failed"
#: what the order will do when due: run the op, fail without running it, or never finish
FATE_OK, FATE_FAIL, FATE_HANG = "ok", "fail", "hang"


@dataclass
class Op:
    """An operation a write asks for, checked synchronously, run when its order completes.

    Attributes:
        resource: the resource segment (``Repos``, ``AlertRules``…).
        action: ``create``, ``edit``, ``delete`` or a resource-specific action (``activate``…).
        target: id of the addressed object, if the URL names one.
        data: the validated ``data`` object of the request.
        fetch: a fetch action: the order carries ``response.rows``.
    """

    resource: str
    action: str
    target: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    fetch: bool = False


@dataclass
class Order:
    """One order of one node."""

    id: str
    pool: str
    node_id: str
    created: float
    due: float
    op: Op
    request: dict[str, Any]
    fate: str = FATE_OK
    state: str = RUNNING
    message: str = ""
    rows: list[Any] | None = None
    #: fields set on the written records when the order completes (an ``alter`` fault rule)
    alter: dict[str, Any] | None = None

    @property
    def node(self) -> str:
        """The ``{pool}/{node}`` key of the node the order runs on."""
        return f"{self.pool}/{self.node_id}"

    def monitor_path(self) -> str:
        """The ``message`` of the mutation response (relative, no leading slash)."""
        path = f"monitorapi/{self.pool}/{self.node_id}/orders/{self.id}"
        return f"{path}/{self.node_id}" if self.op.fetch else path

    def payload(self) -> dict[str, Any]:
        """What ``GET monitorapi/…/orders/{id}`` returns (contract §6.7, §6.10)."""
        if self.state == RUNNING:
            return {"request": self.request, "response": {}}
        if self.state == FAILED:
            response = {"success": False, "errors": [self.message], "message": self.message}
            return {"request": self.request, "response": response}
        response = {"success": True, "errors": [], "message": self.message, "node_change_count": -1}
        if self.rows is not None:
            response["rows"] = self.rows
        return {"request": self.request, "response": response}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (for the SQLite store)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Order:
        """The inverse of :meth:`to_dict`."""
        return cls(**{**raw, "op": Op(**raw["op"])})


class OrderBook:
    """Every order, plus a heap of the running ones by due time."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._orders: dict[str, Order] = {}
        self._pending: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        for raw in store.orders():
            self.add(Order.from_dict(raw), save=False)

    def add(self, order: Order, *, save: bool = True) -> None:
        """Register a new order (running ones that will finish go on the heap)."""
        self._orders[order.id] = order
        if order.state == RUNNING and order.fate != FATE_HANG:
            heapq.heappush(self._pending, (order.due, next(self._seq), order.id))
        if save:
            self.save(order)

    def get(self, order_id: str) -> Order | None:
        """An order by id, or None."""
        return self._orders.get(order_id)

    def all(self) -> list[Order]:
        """Every order, oldest first."""
        return list(self._orders.values())

    def __contains__(self, order_id: str) -> bool:
        return order_id in self._orders

    def due(self, now: float) -> Iterator[Order]:
        """Pop and yield the running orders whose due time has come, oldest due first."""
        while self._pending and self._pending[0][0] <= now:
            _, _, order_id = heapq.heappop(self._pending)
            yield self._orders[order_id]

    def save(self, order: Order) -> None:
        """Persist the order's current form."""
        self._store.save_order(order.to_dict())

    def clear(self) -> None:
        """Forget every order (the store is cleared by its owner)."""
        self._orders.clear()
        self._pending.clear()

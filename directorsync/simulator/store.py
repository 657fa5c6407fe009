"""Where node state lives: in memory (default) or also in SQLite (``--state FILE``).

State is ``node key → resource → id → record``; records are stored in their read-ready form and
keep insertion order (an edit keeps the object's place). :class:`SqliteStore` writes every change
through to a SQLite file and loads it back on start, so objects and orders survive a restart.
Callers serialise access (the simulator holds one lock around every state change).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from typing_extensions import override

from directorsync import jsonio
from directorsync.jsonio import collector_paused

Record = dict[str, Any]


class MemoryStore:
    """Node state in dictionaries; lost when the process ends."""

    def __init__(self) -> None:
        self._nodes: dict[str, dict[str, dict[str, Record]]] = {}
        self._orders: dict[str, Record] = {}
        #: Bumped by every change of an object (readers may keep answers made at a version).
        self.version = 0

    def has_node(self, node: str) -> bool:
        """Whether ``node`` has been seeded."""
        return node in self._nodes

    def seed(self, node: str, records: dict[str, list[Record]]) -> None:
        """Install the initial records of ``node`` (replacing whatever it held)."""
        self._nodes[node] = {res: {r["id"]: r for r in items} for res, items in records.items()}
        self.version += 1

    def objects(self, node: str, resource: str) -> list[Record]:
        """The records of ``resource`` on ``node``, oldest first."""
        return list(self._nodes.get(node, {}).get(resource, {}).values())

    def get(self, node: str, resource: str, oid: str) -> Record | None:
        """One record, or None."""
        return self._nodes.get(node, {}).get(resource, {}).get(oid)

    def put(self, node: str, resource: str, record: Record) -> None:
        """Insert or replace ``record`` (keyed by its ``id``)."""
        self._nodes.setdefault(node, {}).setdefault(resource, {})[record["id"]] = record
        self.version += 1

    def delete(self, node: str, resource: str, oid: str) -> None:
        """Remove a record if present."""
        self._nodes.get(node, {}).get(resource, {}).pop(oid, None)
        self.version += 1

    def save_order(self, order: Record) -> None:
        """Remember an order's current form (keyed by its ``id``)."""
        self._orders[order["id"]] = order

    def orders(self) -> list[Record]:
        """Every remembered order."""
        return list(self._orders.values())

    def dump(self) -> dict[str, dict[str, list[Record]]]:
        """All state: ``{node: {resource: [records]}}``."""
        return {n: {r: list(o.values()) for r, o in res.items()} for n, res in self._nodes.items()}

    def clear(self) -> None:
        """Forget every node and order."""
        self._nodes.clear()
        self._orders.clear()
        self.version += 1

    def close(self) -> None:
        """Release resources (nothing to do in memory)."""


class SqliteStore(MemoryStore):
    """:class:`MemoryStore` written through to a SQLite file, reloaded on start."""

    _SCHEMA = """
    CREATE TABLE IF NOT EXISTS objects (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL, resource TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
        UNIQUE (node, resource, id));
    CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, body TEXT NOT NULL);
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(self._SCHEMA)
        self._load()

    def _load(self) -> None:
        rows = self._db.execute("SELECT node, resource, body FROM objects ORDER BY seq")
        with collector_paused():
            for node, resource, body in rows:
                super().put(node, resource, jsonio.loads(body))
        for (body,) in self._db.execute("SELECT body FROM orders"):
            super().save_order(json.loads(body))

    @override
    def seed(self, node: str, records: dict[str, list[Record]]) -> None:
        super().seed(node, records)
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM objects WHERE node = ?", (node,))
            self._db.executemany(
                "INSERT INTO objects (node, resource, id, body) VALUES (?, ?, ?, ?)",
                [
                    (node, res, r["id"], json.dumps(r))
                    for res, items in records.items()
                    for r in items
                ],
            )

    @override
    def put(self, node: str, resource: str, record: Record) -> None:
        super().put(node, resource, record)
        self._db.execute(
            "INSERT INTO objects (node, resource, id, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (node, resource, id) DO UPDATE SET body = excluded.body",
            (node, resource, record["id"], json.dumps(record)),
        )

    @override
    def delete(self, node: str, resource: str, oid: str) -> None:
        super().delete(node, resource, oid)
        self._db.execute(
            "DELETE FROM objects WHERE node = ? AND resource = ? AND id = ?", (node, resource, oid)
        )

    @override
    def save_order(self, order: Record) -> None:
        super().save_order(order)
        self._db.execute(
            "INSERT OR REPLACE INTO orders (id, body) VALUES (?, ?)",
            (order["id"], json.dumps(order)),
        )

    @override
    def clear(self) -> None:
        super().clear()
        self._db.executescript("DELETE FROM objects; DELETE FROM orders;")

    @override
    def close(self) -> None:
        self._db.close()

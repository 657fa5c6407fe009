"""``WS /ws/syncs/{sync_id}``: a sync's events as they happen, then the socket closes.

The ledger is the source: a client gets every event of the run in order (those before it
connected too), read after the last one it got. A sync of this service wakes its clients as
soon as its process writes an event (:class:`EventBus`); a run started elsewhere (the CLI, a
notebook, another machine on a shared ledger) is read again every ``POLL`` seconds.

Each message is ``{"event", "sync_id", "tenant", "ts", "data"}`` (the shape of
``apply --events``). After ``sync.completed``, ``sync.failed`` or ``sync.cancelled`` the
server closes the socket (1000). A client that cannot send an ``Authorization`` header (a
browser) sends ``{"token": "…"}`` as its first message; a wrong or missing token closes the
socket with 4401, an unknown sync with 4404.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from directorsync.errors import LedgerError
from directorsync.service.auth import token_user, websocket_user

POLL = 0.25  # seconds between two reads of a run this service does not run
FIRST_MESSAGE_TIMEOUT = 10.0
TERMINAL = ("sync.completed", "sync.failed", "sync.cancelled")

router = APIRouter()


class EventBus:
    """Wakes the WebSocket clients of a sync (``notify`` may be called from any thread)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The service's event loop (set when it starts)."""
        self.loop = loop

    def notify(self, sync_id: str) -> None:
        """The sync said something: wake its clients (thread-safe)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, sync_id)

    def _wake(self, sync_id: str) -> None:
        for waiter in self.waiters.get(sync_id, ()):
            waiter.set()

    async def wait(self, sync_id: str, waiter: asyncio.Event, timeout: float) -> None:
        """Until the sync says something, or ``timeout`` seconds."""
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except TimeoutError:
            pass
        waiter.clear()


def message(run: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """A ledger event as a WebSocket message."""
    return {
        "event": event["name"],
        "sync_id": event["run_id"],
        "tenant": run.get("tenant"),
        "ts": event["ts"],
        "data": event["data"],
    }


@router.websocket("/ws/syncs/{sync_id}")
async def sync_events(websocket: WebSocket, sync_id: str) -> None:
    """The run's events, in order, until its last one; then the socket closes."""
    await websocket.accept()
    user = websocket_user(websocket)
    if user is None:
        try:
            first = await asyncio.wait_for(websocket.receive_text(), FIRST_MESSAGE_TIMEOUT)
            user = token_user(websocket, json.loads(first).get("token"))
        except (TimeoutError, ValueError, AttributeError, WebSocketDisconnect):
            user = None
    if user is None:
        await websocket.close(code=4401, reason="a bearer token of the service is needed")
        return
    state = websocket.app.state
    ledger, bus, syncs = state.reader, state.bus, state.syncs
    try:
        run = await run_in_threadpool(syncs.view, sync_id)
    except Exception:  # noqa: BLE001 - unknown sync (ApiError 404)
        await websocket.close(code=4404, reason=f"no sync {sync_id}")
        return
    waiter = asyncio.Event()
    bus.waiters[sync_id].add(waiter)
    last = 0
    try:
        while True:
            try:
                events = await run_in_threadpool(ledger.events, sync_id, last)
            except LedgerError:
                events = []
            for event in events:
                last = event["id"]
                await websocket.send_text(json.dumps(message(run, event), default=str))
                if event["name"] in TERMINAL:
                    await websocket.close(code=1000)
                    return
            if not events and not state.runner.job(sync_id) and await _ended(state, sync_id):
                await websocket.close(code=1000)
                return
            await bus.wait(sync_id, waiter, POLL)
    except WebSocketDisconnect:
        return
    finally:
        bus.waiters[sync_id].discard(waiter)
        if not bus.waiters[sync_id]:
            bus.waiters.pop(sync_id, None)


async def _ended(state: Any, sync_id: str) -> bool:
    """A run that ended without a last event in the ledger (an older ledger's run)."""
    try:
        run = await run_in_threadpool(state.reader.get_run, sync_id)
    except LedgerError:
        return False
    if run["state"] not in ("completed", "failed", "cancelled", "interrupted"):
        return False
    events = await run_in_threadpool(state.reader.events, sync_id, 0)
    return not any(e["name"] in TERMINAL for e in events)

"""The service's application: ``create_app(settings)`` and ``serve(settings)`` (uvicorn).

``create_app`` opens the ledger named by the settings (the CLI's), checks the callers' tokens,
and mounts the sync API (:mod:`~directorsync.service.api`), the events WebSocket
(:mod:`~directorsync.service.events`), the live fleet page and ``GET /health``. What other
parts of the service need is on ``app.state``: ``settings``, ``ledger``, ``runner``
(:class:`~directorsync.service.runner.SyncRunner`), ``syncs``
(:class:`~directorsync.service.syncs.Syncs`), ``tokens`` and ``bus``; a scheduler starts syncs
with :func:`directorsync.service.runner.start_sync` (``start_sync(app.state, …)``).

Errors are JSON ``{"error": "<one line>", …}``: 401 without a token, 404 for an unknown tenant
(``known``) or sync, 409 for a busy tenant (``running_sync``), 422 naming the bad field.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import socket
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from importlib.resources import files
from types import FrameType
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from directorsync.config import Settings
from directorsync.ledger.database import Ledger, open_configured
from directorsync.service import api, events
from directorsync.service.auth import Tokens, require_user
from directorsync.service.runner import SyncRunner, start_sync, warm_up
from directorsync.service.schedules import Scheduler
from directorsync.service.syncs import ApiError, Syncs
from directorsync.vocabulary import VERSION

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: the other helpers' routers, included with the service's authentication when present
EXTRA_ROUTERS = ("directorsync.service.workbook_routes",)


def create_app(
    settings: Settings, *, ledger: Ledger | None = None, workers: int | None = None
) -> FastAPI:
    """The service as an ASGI application (see the module docstring).

    Raises:
        ConfigError: no caller token configured, or a bad one.
        LedgerError: the ledger cannot be opened.
    """
    tokens = Tokens(dict(settings.service.tokens))
    ledger = ledger or open_configured(settings)
    bus = events.EventBus()
    runner = SyncRunner(
        settings, ledger, workers=workers or settings.service.workers, notify=bus.notify
    )
    state: dict[str, Any] = {}
    scheduler = (  # checked now: a schedule naming an unknown tenant stops the start
        Scheduler.from_settings(settings, partial(_scheduled, state), ledger=ledger)
        if settings.schedules
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus.bind(asyncio.get_running_loop())
        threading.Thread(target=warm_up, name="forkserver-warm-up", daemon=True).start()
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await run_in_threadpool(scheduler.stop, 5.0)
            await run_in_threadpool(runner.shutdown, settings.service.shutdown_grace_sec)
            ledger.close()
            app.state.reader.close()

    app = FastAPI(
        title="DirectorSync",
        version=VERSION,
        summary="Start, follow and cancel tenant syncs; the live fleet page.",
        lifespan=lifespan,
    )
    app.state.settings, app.state.ledger, app.state.tokens = settings, ledger, tokens
    app.state.runner, app.state.bus, app.state.scheduler = runner, bus, scheduler
    state["app"] = app
    app.state.reader = reader = read_ledger(ledger)
    app.state.syncs = Syncs(settings, reader, runner)
    app.include_router(api.router)
    app.include_router(events.router)
    for module in EXTRA_ROUTERS:  # e.g. the workbook folder's routes
        if importlib.util.find_spec(module) is not None:
            router = importlib.import_module(module).router
            app.include_router(router, dependencies=[Depends(require_user)])
    _pages(app)
    _errors(app, settings)
    return app


def _scheduled(
    state: dict[str, Any], tenant: str, kind: str, trigger: str, options: dict, user: str
) -> str:
    """The scheduler's trigger: a sync started as the API starts one (its sync id)."""
    return start_sync(state["app"].state, tenant, kind, trigger, options, user)


def read_ledger(ledger: Ledger) -> Ledger:
    """The ledger for the service's reads: on SQLite, statements outside ``BEGIN IMMEDIATE``.

    A read in WAL mode sees the last committed state without waiting for the syncs' writes
    (their heartbeats, progress and journal), which keeps the API's answers fast while syncs
    run. Any other database is read through the ledger itself.
    """
    if ledger.engine.dialect.name != "sqlite":
        return ledger
    from sqlalchemy import create_engine, event

    engine = create_engine(
        ledger.engine.url, connect_args={"timeout": 30, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # each statement on its own: no lock held for reads
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    return Ledger(
        engine, clock=ledger.clock, stale_after=ledger.stale_after, lease_ttl=ledger.lease_ttl
    )


def _pages(app: FastAPI) -> None:
    data = files("directorsync") / "data"

    @app.get("/health", summary="Liveness (no token needed)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": VERSION}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def fleet_page() -> Response:
        """The page shell (no data: the page reads the API with the caller's token)."""
        page = (data / "service_fleet.html").read_text(encoding="utf-8")
        return HTMLResponse(page, headers=_page_headers())

    @app.get("/fleet.js", include_in_schema=False)
    def fleet_script() -> Response:
        script = (data / "service_fleet.js").read_text(encoding="utf-8")
        return Response(script, media_type="text/javascript", headers=_page_headers())


def _page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": PAGE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _errors(app: FastAPI, settings: Settings) -> None:
    secret = settings.token

    def answer(status: int, message: str, headers: Any = None, **extra: Any) -> JSONResponse:
        if secret:  # Director's token never leaves the server, not even inside a message
            message = message.replace(secret, "***")
        body = {"error": message, **extra}
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return answer(exc.status, exc.message, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return answer(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            problems.append({"field": ".".join(loc) or "body", "message": err.get("msg", "")})
        first = problems[0] if problems else {"field": "body", "message": "invalid request"}
        return answer(
            422, f"{first['field']}: {first['message']}", field=first["field"], problems=problems
        )


# -- serve ------------------------------------------------------------------------------------


def serve(settings: Settings, *, say: Any = None) -> None:
    """Run the service until Ctrl-C or SIGTERM (which cancel its running syncs cleanly)."""
    import uvicorn

    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    s = settings.service
    app = create_app(settings)
    family = socket.AF_INET6 if ":" in s.host else socket.AF_INET
    # IPPROTO_TCP, or asyncio does not set TCP_NODELAY on the connections (a 40 ms stall each)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((s.host, s.port))
    port = sock.getsockname()[1]
    runner: SyncRunner = app.state.runner

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # first the syncs hear it (their WebSocket clients get the last events), then uvicorn
            threading.Thread(target=runner.begin_shutdown, daemon=True).start()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        log_level=settings.logging.level.lower(),
        timeout_graceful_shutdown=int(s.shutdown_grace_sec) + 5,
        ws="websockets-sansio",
    )
    if s.host not in ("127.0.0.1", "::1", "localhost"):
        say(f"warning: the service listens on {s.host}, not only on this machine (loopback)")
    host = f"[{s.host}]" if ":" in s.host else s.host
    say(
        f"DirectorSync service on http://{host}:{port}/ (fleet page), API docs at /docs; "
        f"{runner.workers} sync(s) at once; ledger {app.state.ledger.label}; "
        f"callers: {', '.join(sorted(app.state.tokens.digests))}"
    )
    Server(config).run(sockets=[sock])

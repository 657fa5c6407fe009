"""``Simulator``: the local Director as an object, for tests, notebooks, the demo and the CLI.

::

    with Simulator(seed="tenants.yml", token="t", job_ms=200) as sim:
        requests.get(f"{sim.configapi('lb-backend01')}/Repos", headers=sim.headers)

The server binds a free port (``port=0``) before :meth:`Simulator.start` returns, and readiness
is checked without sleeping: an event set when the serving thread runs, then one
``GET /_sim/health``.
"""

from __future__ import annotations

import http.client
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from directorsync.errors import ConfigError
from directorsync.simulator.catalog import DEMO_TENANTS_YAML
from directorsync.simulator.dispatch import Dispatcher
from directorsync.simulator.engine import Director
from directorsync.simulator.knobs import Knobs
from directorsync.simulator.pools import NodeInfo, Tenant, load_topology
from directorsync.simulator.server import SimulatorHTTPServer
from directorsync.simulator.store import MemoryStore, SqliteStore
from directorsync.simulator.validation import ApiError

DEFAULT_TOKEN = "directorsync-simulator"


class Simulator:
    """A running local Director.

    Args:
        seed: tenants file (path or YAML text) or parsed dict; None → the built-in demo
            topology; an int → the demo topology with the random generator seeded by it
            (same as ``rng_seed=``).
        token: the Bearer token clients must send.
        host: address to bind (loopback by default).
        port: port to bind; 0 picks a free one (see :attr:`port`).
        state: SQLite file that keeps state across restarts; None → memory only.
        **knobs: any :class:`~directorsync.simulator.knobs.Knobs` field (``job_ms=500``…).

    Raises:
        ConfigError: bad tenants file or unknown/invalid knob.
    """

    def __init__(
        self,
        seed: str | Path | dict[str, Any] | int | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        state: str | Path | None = None,
        **knobs: Any,
    ) -> None:
        if isinstance(seed, bool):
            raise TypeError("seed: a tenants file, YAML text, a dict or an int seed, not a bool")
        if isinstance(seed, int):
            knobs.setdefault("rng_seed", seed)
            seed = None
        self.topology = load_topology(seed if seed is not None else DEMO_TENANTS_YAML)
        self.knobs = Knobs()
        try:
            self.knobs.update(knobs)
        except ApiError as exc:
            raise ConfigError(f"simulator: {exc.message}") from exc
        self.token = token
        self.host = host
        self._requested_port = port
        self.director = Director(
            self.topology, self.knobs, SqliteStore(state) if state else MemoryStore()
        )
        self.dispatcher = Dispatcher(self.director, token)
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Simulator:
        """Bind, serve in a background thread, and return once ``/_sim/health`` answers."""
        if self._server is not None:
            raise RuntimeError(f"the simulator is already running on {self.base_url}")
        self._server = SimulatorHTTPServer((self.host, self._requested_port), self.dispatcher)
        serving = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(serving,), name="director-simulator", daemon=True
        )
        self._thread.start()
        try:
            serving.wait(timeout=10)
            self._check_health()
        except BaseException:
            self.stop()
            raise
        return self

    def _serve(self, serving: threading.Event) -> None:
        assert self._server is not None
        serving.set()
        self._server.serve_forever(poll_interval=0.05)

    def _check_health(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            conn.request("GET", "/_sim/health")
            if conn.getresponse().status != 200:
                raise ConfigError(f"simulator on {self.base_url} is not healthy")
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop serving, close every open connection and the state file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server = None
        with self.director.lock:  # a request still inside a locked section finishes first
            self.director.store.close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError(
                "the simulator is not running: call start() or use it as a context manager"
            )
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """``http://host:port`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header clients must send."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def tenants(self) -> dict[str, Tenant]:
        """The parsed topology: tenant name → :class:`~directorsync.simulator.pools.Tenant`."""
        return self.topology.tenants

    def node(self, ref: str) -> NodeInfo:
        """A node by id or name."""
        node = self.topology.find(ref)
        if node is None:
            raise KeyError(f"no node with id or name {ref!r}")
        return node

    def configapi(self, ref: str) -> str:
        """``{base_url}/configapi/{pool}/{node}`` of a node given by id or name."""
        node = self.node(ref)
        return f"{self.base_url}/configapi/{node.pool}/{node.id}"

    # -- admin helpers (same operations as /_sim/…) ----------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """The request log (method, path, pattern, body, auth, ts, status, faults)."""
        return self.dispatcher.admin.requests()

    def counts(self) -> dict[str, dict[str, int]]:
        """Request counts ``{"by_pattern": {...}, "by_path": {...}}``."""
        return self.dispatcher.admin.counts()

    def reset(self) -> None:
        """Back to the seeded state (objects, orders, log, faults, clock)."""
        self.dispatcher.admin.reset()

    def state(self) -> dict[str, Any]:
        """Everything the simulator holds (``GET /_sim/state``)."""
        return self.dispatcher.admin.state()

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (``kind``, ``method``, ``resource``, ``node``, ``name``, ``path``, ``count``…)."""
        return _unwrap(self.dispatcher.admin.add_fault, rule)

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self.dispatcher.admin.clear_faults()

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change knobs while running; returns all knobs."""
        return _unwrap(self.dispatcher.admin.configure, knobs)

    def advance(self, ms: float) -> None:
        """Move the simulator's clock forward: orders due by then complete on the next request."""
        self.director.advance(ms)


def _unwrap(fn: Any, arg: dict[str, Any]) -> Any:
    try:
        return fn(arg)
    except ApiError as exc:
        raise ValueError(exc.message) from exc

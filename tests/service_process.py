"""``directorsync serve`` as a real process for tests and the benchmark: start, ready, stop.

The service listens on a port of its own choosing (``--port 0``) and says which on its first
line; readiness is ``GET /health`` answering. Its output goes to files (read back by tests
looking for secrets).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

ALICE = "alice-3b1f0c9d8e7a6b5c4d3e2f1a"
BOB = "bob-9e8d7c6b5a4f3e2d1c0b9a8f"
LISTENING = re.compile(r"DirectorSync service on (http://[0-9.]+:\d+)/")


class ServiceProcess:
    """A ``directorsync serve`` subprocess (``base_url``, ``client()``, ``stop()``)."""

    def __init__(self, env: dict[str, str], folder: Path, *args: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = folder / "serve.out", folder / "serve.err"
        self.env = env
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "directorsync", "serve", "--port", "0", *args],
                env=env,
                stdout=out,
                stderr=err,
            )
        self.base_url = self._wait_ready()

    def _wait_ready(self, timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        url = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve ended ({self.proc.returncode}): {self.output()}")
            if url is None:
                found = LISTENING.search(self.err_path.read_text(errors="replace"))
                url = found.group(1) if found else None
            if url is not None:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        return url
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"serve not ready after {timeout} s: {self.output()}")

    def client(self, token: str | None = ALICE, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30, **kwargs)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1)

    def output(self) -> str:
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def service_env(base: dict[str, str], samples: Path, **extra: str) -> dict[str, str]:
    """The environment of a service on the samples: tenants, workbooks, two callers."""
    env = dict(base)
    env.update(
        LP_TENANTS_FILE=str(samples / "tenants.yml"),
        DSYNC_INPUTS__XLSX_DIR=str(samples),
        DSYNC_SERVICE__TOKENS=f"alice={ALICE},bob={BOB}",
        DSYNC_APP__CONCURRENCY="2",
        DSYNC_LEDGER__HEARTBEAT_SEC="0.2",
        PYTHONPATH=os.environ.get("PYTHONPATH", ""),
    )
    env.update(extra)
    return env


def until(check: Any, what: str, timeout: float = 60.0) -> Any:
    """Readiness: poll ``check`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def events_of(service: ServiceProcess, sync_id: str, token: str = ALICE) -> list[dict]:
    """Every event of a sync over the WebSocket, until the server closes it."""
    got = []
    with connect(
        f"{service.ws_url}/ws/syncs/{sync_id}",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=30,
    ) as ws:
        try:
            while True:
                got.append(json.loads(ws.recv(timeout=120)))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1000
    return got

"""Running the simulator.

In-process start/stop, SQLite state across restarts, the CLI, many keep-alive clients at once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from directorsync.errors import ConfigError
from directorsync.simulator import DEMO_TENANTS_YAML, Simulator

from .support import TENANTS, TOKEN, Api

ROOT = Path(__file__).resolve().parents[2]
REPO = {"name": "persisted", "hiddenrepopath": [{"path": "/data_hot/", "retention": 3}]}


def test_in_process_simulator_is_ready_on_return_and_gone_after_stop():
    with Simulator(token="t") as sim:
        assert requests.get(f"{sim.base_url}/_sim/health", timeout=5).status_code == 200
        [tenant] = sim.tenants.values()
        assert tenant.name == "demo" and len(tenant.search_heads) == len(tenant.backends) == 1
        session = requests.Session()
        assert session.get(f"{sim.configapi('demo-be01')}/Repos", headers=sim.headers, timeout=5).ok
        url = sim.base_url
    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/_sim/health", timeout=5)  # the keep-alive connection was closed too
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/_sim/health", timeout=5)


def test_seed_forms(tmp_path):
    path = tmp_path / "tenants.yml"
    path.write_text(DEMO_TENANTS_YAML)
    for seed in (path, str(path), DEMO_TENANTS_YAML, None, 5):
        assert list(Simulator(seed=seed).tenants) == ["demo"]
    assert Simulator(seed=5).knobs.rng_seed == 5
    for bad in (tmp_path / "missing.yml", {"tenants": {"x": {"siems": {}}}}, "tenants: [\n"):
        with pytest.raises(ConfigError):
            Simulator(seed=bad)
    with pytest.raises(ConfigError):
        Simulator(job_ms=-1)
    with pytest.raises(ConfigError):
        Simulator(no_such_knob=1)


def test_state_file_survives_a_restart(tmp_path):
    state = tmp_path / "sim.sqlite"
    with Simulator(seed=TENANTS, token=TOKEN, state=state) as sim:
        api = Api(sim, "acme-be1")
        api.ok("POST", "Repos", REPO)
        sim.configure(job_ms=60_000)
        pending = api.send("POST", "Repos", {**REPO, "name": "pending"})
        api.close()
    with Simulator(seed=TENANTS, token=TOKEN, state=state) as sim:
        api = Api(sim, "acme-be1")
        names = [r["name"] for r in api.items("Repos")]
        assert names.count("persisted") == 1 and "pending" not in names
        assert api.poll(pending)["response"] == {}  # the order survived the restart too
        sim.advance(60_000)
        assert api.poll(pending)["response"]["success"] is True
        api.ok("POST", "Repos", {**REPO, "name": "second"})
        sim.reset()
        assert "persisted" not in [r["name"] for r in api.items("Repos")]
        api.close()
    with Simulator(seed=TENANTS, token=TOKEN, state=state) as sim:
        assert "persisted" not in [r["name"] for r in Api(sim, "acme-be1").items("Repos")]


def test_memory_state_does_not_survive(tmp_path):
    with Simulator(seed=TENANTS, token=TOKEN) as sim:
        Api(sim, "acme-be1").ok("POST", "Repos", REPO)
    with Simulator(seed=TENANTS, token=TOKEN) as sim:
        assert "persisted" not in [r["name"] for r in Api(sim, "acme-be1").items("Repos")]


def _start_cli(*args: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "directorsync", "simulator", "--port", "0", *args]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()  # blocks until the server is listening
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)$", line.strip())
    assert match, line + proc.stderr.read()
    return proc, match.group(1)


def test_cli_prints_its_url_serves_and_stops_on_sigterm(tmp_path):
    state = tmp_path / "cli.sqlite"
    proc, url = _start_cli(
        "--token", TOKEN, "--job-ms", "0", "--plugins-with-uuid", "--state", str(state)
    )
    try:
        assert requests.get(f"{url}/_sim/health", timeout=5).json() == {"status": "ok"}
        config = requests.get(
            f"{url}/_sim/config", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
        ).json()
        assert (
            config["plugins_with_uuid"] is True
            and config["lenient_devicegroup_empty_name"] is False
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Director simulator stopped" in out and "Traceback" not in err
    assert state.exists()


def test_cli_stops_on_ctrl_c():
    proc, url = _start_cli("--token", TOKEN)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "Traceback" not in err


def test_cli_rejects_bad_options():
    cmd = [sys.executable, "-m", "directorsync", "simulator", "--fail-rate", "2"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "fail-rate" in result.stderr


def test_cli_on_a_busy_port_says_so_in_one_line(sim):
    port = sim.base_url.rsplit(":", 1)[1]
    cmd = [sys.executable, "-m", "directorsync", "simulator", "--port", port]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{port}: the port is already in use (another "
        "simulator?); stop it or pick another --port (0: any free port)"
    )


def test_many_keep_alive_clients_at_once(sim):
    errors: list[str] = []
    url = f"{sim.configapi('acme-be1')}/Repos"

    def client(n: int) -> None:
        with requests.Session() as s:
            s.headers.update(sim.headers)
            for _ in range(25):
                r = s.get(url, timeout=10)
                if r.status_code != 200 or r.json()[0]["name"] != "default":
                    errors.append(f"{n}: {r.status_code}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sim.counts()["by_pattern"]["GET /configapi/{pool}/{node}/Repos"] == 16 * 25


def test_concurrent_writes_and_polls_apply_each_write_once(sim):
    sim.configure(job_ms=5)
    names = [f"c{i}" for i in range(40)]

    def writer(chunk: list[str]) -> None:
        api = Api(sim, "acme-be1")
        for name in chunk:
            api.wait(api.send("POST", "Repos", {**REPO, "name": name}), polls=100_000)
            api.send("POST", "Repos", {**REPO, "name": name})  # duplicate: must fail, not duplicate
        api.close()

    threads = [threading.Thread(target=writer, args=(names[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sim.advance(1_000)
    listed = [r["name"] for r in Api(sim, "acme-be1").items("Repos")]
    assert sorted(n for n in listed if n.startswith("c")) == sorted(names)


def test_docs_list_every_route():
    docs = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    routes = Simulator().director.router.routes()
    missing = [f"{r.method} {r.pattern}" for r in routes if f"`{r.method} {r.pattern}`" not in docs]
    assert missing == []

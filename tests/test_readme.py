"""The README's quick tour pastes and runs as written, from a plain clone's point of view.

The tour's shell blocks are read from README.md and run in an empty folder: the workbook and
tenants file it writes, the simulator it starts (on the README's port), the curl lines and the
plan / apply / run commands. Nothing from ``../shared`` is used.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def tour_blocks() -> list[str]:
    tour = README[README.index("## A quick tour") : README.index("## The sample workbooks")]
    return re.findall(r"```bash\n(.*?)```", tour, flags=re.S)


def commands(block: str) -> list[str]:
    """One shell command per entry: continuation lines joined."""
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_tour_mentions_nothing_outside_the_clone():
    for block in tour_blocks():
        assert "../shared" not in block


@pytest.mark.slow
def test_tour_runs_as_written(tmp_path):
    if not port_free(8470):
        pytest.skip("port 8470 (the README's simulator port) is in use on this machine")
    make, simulator, curl, sync = tour_blocks()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def shell(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    made = shell(make)
    assert made.returncode == 0, made.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"demo_config.xlsx", "demo-tenants.yml"}

    (line,) = commands(simulator)
    server = subprocess.Popen(
        shlex.split(line), cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert "listening on http://127.0.0.1:8470" in server.stdout.readline()
        order = shell(curl)
        assert order.returncode == 0 and '"Repo_tour"' in order.stdout, order.stderr

        lines = commands(sync)
        assert lines[0].startswith("export ")
        codes = []
        for command in lines[1:]:
            done = shell(f"{lines[0]}; {command}")
            assert "Traceback" not in done.stderr, done.stderr
            codes.append((" ".join(command.split()[:3]), done.returncode))
        # the demo workbook's deliberately bad rows make each command exit 1 (rows in error)
        assert codes == [
            ("directorsync plan --tenant", 1),
            ("directorsync apply --plan", 1),
            ("directorsync apply --tenant", 1),
            ("directorsync run --tenants", 1),
        ]
        assert (tmp_path / "plan.json").is_file()
        reports = sorted((tmp_path / "reports" / "demo").glob("*/report.html"))
        assert len(reports) >= 3
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_tour_files_are_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    for name in ("demo_config.xlsx", "demo-tenants.yml", "plan.json"):
        assert f"/{name}" in ignored

"""The workbook folder's endpoints over real HTTP.

A FastAPI app with the router, uvicorn on a free port in a thread, httpx as the client.

The folder is ``tmp_path/books``; tenant core's workbook is the shared sample (read only, named by
``inputs.workbooks``), esait has none yet, sccoe's is not a workbook.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import uvicorn
from fastapi import FastAPI

from directorsync.config import Settings
from directorsync.ledger.database import open_configured
from directorsync.service.workbook_routes import router
from directorsync.synth.writers import write_xlsx
from directorsync.workbook_folder import record_workbook


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """A uvicorn server of an app, on a thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        ready = threading.Event()
        while not ready.wait(0.02):  # readiness: the server says it started
            if self.server.started:
                ready.set()
            elif not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def folder(tmp_path, samples) -> Path:
    books = tmp_path / "books"
    books.mkdir()
    (books / "sccoe_config.xlsx").write_text("not a workbook", encoding="utf-8")
    return books


@pytest.fixture
def api(tmp_path, samples, folder) -> Iterator[httpx.Client]:
    settings = Settings.model_validate(
        {
            "app": {"reports_dir": str(tmp_path / "reports")},
            "inputs": {
                "tenants_file": str(samples / "tenants.yml"),
                "xlsx_dir": str(folder),
                "workbooks": {"core": str(samples / "core_config.xlsx")},
                "max_upload_mb": 0.05,  # 50 KB: the light sample (33 KB) fits, twice it does not
            },
        }
    )
    app = FastAPI()
    app.state.settings = settings
    app.state.ledger = open_configured(settings)
    app.include_router(router)
    try:
        with Served(app) as client:
            yield client
    finally:
        app.state.ledger.close()


def test_the_folder_is_listed_with_findings_and_changes(api, samples):
    answer = api.get("/api/workbooks")
    assert answer.status_code == 200
    body = answer.json()
    by_tenant = {e["tenant"]: e for e in body["workbooks"]}
    assert sorted(by_tenant) == ["core", "esait", "sccoe"]
    core = by_tenant["core"]
    assert core["present"] and core["readable"] and core["valid"]
    assert core["sheets"]["Repo"] == 6 and core["resources"]["user_defined_lists"] == 300
    assert core["findings"] > 0 and core["findings"] == sum(core["counts"].values())
    assert core["changed_since_last_sync"] is None and core["last_sync"] is None
    assert not by_tenant["esait"]["present"]
    assert by_tenant["sccoe"]["present"] and not by_tenant["sccoe"]["readable"]


def test_initialise_refuses_to_overwrite_and_bad_names(api, folder):
    made = api.post("/api/tenants/esait/workbook/initialize")
    assert made.status_code == 201, made.text
    assert made.json()["file"] == "esait_config.xlsx" and "Repo" in made.json()["sheets"]
    again = api.post("/api/tenants/esait/workbook/initialize")
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    forced = api.post("/api/tenants/esait/workbook/initialize", params={"force": "true"})
    assert forced.status_code == 201 and forced.json()["replaced"] is True
    by_body = api.post("/api/tenants/esait/workbook/initialize", json={"force": True})
    assert by_body.status_code == 201
    unknown = api.post("/api/tenants/acme/workbook/initialize")
    assert unknown.status_code == 404
    assert unknown.json()["known_tenants"] == ["core", "esait", "sccoe"]
    for name in ("a..b", "-x", ".env", "x%20y"):
        refused = api.post(f"/api/tenants/{name}/workbook/initialize")
        assert refused.status_code == 422 and "not a tenant name" in refused.text, name
    for path in ("..", "..%2Fx", "%2E%2E"):  # never a route, or refused by name
        escaped = api.post(f"/api/tenants/{path}/workbook/initialize")
        assert escaped.status_code in (404, 422), path
    assert sorted(p.name for p in folder.parent.iterdir()) == ["books", "reports"]
    listed = {e["tenant"]: e for e in api.get("/api/workbooks").json()["workbooks"]}
    assert listed["esait"]["readable"] and listed["esait"]["findings"] == 0


def test_validate_a_tenants_workbook(api):
    answer = api.post("/api/workbooks/validate", json={"tenant": "core"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "folder" and body["workbook"] == "core_config.xlsx"
    assert body["valid"] and body["counts"]["skip"] > 0
    rows = [f for f in body["findings"] if f["row"] is not None]
    assert rows and all(f["sheet"] and f["message"] for f in rows)
    narrowed = api.post("/api/workbooks/validate", json={"tenant": "core", "resources": ["repos"]})
    assert list(narrowed.json()["resources"]) == ["repos"]
    cases = [
        ({"tenant": "../x"}, 422, "not a tenant name"),
        ({"tenant": "acme"}, 404, "unknown tenant"),
        ({"tenat": "core"}, 422, "tenant"),
        ({"tenant": "core", "resources": ["nope"]}, 422, "unknown resource"),
        ({"tenant": "esait"}, 404, "initialize"),
        ({"tenant": "sccoe"}, 422, "sccoe_config.xlsx"),
    ]
    for body, status, text in cases:
        answer = api.post("/api/workbooks/validate", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert text in str(answer.json()["detail"]), (body, answer.text)


def test_validate_an_upload(api, samples, tmp_path):
    sample = samples / "core_config_light.xlsx"
    with sample.open("rb") as handle:
        answer = api.post(
            "/api/workbooks/validate",
            files={"file": ("../../core config.xlsx", handle)},
            data={"tenant": "core", "resources": "repos, devices"},
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "upload" and body["workbook"] == "core_config.xlsx"
    assert body["size"] == sample.stat().st_size and body["tenant"] == "core"
    assert list(body["resources"]) == ["repos", "devices"]
    assert body["resources"]["devices"]["rows"] == 12
    not_a_book = api.post(
        "/api/workbooks/validate", files={"file": ("book.xlsx", b"plain text, not a workbook")}
    )
    assert not_a_book.status_code == 422 and "not a readable workbook" in not_a_book.text
    wrong_type = api.post("/api/workbooks/validate", files={"file": ("notes.txt", b"hello")})
    assert wrong_type.status_code == 422 and "is not a workbook" in wrong_type.text
    no_file = api.post("/api/workbooks/validate", files={"other": ("a.xlsx", b"x")})
    assert no_file.status_code == 422 and "'file'" in no_file.text
    unknown = api.post(
        "/api/workbooks/validate",
        files={"file": ("a.xlsx", sample.read_bytes())},
        data={"tenant": "acme"},
    )
    assert unknown.status_code == 404
    big = sample.read_bytes() * 2
    too_big = api.post("/api/workbooks/validate", files={"file": ("big.xlsx", big)})
    assert too_big.status_code == 413 and "max_upload_mb" in too_big.text

    def chunks():  # no Content-Length: the size is counted while reading
        boundary = b"--x0x\r\n"
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="b.xlsx"\r\n\r\n'
        for _ in range(20):
            yield b"0" * 8192
        yield b"\r\n--x0x--\r\n"

    streamed = api.post(
        "/api/workbooks/validate",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=x0x"},
    )
    assert streamed.status_code == 413
    text = api.post("/api/workbooks/validate", content=b"x", headers={"content-type": "text/csv"})
    assert text.status_code == 415


def test_a_recorded_sync_shows_whether_the_workbook_changed(api, folder, tmp_path):
    assert api.post("/api/tenants/esait/workbook/initialize").status_code == 201
    settings = Settings.model_validate({"app": {"reports_dir": str(tmp_path / "reports")}})
    ledger = open_configured(settings)
    ledger.create_run("sync-1", tenant="esait", kind="apply", trigger="api", state="completed")
    record_workbook(ledger, "sync-1", "esait", folder / "esait_config.xlsx")
    ledger.close()
    esait = {e["tenant"]: e for e in api.get("/api/workbooks").json()["workbooks"]}["esait"]
    assert esait["changed_since_last_sync"] is False
    assert esait["last_sync"]["id"] == "sync-1" and esait["last_sync"]["basis"] == "sha256"
    repo = {"cleaned_repo_name": ["r1"], "storage_paths": ["/a"], "retention_days": [30]}
    write_xlsx({"Repo": pd.DataFrame(repo)}, folder / "esait_config.xlsx")
    esait = {e["tenant"]: e for e in api.get("/api/workbooks").json()["workbooks"]}["esait"]
    assert esait["changed_since_last_sync"] is True and esait["resources"]["repos"] == 1

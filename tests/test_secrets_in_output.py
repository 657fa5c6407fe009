"""No console or log line shows a secret: URLs with user info or ``?api_key=``, numeric tokens.

Issue 18, item 7.
"""

import socket

from conftest import TOKEN, cli_env
from test_cli_errors import run_plan

from directorsync.redact import MASK, redact_text

URL_SECRET = "u5erinf0-s3cret-9a7e"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_url_user_info_and_api_key_are_masked_in_text():
    text = f"cannot reach Director at http://admin:{URL_SECRET}@10.0.0.1:8443/x?api_key=abc123def"
    masked = redact_text(text)
    assert URL_SECRET not in masked and "abc123def" not in masked
    assert f"http://admin:{MASK}@10.0.0.1:8443" in masked
    assert redact_text(f"https://{URL_SECRET}@host/") == f"https://{MASK}@host/"


def test_console_error_with_token_in_url_is_masked(tmp_path, samples, tenants_file):
    url = f"http://admin:{URL_SECRET}@127.0.0.1:{closed_port()}"
    env = {"DSYNC_DIRECTOR__BASE_URL": url, "DSYNC_DIRECTOR__TOKEN": TOKEN}
    proc = run_plan(
        tenants_file, samples / "core_config.xlsx", env=cli_env(extra=env), cwd=tmp_path
    )
    assert proc.returncode == 4, proc.stderr
    assert "cannot reach Director" in proc.stderr
    assert URL_SECRET not in proc.stderr + proc.stdout
    assert TOKEN not in proc.stderr + proc.stdout
    for log in tmp_path.rglob("*.log"):
        assert URL_SECRET not in log.read_text()


def test_console_error_with_api_key_in_url_is_masked(tmp_path, samples, tenants_file):
    url = f"http://127.0.0.1:{closed_port()}/?api_key={URL_SECRET}"
    env = {"DSYNC_DIRECTOR__BASE_URL": url, "DSYNC_DIRECTOR__TOKEN": TOKEN}
    proc = run_plan(
        tenants_file, samples / "core_config.xlsx", env=cli_env(extra=env), cwd=tmp_path
    )
    assert proc.returncode == 4, proc.stderr
    assert URL_SECRET not in proc.stderr + proc.stdout


def test_numeric_token_in_yaml_is_not_echoed(tmp_path, samples, tenants_file):
    config = tmp_path / "directorsync.yml"
    config.write_text(
        "director:\n  base_url: http://127.0.0.1:1\n  token: 918273645546372819\n"
        "app:\n  concurrency: many\n"
    )
    proc = run_plan(
        tenants_file, samples / "core_config.xlsx", "--config", str(config), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert "app.concurrency" in proc.stderr
    assert "918273645546372819" not in proc.stderr + proc.stdout


def test_invalid_token_value_is_not_echoed(tmp_path, samples, tenants_file):
    config = tmp_path / "directorsync.yml"
    config.write_text("director:\n  token: [918273645546372819]\n")
    proc = run_plan(
        tenants_file, samples / "core_config.xlsx", "--config", str(config), cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stderr
    assert "director.token" in proc.stderr and "value not shown" in proc.stderr
    assert "918273645546372819" not in proc.stderr + proc.stdout

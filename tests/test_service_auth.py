"""The service's callers: tokens from the config or the environment, hashed or not."""

from __future__ import annotations

import hashlib

import pytest
from conftest import cli_env, run_cli

from directorsync.config import load_settings
from directorsync.errors import ConfigError
from directorsync.service.auth import Tokens

SECRET = "a-caller-token-of-32-characters!"


def test_tokens_from_the_environment_name_the_callers():
    settings = load_settings(
        env={"DSYNC_SERVICE__TOKENS": f"portal={SECRET}, ci=ci-token-0123456789"}
    )
    tokens = Tokens(dict(settings.service.tokens))
    assert tokens.who(SECRET) == "portal" and tokens.who("ci-token-0123456789") == "ci"
    assert tokens.who("nope") is None and tokens.who(None) is None and tokens.who("") is None


def test_a_config_may_hold_the_hash_instead_of_the_token(tmp_path):
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    config = tmp_path / "directorsync.yml"
    config.write_text(f"service:\n  tokens:\n    soar: sha256:{digest}\n")
    tokens = Tokens(dict(load_settings(config, env={}).service.tokens))
    assert tokens.who(SECRET) == "soar" and tokens.who(f"sha256:{digest}") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("portal", "expected name=token"),
        ("portal=short", "at least 16 characters"),
        ("bad name=" + SECRET, "cannot name a caller"),
        ("", "needs at least one caller token"),
    ],
)
def test_bad_tokens_are_refused_without_showing_them(value, expected):
    with pytest.raises(ConfigError) as err:
        Tokens(dict(load_settings(env={"DSYNC_SERVICE__TOKENS": value}).service.tokens))
    assert expected in err.value.message
    assert SECRET not in err.value.message


def test_serve_without_tokens_says_how_to_set_them(tmp_path):
    env = {**cli_env(), "HOME": str(tmp_path)}
    done = run_cli("serve", "--port", "0", env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: the service needs at least one caller token")
    assert "Traceback" not in done.stderr

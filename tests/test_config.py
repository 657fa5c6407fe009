"""Settings precedence, environment, interpolation, strict mode."""

import pytest

from directorsync.config import load_settings
from directorsync.errors import ConfigError


def test_precedence_cli_over_env_over_yaml(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("director:\n  base_url: http://yaml\n  retries: 5\napp:\n  concurrency: 3\n")
    env = {"DSYNC_DIRECTOR__BASE_URL": "http://env", "DSYNC_APP__CONCURRENCY": "7"}
    s = load_settings(cfg, env=env, overrides={"director.base_url": "http://cli"})
    assert s.director.base_url == "http://cli"
    assert s.app.concurrency == 7  # env beats YAML, coerced to int
    assert s.director.retries == 5  # YAML beats default


def test_legacy_environment_names(tmp_path):
    env = {"LP_DIRECTOR_URL": "https://d", "LP_DIRECTOR_API_TOKEN": "secret", "LP_TENANTS_FILE": "t.yml"}
    s = load_settings(env=env)
    assert s.director.base_url == "https://d"
    assert s.token == "secret"
    assert "secret" not in repr(s)
    assert str(s.inputs.tenants_file) == "t.yml"


def test_interpolation_and_bool_coercion(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("director:\n  token: ${MY_TOKEN}\n  verify_tls: 'false'\n")
    s = load_settings(cfg, env={"MY_TOKEN": "abc"})
    assert s.token == "abc" and s.director.verify_tls is False


def test_interpolation_of_missing_variable_names_it(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("director:\n  token: ${NOPE}\n")
    with pytest.raises(ConfigError, match="NOPE"):
        load_settings(cfg, env={})


def test_unknown_key_warns_or_fails_in_strict(tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("director:\n  base_ulr: x\n")
    with pytest.warns(UserWarning, match="director.base_ulr"):
        load_settings(cfg, env={})
    with pytest.raises(ConfigError, match="director.base_ulr"):
        load_settings(cfg, env={}, strict=True)


def test_run_id_always_set_and_invalid_value_is_clear(tmp_path):
    assert load_settings(env={}).run_id
    cfg = tmp_path / "c.yml"
    cfg.write_text("app:\n  concurrency: lots\n")
    with pytest.raises(ConfigError, match="app.concurrency"):
        load_settings(cfg, env={})


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "none.yml", env={})

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
    env = {
        "LP_DIRECTOR_URL": "https://d",
        "LP_DIRECTOR_API_TOKEN": "secret",
        "LP_TENANTS_FILE": "t.yml",
    }
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


@pytest.mark.parametrize(
    ("source", "value", "needle"),
    [
        ("env", "127.0.0.1:8472", "must start with http:// or https://"),
        ("legacy", "director.example:443", "must start with http:// or https://"),
        ("yaml", "http://127.0.0.1:8472 ", "has spaces around it: remove them"),
        ("cli", " https://director", "has spaces around it: remove them"),
    ],
)
def test_base_url_needs_a_scheme_and_no_spaces(tmp_path, source, value, needle):
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"director:\n  base_url: '{value}'\n" if source == "yaml" else "{}\n")
    env = {"env": {"DSYNC_DIRECTOR__BASE_URL": value}, "legacy": {"LP_DIRECTOR_URL": value}}
    overrides = {"director.base_url": value} if source == "cli" else None
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, env=env.get(source, {}), overrides=overrides)
    message = str(info.value)
    assert "director.base_url" in message and repr(value) in message and needle in message
    assert "DSYNC_DIRECTOR__BASE_URL" in message and info.value.exit_code == 2


@pytest.mark.parametrize("value", ["", "http://127.0.0.1:8472", "HTTPS://director.example/"])
def test_good_base_urls_are_accepted(value):
    assert load_settings(env={"DSYNC_DIRECTOR__BASE_URL": value}).director.base_url == value

"""Typed settings: CLI > environment > YAML > defaults.

Environment variables use the prefix ``DSYNC_`` and ``__`` for nesting
(``DSYNC_DIRECTOR__BASE_URL`` → ``director.base_url``). The current tool's names are understood
too: ``LP_DIRECTOR_URL``, ``LP_DIRECTOR_API_TOKEN``, ``LP_TENANTS_FILE``.

The YAML file is ``--config PATH``, else the first of ``./directorsync.yml``,
``~/.config/directorsync/config.yml``, ``/etc/directorsync/config.yml``. String values may use
``${ENV_VAR}`` interpolation. Unknown keys are a warning, or an error in strict mode.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import secrets
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from directorsync.errors import ConfigError
from directorsync.redact import is_secret_key

ENV_PREFIX = "DSYNC_"
LEGACY_ENV = {
    "LP_DIRECTOR_URL": ("director", "base_url"),
    "LP_DIRECTOR_API_TOKEN": ("director", "token"),
    "LP_TENANTS_FILE": ("inputs", "tenants_file"),
}
SEARCH_PATHS = (
    Path("directorsync.yml"),
    Path("~/.config/directorsync/config.yml"),
    Path("/etc/directorsync/config.yml"),
)
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class AppSettings(_Section):
    """General behaviour."""

    concurrency: int = Field(8, ge=1, le=256, description="in-flight orders per node")
    reports_dir: Path = Path("reports")
    strict: bool = False
    run_id: str = ""
    force_update: list[str] = Field(
        default_factory=list,
        description="RESOURCE:KEY objects whose fields Director never returns are sent anyway",
    )


class DirectorSettings(_Section):
    """How to reach Director."""

    base_url: str = ""
    token: SecretStr = SecretStr("")
    verify_tls: bool = True
    ca_bundle: str | None = None
    timeout_sec: float = Field(60.0, gt=0)
    connect_timeout_sec: float = Field(5.0, gt=0)
    retries: int = Field(3, ge=0, le=20)
    list_retries: int = Field(
        6, ge=0, le=30, description="retries of a listing that fails in a way that can pass"
    )
    throttle_wait_sec: float = Field(
        300.0, ge=0, description="longest wait, in all, on Retry-After answers of one request"
    )
    order_timeout_sec: float = Field(180.0, gt=0)

    @field_validator("token", mode="before")
    @classmethod
    def _token_as_text(cls, value: Any) -> Any:
        """A token YAML reads as a number (``token: 918273645``) is that text."""
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        """An empty URL (not configured) or ``http(s)://…`` without surrounding spaces."""
        fix = (
            "fix DSYNC_DIRECTOR__BASE_URL / LP_DIRECTOR_URL, --url or director.base_url in the "
            "config file"
        )
        if value != value.strip():
            raise ValueError(f"{value!r} has spaces around it: remove them ({fix})")
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError(
                f"{value!r} must start with http:// or https:// (e.g. 'https://{value}' or "
                f"'http://{value}'): {fix}"
            )
        return value


class ProfilesSettings(_Section):
    """Where profiles are found (the built-in ``profiles/`` folder is always last)."""

    search_paths: list[Path] = Field(default_factory=list)


class LoggingSettings(_Section):
    """Logging levels and files."""

    level: str = "INFO"
    app_log: Path | None = Path("logs/directorsync.log")


class InputsSettings(_Section):
    """Where inputs are found."""

    tenants_file: Path | None = None
    xlsx_dir: Path | None = None
    workbooks: dict[str, Path] = Field(default_factory=dict)
    max_upload_mb: float = Field(
        50.0, gt=0, description="largest workbook the service accepts for validation"
    )
    public_ip_fallback: bool = Field(
        False,
        description="alert rules: address a storage node without ip_private by its public ip",
    )


class ContextSettings(_Section):
    """The tenant being worked on."""

    tenant: str | None = None
    pool_uuid: str | None = None


class PruneSettings(_Section):
    """Deletes (``--prune``, docs/lifecycle.md): what is never deleted and how long to wait."""

    protect: list[str] = Field(
        default_factory=list, description="name patterns (fnmatch: * ?) never deleted"
    )
    delay: str = Field(
        "0", description="quarantine before an orphan is deleted: seconds, or 30m, 12h, 7d"
    )

    @field_validator("delay", mode="before")
    @classmethod
    def _delay_text(cls, value: Any) -> str:
        text = str(value).strip()
        if not re.fullmatch(r"\d+(\.\d+)?\s*[smhd]?", text):
            raise ValueError(f"{text!r} is not a delay: write seconds, or 30m, 12h, 7d")
        return text

    @property
    def delay_seconds(self) -> float:
        """``delay`` in seconds."""
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(self.delay[-1], 1)
        return float(self.delay.rstrip("smhd").strip()) * unit


class LedgerSettings(_Section):
    """The run ledger: an SQLite file (default ``<reports_dir>/ledger.sqlite``) or a database URL."""

    url: str = Field(
        "", description="sqlite file path, sqlite:///… or postgresql://… (empty: the default file)"
    )
    heartbeat_sec: float = Field(0.5, gt=0, le=60)
    stale_after_sec: float = Field(15.0, gt=0)
    lease_ttl_sec: float = Field(30.0, gt=0)


class ScheduleSettings(BaseModel):
    """One schedule: the service triggers a run of ``kind`` for ``tenants`` at ``cron`` times.

    Keys are checked strictly (a misspelt ``tenant:`` must not widen a schedule to every
    tenant): ``tenants`` and ``kind`` have no default.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    cron: str = Field(description="five fields (minute hour day month weekday), croniter syntax")
    tenants: list[str] | Literal["all"]
    kind: Literal["drift", "plan", "apply"]
    timezone: str = Field("UTC", description="the zone the cron times are in")

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is not a cron expression of five fields (minute hour day month "
                "weekday), e.g. '0 2 * * *' for 02:00 every day"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone (e.g. UTC, Europe/Copenhagen)"
            ) from None
        return value


class ServiceSettings(_Section):
    """``directorsync serve``: who may call it and how many syncs it runs at once.

    ``tokens`` maps a caller's name (the run's user in the ledger) to its bearer token, or to
    ``sha256:<hex digest>`` of it; ``DSYNC_SERVICE__TOKENS`` takes ``name=token,name2=token2``.
    """

    tokens: dict[str, SecretStr] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = Field(8480, ge=0, le=65535)
    workers: int = Field(2, ge=1, le=64, description="syncs running at once")
    shutdown_grace_sec: float = Field(20.0, ge=0)
    dask_scheduler: str = Field(
        "",
        description="a Dask scheduler's address: syncs run on its workers (empty: local "
        "processes); the workers must reach the same ledger",
    )

    @field_validator("tokens", mode="before")
    @classmethod
    def _tokens_from_text(cls, value: Any) -> Any:
        """``name=token,name2=token2`` (the environment's form) → a mapping."""
        if not isinstance(value, str):
            return value
        tokens: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in value.split(","))):
            name, sep, token = part.partition("=")
            if not sep or not name.strip() or not token.strip():
                raise ValueError(
                    "expected name=token[,name2=token2] (the token itself is not shown)"
                )
            tokens[name.strip()] = token.strip()
        return tokens


def _builtin_objects() -> dict[str, list[str]]:
    return {
        "repos": ["default", "_logpoint", "_LogPointAlerts"],
        "routing_policies": ["default", "_logpoint", "_LogPointAlerts"],
    }


class DriftSettings(_Section):
    """``directorsync drift``: objects Director ships, and how a fleet's tenants fan out."""

    builtin: dict[str, list[str]] = Field(
        default_factory=_builtin_objects,
        description="per resource, names (fnmatch patterns) of objects Director ships: never unmanaged",
    )
    executor: str = Field("processes", pattern="^(processes|dask)$")
    scheduler: str = Field("", description="Dask scheduler address (executor dask; empty: local)")
    parallel: int = Field(2, ge=1, le=64, description="tenants checked at the same time")


class Settings(_Section):
    """All settings, one typed object."""

    app: AppSettings = Field(default_factory=AppSettings)
    director: DirectorSettings = Field(default_factory=DirectorSettings)
    profiles: ProfilesSettings = Field(default_factory=ProfilesSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    inputs: InputsSettings = Field(default_factory=InputsSettings)
    context: ContextSettings = Field(default_factory=ContextSettings)
    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    schedules: list[ScheduleSettings] = Field(default_factory=list)

    @field_validator("schedules")
    @classmethod
    def _unique_schedules(cls, value: list[ScheduleSettings]) -> list[ScheduleSettings]:
        names = [s.name for s in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"schedule names must differ: {', '.join(twice)} used twice")
        return value

    prune: PruneSettings = Field(default_factory=PruneSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)

    @property
    def run_id(self) -> str:
        """The run id (always set)."""
        return self.app.run_id

    @property
    def token(self) -> str:
        """The Director token in clear (never log it)."""
        return self.director.token.get_secret_value()


def new_run_id() -> str:
    """A unique run id that sorts by the second it starts in: ``20261121T232359Z-1a2b3c``.

    Two runs started in one second sort by their random suffix: order runs by their recorded
    times (the ledger does), not by id.
    """
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{now}-{secrets.token_hex(3)}"


def load_settings(
    config_file: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    strict: bool | None = None,
) -> Settings:
    """Build the settings from every source, highest precedence last.

    Args:
        config_file: explicit YAML file (``--config``); else the search paths are tried.
        overrides: CLI values as dotted keys (``{"director.base_url": "http://…"}``); ``None``
            values are ignored.
        env: the environment (default ``os.environ``).
        strict: reject unknown keys (default: the ``app.strict`` setting, else warn).

    Raises:
        ConfigError: unreadable YAML, unknown keys in strict mode, or invalid values.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = _find_config_file(config_file)
    from_file = _read_yaml(path, env) if path is not None else {}
    from_env = _from_env(env)
    _deep_update(data, copy.deepcopy(from_file))  # data is updated in place below
    _deep_update(data, copy.deepcopy(from_env))
    given: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(given, dotted, value)
    _deep_update(data, copy.deepcopy(given))
    strict = bool(data.get("app", {}).get("strict", False)) if strict is None else strict
    _check_unknown_keys(from_file, Settings, "", strict, source=str(path))
    _check_unknown_keys(from_env, Settings, "", strict, source="the environment: {variable}")
    _check_unknown_keys(given, Settings, "", strict, source="the options given")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_message(exc, path), file=str(path) if path else None) from exc
    if not settings.app.run_id:
        settings.app.run_id = new_run_id()
    return settings


def _find_config_file(explicit: str | Path | None) -> Path | None:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist", file=str(path))
        return path
    for candidate in SEARCH_PATHS:
        candidate = candidate.expanduser()
        if candidate.is_file():
            return candidate
    return None


def _read_yaml(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}", file=str(path)) from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top", file=str(path))
    return _interpolate(loaded, env, path)


def _interpolate(value: Any, env: Mapping[str, str], path: Path) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, path) for v in value]
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(
                    f"{path}: ${{{name}}} is used but the environment variable {name} is not set",
                    file=str(path),
                )
            return env[name]

        return _INTERPOLATION.sub(sub, value)
    return value


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, (section, key) in LEGACY_ENV.items():
        if env.get(name):
            data.setdefault(section, {})[key] = env[name]
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            parts = name[len(ENV_PREFIX) :].lower().split("__")
            _set_dotted(data, ".".join(parts), value)
    return data


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _deep_update(base: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value


def _check_unknown_keys(
    data: Mapping[str, Any], model: type[BaseModel], prefix: str, strict: bool, source: str
) -> None:
    for key, value in data.items():
        field = model.model_fields.get(key)
        dotted = f"{prefix}{key}"
        if field is None:
            variable = ENV_PREFIX + dotted.upper().replace(".", "__")
            message = f"unknown setting '{dotted}' (from {source.format(variable=variable)})"
            if strict:
                raise ConfigError(message + "; remove it or fix its spelling", key=dotted)
            warnings.warn(message, UserWarning, stacklevel=4)
            continue
        annotation = field.annotation
        if isinstance(value, Mapping) and isinstance(annotation, type):
            if issubclass(annotation, BaseModel):
                _check_unknown_keys(value, annotation, f"{dotted}.", strict, source)


def _validation_message(exc: ValidationError, path: Path | None) -> str:
    where = f" in {path}" if path else ""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "value_error":  # our validators: the message names the value
            parts.append(f"{loc}: {err['ctx']['error']}")
        elif any(is_secret_key(str(p)) for p in err["loc"]):  # never echo a token
            parts.append(f"{loc}: {err['msg']} (value not shown: it is a secret)")
        else:
            parts.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return f"invalid settings{where}: " + "; ".join(parts)

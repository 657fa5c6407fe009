"""Request validation: declared field specs, and the two ways a request can be refused.

Director refuses a request in one of two ways, and the simulator keeps them apart:

- :class:`ApiError` — synchronous: the HTTP answer itself is an error (malformed body, missing
  required field, wrong type or enum value → 400; unknown pool/node/resource/id → 404).
- :class:`OrderFailed` — asynchronous: the request was accepted (HTTP 200 + order) and the
  *order* ends with ``success: false`` (duplicate natural key, unknown reference, object in use).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class ApiError(Exception):
    """A synchronous refusal: HTTP ``status`` with ``{"status": "Error", "message": ...}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class OrderFailed(Exception):  # noqa: N818 - it is an outcome, not a programming error
    """An accepted request whose order ends failed; the message names the field and value."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def bad(message: str) -> ApiError:
    """A 400 error with ``message``."""
    return ApiError(400, message)


@dataclass(frozen=True)
class Field:
    """One field of a request body.

    Attributes:
        name: key inside ``data``.
        type: ``str``, ``int``, ``bool``, ``list``, ``strlist``, ``dict``, ``csv`` (a
            comma-separated string; a JSON array is refused) or ``on`` (the string ``"on"``).
        required: missing → 400.
        nonempty: empty string / list → 400.
        choices: allowed values (strings).
        minimum: smallest allowed int.
        maximum: largest allowed int.
    """

    name: str
    type: str = "str"
    required: bool = False
    nonempty: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def check(self, value: Any, where: str) -> Any:
        """``value`` normalised (booleans given as strings become bools); raises 400."""
        value = _CHECKS[self.type](value, where)
        if self.nonempty and value in ("", []):
            raise bad(f"{where}: must not be empty")
        if self.choices and value not in self.choices:
            raise bad(f"{where}: {value!r} is not one of {', '.join(self.choices)}")
        if self.minimum is not None and value < self.minimum:
            raise bad(f"{where}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise bad(f"{where}: {value} is above the maximum {self.maximum}")
        return value


class Schema:
    """An ordered set of :class:`Field`; unknown keys are ignored (contract §6.4)."""

    def __init__(self, *fields: Field) -> None:
        self.fields = fields

    def check(self, data: Any, prefix: str = "") -> dict[str, Any]:
        """The known fields present in ``data``, checked and normalised.

        Raises:
            ApiError: 400 naming the first offending field.
        """
        if not isinstance(data, dict):
            raise bad(f"{prefix.rstrip('.') or 'data'}: expected an object, got {_kind(data)}")
        out: dict[str, Any] = {}
        for f in self.fields:
            where = prefix + f.name
            if f.name not in data or data[f.name] is None:
                if f.required:
                    raise bad(f"{where}: required field is missing")
                continue
            out[f.name] = f.check(data[f.name], where)
        return out

    def check_items(self, items: Iterable[Any], prefix: str) -> list[dict[str, Any]]:
        """:meth:`check` applied to every item of a list field (``prefix[i].field``)."""
        return [self.check(item, f"{prefix}[{i}].") for i, item in enumerate(items)]


def _kind(value: Any) -> str:
    return "a JSON array" if isinstance(value, list) else f"{value!r} ({type(value).__name__})"


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise bad(f"{where}: expected a string, got {_kind(value)}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(f"{where}: expected an integer, got {_kind(value)}")
    return value


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad(f"{where}: expected true or false, got {_kind(value)}")


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise bad(f"{where}: expected a list, got {_kind(value)}")
    return value


def _strlist(value: Any, where: str) -> list[str]:
    for i, item in enumerate(_list(value, where)):
        _str(item, f"{where}[{i}]")
    return list(value)


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(f"{where}: expected an object, got {_kind(value)}")
    return value


def _csv(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise bad(f"{where}: expected a comma-separated string, got {_kind(value)}")
    return value


def _on(value: Any, where: str) -> str:
    if value != "on":
        raise bad(f'{where}: the only accepted value is "on", got {_kind(value)}')
    return value


_CHECKS = {
    "str": _str,
    "int": _int,
    "bool": _bool,
    "list": _list,
    "strlist": _strlist,
    "dict": _dict,
    "csv": _csv,
    "on": _on,
}


def split_csv(value: str) -> list[str]:
    """``"a, b,,c"`` → ``["a", "b", "c"]``."""
    return [part.strip() for part in value.split(",") if part.strip()]

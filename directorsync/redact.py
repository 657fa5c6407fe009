"""Mask secrets in text, nested objects and log records.

Everything DirectorSync writes (console, log files, reports, exception messages) passes through
here. Three kinds of secret are masked as ``***REDACTED***``:

* values of secret-like keys (``token``, ``authorization``, ``password``, ``passwd``, ``secret``,
  ``api_key``/``apikey``/``x-api-key``, ``client_secret``, ``CSRFToken`` …, case-insensitive,
  also as part of a longer name such as ``LP_DIRECTOR_API_TOKEN``), in ``key: value``,
  ``key=value`` and JSON ``"key": "value"`` text and as dict keys;
* credentials by shape: ``Bearer <token>``, JWT-shaped strings (``eyJ….….…``) and the user
  info of a URL (``https://user:<password>@host``, ``https://<token>@host``);
* any value registered with :func:`register_secret` (the configured Director token) or passed
  as ``secrets=``, wherever it appears.

Registered values shorter than :data:`MIN_SECRET_LENGTH` characters are ignored: masking every
``t`` in a log line would hide the log, not the secret.
"""

from __future__ import annotations

import enum
import functools
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from typing_extensions import override

__all__ = [
    "DATA_MASKED",
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "RedactingFilter",
    "clear_secrets",
    "is_secret_key",
    "redact_data",
    "redact_obj",
    "redact_text",
    "register_secret",
]

MASK = "***REDACTED***"
#: a log record with this attribute set holds data already masked by :func:`redact_data`: the
#: log filter then masks only the configured secret values (``extra={DATA_MASKED: True}``)
DATA_MASKED = "directorsync_data_masked"
MIN_SECRET_LENGTH = 6
MEMO_LIMIT = 100_000  # distinct strings a Redactor remembers (bounded memory)

_SECRET_WORDS = ("token", "authorization", "password", "passwd", "secret", "apikey")
_KEY = r"[A-Za-z0-9_.-]*(?:token|authorization|password|passwd|secret|api[_-]?key)[A-Za-z0-9_.-]*"
_VALUE = (
    r"(?:(?:bearer|basic|token)[ \t]+[^\s\"',;&})\]]+"  # scheme + credential
    r'|"(?:[^"\\]|\\.)*"'  # JSON string
    r"|'[^']*'"  # quoted string
    r"|[^\s\"',;&})\]]+)"  # bare word
)
_KEY_VALUE_RE = re.compile(rf"(?i)(\b{_KEY}[\"']?[ \t]*[:=][ \t]*)({_VALUE})")
_BEARER_RE = re.compile(r"(?i)\b(bearer)[ \t]+(?!\*\*\*)[A-Za-z0-9\-._~+/]+=*")
# user info of a URL: ``scheme://user:password@`` (the password) or ``scheme://credential@``
_URL_USERINFO_RE = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)(?:([^\s/@:?#]*):)?([^\s/@?#]+)@")
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?")
# the only characters outside ASCII that lowercase to, or match case-blind, an ASCII letter
_ASCII_LOOKALIKE_BYTES = tuple(c.encode() for c in "\u0130\u0131\u017f\u212a")
_SECRET_WORD_BYTES = tuple(word.encode() for word in _SECRET_WORDS)
_NOT_ALNUM = bytes(b for b in range(256) if not (48 <= b <= 57 or 97 <= b <= 122))
_TRIGGER_RE = re.compile(r"(?i)bearer|eyj|token|authorization|password|passwd|secret|key|://")

_registry: set[str] = set()
_registry_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` everywhere from now on (process-wide).

    Args:
        value: a secret such as the Director API token. ``None``, empty and short values
            (under :data:`MIN_SECRET_LENGTH` characters) are ignored.
    """
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _registry_lock:
            _registry.add(value)


def clear_secrets() -> None:
    """Forget every registered secret (for tests)."""
    with _registry_lock:
        _registry.clear()


def is_secret_key(key: object) -> bool:
    """Tell whether a mapping key names a secret (``api_key``, ``X-Api-Key``, ``CSRFToken`` …)."""
    return isinstance(key, str) and _is_secret_name(key)


def _is_secret_entry(key: object) -> bool:
    """A mapping key that names a secret, also when it is not text but is written as text.

    An enum member is written as its value, anything else as ``str(key)``.
    """
    if isinstance(key, str):
        return _is_secret_name(key)
    if key is None or isinstance(key, int | float):
        return False
    return _is_secret_name(_as_written(key))


def _as_written(obj: object) -> str:
    """The text JSON output shows for a value that is not text.

    An enum member's value, or ``str(obj)``.
    """
    shown = obj.value if isinstance(obj, enum.Enum) else obj
    return shown if isinstance(shown, str) else str(shown)


@functools.lru_cache(maxsize=4096)
def _is_secret_name(key: str) -> bool:
    squashed = re.sub(r"[^a-z0-9]", "", key.lower())
    return any(word in squashed for word in _SECRET_WORDS)


def _mask_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if value.startswith('"'):
        return f'{match.group(1)}"{MASK}"'
    if value.startswith("'"):
        return f"{match.group(1)}'{MASK}'"
    return match.group(1) + MASK


def _mask_userinfo(match: re.Match[str]) -> str:
    """``scheme://user:***@`` or ``scheme://***@`` (a lone user info is a credential)."""
    if match.group(3) == MASK:
        return match.group(0)
    user = f"{match.group(2)}:" if match.group(2) is not None else ""
    return f"{match.group(1)}{user}{MASK}@"


def _literal_secrets(secrets: Iterable[str]) -> list[str]:
    with _registry_lock:
        values = set(_registry)
    values.update(s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH)
    return sorted(values, key=len, reverse=True)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with every secret masked.

    Args:
        text: any text (log message, response body, exception message).
        secrets: extra literal values to mask, on top of the registered ones.

    Returns:
        The masked text (the same object when nothing needed masking).
    """
    if not text:
        return text
    return _mask_text(text, _literal_secrets(secrets))


def _mask_literals(text: str, literals: list[str]) -> str:
    for value in literals:
        if value in text:
            text = text.replace(value, MASK)
    return text


def _mask_text(text: str, literals: list[str]) -> str:
    text = _mask_literals(text, literals)
    if _TRIGGER_RE.search(text) is None:
        return text
    lowered = text.lower()
    if "bearer" in lowered:
        text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    if "eyj" in lowered:
        text = _JWT_RE.sub(MASK, text)
    if "://" in text:
        text = _URL_USERINFO_RE.sub(_mask_userinfo, text)
    return _KEY_VALUE_RE.sub(_mask_value, text)


def redact_obj(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """Return a masked copy of a nested structure (dicts, lists, tuples, sets, strings).

    Values under secret-like keys are replaced whole (unless ``None`` or empty); every string is
    passed through :func:`redact_text`. Other values are returned unchanged.

    Args:
        obj: the structure to copy (a request body, a report row, a settings dict).
        secrets: extra literal values to mask.

    Returns:
        A new structure; ``obj`` is not modified.
    """
    return Redactor(_literal_secrets(secrets)).copy(obj)


def redact_data(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """Return a copy of data as sent to Director with only its secrets masked.

    Values under secret-like keys and the registered (or given) secret values are masked;
    any other text is kept as written, even when it reads ``password: …`` (a detection list of
    command lines): the audit files must show what Director received.
    """
    return Redactor(_literal_secrets(secrets)).copy_data(obj)


class Redactor:
    """One masking pass over many objects (:func:`redact_obj` is one pass over one).

    The secrets are looked up once, each distinct string is masked once: a large report repeats
    the same node ids, field names and reasons many times. Use it for one output, then drop it.
    """

    def __init__(self, literals: Iterable[str] | None = None) -> None:
        self.literals = _literal_secrets(()) if literals is None else list(literals)
        self.texts: dict[str, str] = {}
        # surrogatepass: a secret from a mis-encoded environment still masks nothing wrongly
        self._literal_bytes = [v.encode("utf-8", "surrogatepass") for v in self.literals]

    def surely_clean(self, text: bytes) -> bool:
        """Tell, from its JSON text alone, that an object has nothing to mask.

        ``True`` promises that :meth:`copy` would return an equal object: no registered secret,
        no ``Bearer``, nothing JWT-shaped, and no secret word anywhere (keys included, compared
        the way :func:`is_secret_key` compares them). ``False`` only means "look closer": JSON
        escapes, or secret words that appear by chance across neighbouring values.
        """
        if b"\\" in text:  # escaped characters: the text is not the strings' exact spelling
            return False
        for value in self._literal_bytes:
            if value in text:
                return False
        if any(letter in text for letter in _ASCII_LOOKALIKE_BYTES):
            return False  # matched as ASCII letters by str.lower or by case-blind patterns
        lowered = text.lower()  # ASCII letters only: other bytes are dropped below
        if b"bearer" in lowered or b"eyj" in lowered or (b"://" in text and b"@" in text):
            return False
        squashed = lowered.translate(None, _NOT_ALNUM)
        return not any(word in squashed for word in _SECRET_WORD_BYTES)

    def copy(self, obj: Any) -> Any:
        """A masked copy of ``obj`` (as :func:`redact_obj`)."""
        if isinstance(obj, str):
            masked = self.texts.get(obj)
            if masked is None:
                masked = _mask_text(obj, self.literals) if obj else obj
                if len(self.texts) < MEMO_LIMIT:
                    self.texts[obj] = masked
            return masked
        if isinstance(obj, dict):
            return {
                self._key(key): MASK
                if _is_secret_entry(key) and value not in (None, "")
                else self.copy(value)
                for key, value in obj.items()
            }
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # a named tuple
            return type(obj)(*(self.copy(item) for item in obj))
        if isinstance(obj, list | tuple | set | frozenset):
            return type(obj)(self.copy(item) for item in obj)
        if obj is None or isinstance(obj, int | float | bytes | bytearray):
            return obj
        text = _as_written(obj)  # anything else is written as text: masked as text if need be
        masked = self.copy(text)
        return obj if masked == text else masked

    def copy_data(self, obj: Any) -> Any:
        """A copy of data (as :func:`redact_data`): secret keys and secret values only."""
        if isinstance(obj, str):
            return _mask_literals(obj, self.literals)
        if isinstance(obj, dict):
            return {
                key: MASK
                if _is_secret_entry(key) and value not in (None, "")
                else self.copy_data(value)
                for key, value in obj.items()
            }
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*(self.copy_data(item) for item in obj))
        if isinstance(obj, list | tuple | set | frozenset):
            return type(obj)(self.copy_data(item) for item in obj)
        return obj

    def _key(self, key: Any) -> Any:
        """A mapping key as it is, unless it is written as text that holds a secret."""
        if isinstance(key, str) or key is None or isinstance(key, int | float):
            return key
        masked = self.copy(key)
        return key if masked == key else masked


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in a record's message, arguments and traceback.

    The record's message is formatted once (``msg % args``), masked and stored back with
    ``args`` cleared, so every handler downstream sees the masked text. Attach it to handlers
    (filters on a logger do not see records propagated from child loggers).

    Args:
        secrets: extra literal values to mask, on top of the registered ones.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the line
            message = f"{record.msg!s} {record.args!r}"
        if getattr(record, DATA_MASKED, False):  # data: only the secret values
            record.msg = _mask_literals(message, _literal_secrets(self.secrets))
        else:
            record.msg = redact_text(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self.secrets)
        return True

"""Who calls the service: bearer tokens of the service's own, each with a name.

``service.tokens`` in the config (or ``DSYNC_SERVICE__TOKENS=name=token,name2=token2``) maps a
caller's name to its token, or to ``sha256:<hex digest>`` of the token (so that a config file
need not hold the token itself). The name is what the ledger records as the run's user.
Tokens are compared in constant time; a token is never logged, echoed or shown.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from directorsync.errors import ConfigError

_HASHED = re.compile(r"^sha256:([0-9a-fA-F]{64})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

bearer = HTTPBearer(auto_error=False, description="a token of `service.tokens`")


def digest(token: str) -> bytes:
    """SHA-256 of a token."""
    return hashlib.sha256(token.encode("utf-8")).digest()


class Tokens:
    """The service's callers: name → SHA-256 digest of its token.

    Raises:
        ConfigError: no token configured, a name that cannot be a user name, or a token too
            short to be one (fewer than 16 characters).
    """

    def __init__(self, configured: dict[str, Any]) -> None:
        self.digests: dict[str, bytes] = {}
        for name, value in configured.items():
            secret = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            secret = str(secret)
            if not _NAME.match(name):
                raise ConfigError(
                    f"service.tokens: {name!r} cannot name a caller (letters, digits, _ . @ -)"
                )
            hashed = _HASHED.match(secret)
            if hashed:
                self.digests[name] = bytes.fromhex(hashed.group(1))
            elif len(secret) < 16:
                raise ConfigError(
                    f"service.tokens.{name}: a token needs at least 16 characters "
                    "(the value is not shown)"
                )
            else:
                self.digests[name] = digest(secret)
        if not self.digests:
            raise ConfigError(
                "the service needs at least one caller token: set service.tokens in the config "
                "file or DSYNC_SERVICE__TOKENS=name=token (e.g. a token from "
                '`python -c "import secrets; print(secrets.token_urlsafe(32))"`)'
            )

    def who(self, token: str | None) -> str | None:
        """The caller's name for ``token``, or None."""
        if not token:
            return None
        presented = digest(token)
        found = None
        for name, expected in self.digests.items():
            if hmac.compare_digest(presented, expected):
                found = name
        return found


def require_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> str:
    """FastAPI dependency: the caller's name, or 401."""
    tokens: Tokens = request.app.state.tokens
    name = tokens.who(credentials.credentials if credentials else None)
    if name is None:
        raise HTTPException(
            status_code=401,
            detail="a bearer token of the service is needed (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.user = name
    return name


def websocket_user(websocket: WebSocket) -> str | None:
    """The caller of a WebSocket from its ``Authorization`` header (None: not given or wrong)."""
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    tokens: Tokens = websocket.app.state.tokens
    return tokens.who(token.strip())


def token_user(websocket: WebSocket, token: Any) -> str | None:
    """The caller of a WebSocket that sent its token in its first message."""
    tokens: Tokens = websocket.app.state.tokens
    return tokens.who(token) if isinstance(token, str) else None

"""JWT tokens of the protocol: HS256, claims ``sub`` (non-empty string) and ``exp`` (required)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Final

import jwt

ALGORITHM: Final = "HS256"
DEV_SECRET: Final = "wsrace-development-secret-not-for-production"
"""The documented development default for ``--secret`` / ``WSRACE_SECRET``. Never use it in production."""
SECRET_ENV: Final = "WSRACE_SECRET"


def resolve_secret(flag_value: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The HS256 secret both sides use: ``--secret`` if given, else ``$WSRACE_SECRET`` if set and not
    empty, else :data:`DEV_SECRET`. An explicit empty ``--secret`` comes back empty: the caller refuses it."""
    if flag_value is not None:
        return flag_value
    env = os.environ if environ is None else environ
    return env.get(SECRET_ENV) or DEV_SECRET


class TokenError(Exception):
    """A token the server must refuse; the message says why."""


def mint(secret: str, sub: str, ttl_s: float = 3600.0, now: float | None = None) -> str:
    if not sub:
        raise ValueError("sub must be a non-empty string")
    issued = time.time() if now is None else now
    claims = {"sub": sub, "iat": int(issued), "exp": int(issued + ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> str:
    """Return the token's ``sub``; raise :class:`TokenError` for anything the protocol refuses.

    Pinning ``algorithms`` to HS256 refuses unsigned (``alg: none``) tokens and tokens signed with
    any other algorithm; ``require`` refuses tokens without ``exp`` or ``sub``.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"], "verify_sub": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenError("token claim 'sub' must be a non-empty string")
    return sub

"""JWT tokens of the protocol: HS256, claims ``sub`` (non-empty string) and ``exp`` (required)."""

from __future__ import annotations

import time
from typing import Final

import jwt

ALGORITHM: Final = "HS256"
DEV_SECRET: Final = "wsrace-development-secret-not-for-production"
"""The documented development default for ``--secret`` / ``WSRACE_SECRET``. Never use it in production."""
SECRET_ENV: Final = "WSRACE_SECRET"


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

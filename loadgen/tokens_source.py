"""Where each Locust user's token comes from.

- **minted** (default): HS256 tokens signed with the same secret as the target app (``--secret`` or
  ``WSRACE_SECRET``, else the documented development default), ``sub`` = a distinct id per user.
- **file** (``--token-file``): one token per line, for servers whose secret we do not hold; users
  take them round-robin. The user id is read from the token's ``sub`` (unverified: it is the
  server's job to verify, ours only to know which user we are).
- **command** (``--token-command``): a shell command that prints one token; it runs once per user
  with ``WSRACE_USER`` set to the user id wsrace wants, within a deadline.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import jwt

from loadgen.exitcodes import UsageError
from loadgen.protocol import tokens

__all__ = ["CommandTokens", "FileTokens", "Identity", "MintedTokens", "TokenSource", "token_source"]

COMMAND_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    token: str


class TokenSource(Protocol):
    def identity(self, wanted_user: str) -> Identity:
        """A token for a user; ``wanted_user`` is honoured where the source can choose."""
        ...


class MintedTokens:
    def __init__(self, secret: str, ttl_s: float = 6 * 3600.0) -> None:
        self._secret = secret
        self._ttl_s = ttl_s

    def identity(self, wanted_user: str) -> Identity:
        return Identity(wanted_user, tokens.mint(self._secret, wanted_user, self._ttl_s))


def _sub_of(token: str, origin: str) -> str:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise UsageError(f"{origin}: not a JWT ({exc})") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise UsageError(f"{origin}: token has no 'sub' claim (the user id is needed to check events)")
    return sub


class FileTokens:
    def __init__(self, path: str) -> None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise UsageError(f"--token-file {path}: cannot read it ({exc.strerror})") from exc
        found = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not found:
            raise UsageError(f"--token-file {path}: no tokens in it (expected one JWT per line)")
        self._identities = [Identity(_sub_of(t, f"--token-file {path}"), t) for t in found]
        self._next = itertools.cycle(self._identities)
        self._lock = threading.Lock()

    def identity(self, wanted_user: str) -> Identity:
        with self._lock:
            return next(self._next)


class CommandTokens:
    def __init__(self, command: str) -> None:
        self._command = command

    def identity(self, wanted_user: str) -> Identity:
        env = {**os.environ, "WSRACE_USER": wanted_user}
        try:
            done = subprocess.run(
                self._command, shell=True, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise UsageError(f"--token-command did not finish within {COMMAND_TIMEOUT_S:g} s") from exc
        if done.returncode != 0:
            raise UsageError(f"--token-command exited {done.returncode}: {done.stderr.strip()[:200]}")
        token = done.stdout.strip()
        return Identity(_sub_of(token, "--token-command"), token)


def token_source(secret: str | None, token_file: str | None, token_command: str | None) -> TokenSource:
    if token_file and token_command:
        raise UsageError("give --token-file or --token-command, not both")
    if token_file:
        return FileTokens(token_file)
    if token_command:
        return CommandTokens(token_command)
    # Locust fills --secret from WSRACE_SECRET: an empty value is that variable set but empty, which
    # means "unset" to both sides (the target falls back the same way).
    return MintedTokens(tokens.resolve_secret(secret or None))

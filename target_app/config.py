"""The target app's settings: one frozen value, built by the CLI, handed to every worker.

The secret never travels on a worker's command line (where ``ps`` would show it): workers get it
through the ``WSRACE_SECRET`` environment variable, and :meth:`Config.to_worker_json` leaves it out.
The broker URL, which may hold a Redis password, travels the same way (``WSRACE_BROKER_URL``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Final

from loadgen.protocol.tokens import DEV_SECRET

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
DEFAULT_AUTH_TIMEOUT_S: Final = 5.0
DEFAULT_MAX_SIZE: Final = 2**20
DEFAULT_SHUTDOWN_TIMEOUT_S: Final = 5.0
DEFAULT_STALL_TIMEOUT_S: Final = 10.0
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
BROKER_ENV: Final = "WSRACE_BROKER_URL"
"""How the supervisor hands ``--broker`` to its workers (never on their command line)."""

OUTPUT_LIMIT_BYTES: Final = 4 * 2**20
"""Replies and events a connection may have waiting unsent before it is closed with 1013."""
CLOSE_TIMEOUT_S: Final = 10.0
"""How long a server-initiated close (other than shutdown) waits for the client's close frame."""
BACKLOG: Final = 4096
"""Listen backlog: a connect storm waits in the kernel's accept queue instead of being refused."""
SEND_BUFFER_BYTES: Final = 64 * 1024
"""SO_SNDBUF of every connection. Left to autotuning, the kernel would absorb megabytes of a slow
reader's backlog where neither the output limit nor stall detection can see it; kept modest, the
backlog stays in the connection's outbox, where it is accounted for."""


@dataclass(frozen=True, slots=True)
class Config:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    workers: int = 1
    secret: str = field(default=DEV_SECRET, repr=False)
    auth_timeout: float = DEFAULT_AUTH_TIMEOUT_S
    max_size: int = DEFAULT_MAX_SIZE
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    stall_timeout: float = DEFAULT_STALL_TIMEOUT_S
    faults: tuple[str, ...] = ()
    log_level: str = "info"
    broker: str | None = field(default=None, repr=False)
    """``redis://…`` or ``unix:///…``: jobs shared across workers (:mod:`target_app.broker`)."""

    def to_worker_json(self) -> str:
        """Everything a worker needs except the secret and the broker URL (see the module docstring)."""
        data = asdict(self)
        del data["secret"], data["broker"]
        return json.dumps(data)

    @classmethod
    def from_worker_json(cls, text: str, secret: str, broker: str | None = None) -> Config:
        data: dict[str, Any] = json.loads(text)
        data["faults"] = tuple(data.get("faults", ()))
        return cls(secret=secret, broker=broker or None, **data)

    def with_port(self, port: int) -> Config:
        return replace(self, port=port)

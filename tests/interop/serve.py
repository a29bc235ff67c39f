"""``python -m tests.interop.serve --ws wsproto|websockets-sansio``: the interop server on uvicorn.

Binds 127.0.0.1 on a port the OS picks, and once uvicorn accepts connections prints one line,
``{"event": "listening", "host": "127.0.0.1", "port": N}``, to stdout. uvicorn's settings follow
PROTOCOL.md: keepalive pings off (a slow reader is never closed with 1011), ``max_size`` 1 MiB
(1009 above it), no permessage-deflate. On SIGTERM or SIGINT: stop accepting, close every
WebSocket with 1001, wait a little for the clients' close frames, then uvicorn's own shutdown with
a bounded grace; exit 0 within PROTOCOL.md's 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import uvicorn

from loadgen.protocol.tokens import DEV_SECRET, SECRET_ENV
from tests.interop.app import close_all, create_app
from tests.interop.connection import AUTH_TIMEOUT_S, Settings, Shared
from tests.interop.outbox import STALL_TIMEOUT_S
from tests.interop.rules import MAX_MESSAGE_BYTES

HOST = "127.0.0.1"
WS_STACKS = ("wsproto", "websockets-sansio")
"""uvicorn's sans-I/O WebSocket implementations, the ones checked by the interop tests."""
CLOSE_WAIT_S = 2.0
"""How long clients get to answer the 1001 before uvicorn's shutdown closes what is left."""
GRACE_S = 2
"""uvicorn's ``timeout_graceful_shutdown``: then its remaining tasks are cancelled."""


class InteropServer(uvicorn.Server):
    """uvicorn's server, announcing itself once it listens and closing WebSockets with 1001 first."""

    def __init__(self, config: uvicorn.Config, shared: Shared, port: int) -> None:
        super().__init__(config)
        self.shared = shared
        self.port = port

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            sys.stdout.write(json.dumps({"event": "listening", "host": HOST, "port": self.port}) + "\n")
            sys.stdout.flush()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting before closing the open connections
        close_all(self.shared)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_WAIT_S
        while self.server_state.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await super().shutdown(sockets=sockets)


def uvicorn_config(app: Any, ws: str, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn's settings, as PROTOCOL.md wants them (see the module docstring)."""
    return uvicorn.Config(
        app, ws=ws, http="h11", lifespan="off", log_level=log_level, access_log=False,
        ws_max_size=MAX_MESSAGE_BYTES, ws_ping_interval=None, ws_ping_timeout=None,
        ws_per_message_deflate=False, timeout_graceful_shutdown=GRACE_S,
    )


def _exit_cleanly(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.interop.serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ws", required=True, choices=WS_STACKS,
                        help="uvicorn's WebSocket implementation")
    parser.add_argument("--auth-timeout", type=float, default=AUTH_TIMEOUT_S, metavar="S",
                        help=f"seconds for the in-band auth message (default {AUTH_TIMEOUT_S:g})")
    parser.add_argument("--stall-timeout", type=float, default=STALL_TIMEOUT_S, metavar="S",
                        help=f"seconds a write may make no progress before 1013 (default {STALL_TIMEOUT_S:g})")
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level (default warning)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for value, flag in ((args.auth_timeout, "--auth-timeout"), (args.stall_timeout, "--stall-timeout")):
        if not value > 0:
            _parser().error(f"{flag} must be a positive number of seconds, got {value}")
    settings = Settings(secret=os.environ.get(SECRET_ENV) or DEV_SECRET, auth_timeout=args.auth_timeout,
                        stall_timeout=args.stall_timeout)
    app = create_app(settings)
    config = uvicorn_config(app, args.ws, args.log_level)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    # uvicorn re-raises a signal it handled once it is done, with the handler found before it: this
    # one, so that a shutdown it completed exits 0 (as does a signal before it took over).
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    server = InteropServer(config, app.state.shared, sock.getsockname()[1])
    server.run(sockets=[sock])
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())

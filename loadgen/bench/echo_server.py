"""The benchmark's echo server: websockets' asyncio server on uvloop, echo only.

``python -m loadgen.bench.echo_server --port 0`` listens on 127.0.0.1 and prints one JSON line on
stdout once it accepts connections, like the target app does::

    {"event": "listening", "host": "127.0.0.1", "port": 43125, "pid": 1234}

Every text or binary message is sent back as it came. No compression and no keepalive pings: the
server does the least a WebSocket server can, so the generators' differences are what shows. It
stops on SIGTERM or SIGINT. It is the same server for every generator, so it is part of the setup,
not of what is compared.

With ``--secret S`` it holds an **authenticated** connection the way the protocol's servers do,
and no more: the handshake's ``Authorization: Bearer`` token is verified (HS256, the protocol's
:func:`loadgen.protocol.tokens.verify`; a bad or missing one is closed with 1008), then ``ready``
(seq 0, the token's user) is sent, then it echoes. That is the floor the target app's memory per
idle authenticated connection is set against: the plain websockets server holding an equivalent
connection (same handshake, same token check, same first message), without the app's own state.

Each line ``count`` on stdin is answered with the messages echoed and the handshakes completed so
far, one JSON line: ``{"event": "count", "messages": N, "connections": M}``. That is how a peer
generator that does not speak the benchmark's handshake (Artillery, Tsung) is measured over a
window: the parent counts the work at the server (:mod:`loadgen.bench.peers`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence

import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from loadgen.protocol import closecodes, tokens, wire

__all__ = ["main"]

MAX_SIZE = 2**20
BACKLOG = 4096
BEARER = "Bearer "


class _Counts:
    def __init__(self) -> None:
        self.messages = 0
        self.connections = 0


def _say(line: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _handler(secret: str | None, counts: _Counts):  # type: ignore[no-untyped-def]
    async def echo(ws: ServerConnection) -> None:
        counts.connections += 1
        try:
            if secret is not None:
                header = ws.request.headers.get("Authorization", "") if ws.request else ""
                try:
                    user = tokens.verify(secret, header[len(BEARER):] if header.startswith(BEARER) else "")
                except tokens.TokenError as exc:
                    await ws.close(closecodes.POLICY, str(exc)[:100])
                    return
                await ws.send(wire.encode({**wire.ready(user, f"s{counts.connections}"), "seq": 0}))
            async for message in ws:
                counts.messages += 1
                await ws.send(message)
        except ConnectionClosed:  # a generator that exits drops its connections: not worth a traceback
            pass

    return echo


def _on_command(counts: _Counts) -> None:
    """Answer each ``count`` line on stdin; EOF stops listening to stdin (the server goes on)."""
    loop = asyncio.get_running_loop()
    data = os.read(0, 4096)
    if not data:
        loop.remove_reader(0)
        return
    for line in data.decode(errors="replace").splitlines():
        if line.strip() == "count":
            _say({"event": "count", "messages": counts.messages, "connections": counts.connections})


async def _serve(host: str, port: int, secret: str | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    counts = _Counts()
    async with serve(
        _handler(secret, counts), host, port, compression=None, ping_interval=None, max_size=MAX_SIZE,
        backlog=BACKLOG,
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        with contextlib.suppress(OSError, ValueError):  # no usable stdin: no counting, echo still works
            loop.add_reader(0, _on_command, counts)
        _say({"event": "listening", "host": host, "port": bound, "pid": os.getpid()})
        await stop.wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadgen.bench.echo_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: the OS picks one (read the listening line)")
    parser.add_argument("--secret", help="authenticate each connection (Bearer token, HS256) and send ready first")
    args = parser.parse_args(argv)
    return uvloop.run(_serve(args.host, args.port, args.secret))


if __name__ == "__main__":
    sys.exit(main())

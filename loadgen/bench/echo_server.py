"""The benchmark's echo server: websockets' asyncio server on uvloop, echo only, no authentication.

``python -m loadgen.bench.echo_server --port 0`` listens on 127.0.0.1 and prints one JSON line on
stdout once it accepts connections, like the target app does::

    {"event": "listening", "host": "127.0.0.1", "port": 43125, "pid": 1234}

Every text or binary message is sent back as it came. No compression and no keepalive pings: the
server does the least a WebSocket server can, so the generators' differences are what shows. It
stops on SIGTERM or SIGINT. It is the same server for every generator, so it is part of the setup,
not of what is compared; it exists because the target app requires a token on every connection,
and the issue's reference numbers were taken without one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence

import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["main"]

MAX_SIZE = 2**20
BACKLOG = 4096


async def _echo(ws: ServerConnection) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except ConnectionClosed:  # a generator that exits drops its connections: not worth a traceback
        pass


async def _serve(host: str, port: int) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with serve(
        _echo, host, port, compression=None, ping_interval=None, max_size=MAX_SIZE, backlog=BACKLOG
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        line = {"event": "listening", "host": host, "port": bound, "pid": os.getpid()}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        await stop.wait()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadgen.bench.echo_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: the OS picks one (read the listening line)")
    args = parser.parse_args(argv)
    return uvloop.run(_serve(args.host, args.port))


if __name__ == "__main__":
    sys.exit(main())

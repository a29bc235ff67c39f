"""Baseline: plain asyncio on uvloop with ``websockets.asyncio.client``, no Locust.

The floor a Python generator can reach without a load-testing framework, written the
straightforward way and no dearer: one task per connection (``gather``), latencies appended to a
list (bucketed the way Locust buckets them, so the percentiles compare), no request events, no
per-reply ``wait_for`` (a task per call in 3.11; the window as a whole is bounded), no logging.
Same connection options as the other baseline: no compression, no keepalive pings, pre-encoded
text out, bytes in, and ``proxy=None``: by default websockets looks the proxy up in the
environment on every connect (``urllib.request.proxy_bypass`` and ``getproxies``, each a walk
over ``os.environ``), which cost this client about a third of its connect storm; wsrace's session
has no proxy support, so neither does its baseline. Each storm cycle still does a full connect,
one echo and the closing handshake (``async with``), so it is the same work as wsrace's.

Idle (``--secret``): each connection carries a token of its own, reads ``ready``, then its task
waits for the next message, as a client holding a session must (a message pushed meanwhile is
read, not left queued).
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import sys
import traceback
from collections.abc import Sequence
from time import perf_counter

import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect

from loadgen.bench.generators.control import (
    STDIN,
    Args,
    LineBuffer,
    check_ready,
    identity_headers,
    parse_args,
    percentile,
    raise_fd_limit,
    say,
)
from loadgen.bench.workloads import echo_message

MESSAGE = echo_message()
ENCODED = orjson.dumps(MESSAGE)
SETTLE_S = 1.0


def bucket_ms(ms: float) -> int:
    """Locust's ``bucket_response_time``: about two significant digits."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


class _Commands:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._buffer = LineBuffer()

    async def expect(self, word: str, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        while not self._lines:
            readable = loop.create_future()
            loop.add_reader(STDIN, readable.set_result, None)
            try:
                await asyncio.wait_for(readable, timeout)
            except TimeoutError:
                raise TimeoutError(f"no {word!r} from the parent in {timeout} s") from None
            finally:
                loop.remove_reader(STDIN)
            self._lines += self._buffer.feed(os.read(STDIN, 4096))
        got = self._lines.pop(0)
        if got != word:
            raise RuntimeError(f"expected {word!r} from the parent, got {got!r}")


class _Run:
    def __init__(self, args: Args) -> None:
        self.args = args
        self.deadline = math.inf
        self.latencies: list[float] = []
        self.failures = 0
        self.first_error: str | None = None
        self.last_finish = 0.0

    def connect(self, headers: dict[str, str] | None = None) -> connect:
        return connect(
            self.args.url,
            additional_headers=self.args.headers if headers is None else headers,
            compression=None,
            ping_interval=None,
            proxy=None,
            open_timeout=self.args.timeout,
        )

    async def open_session(self, n: int) -> ClientConnection:
        """Idle: connect; with a secret, as user ``bench-<n>`` with its own token, and read ready."""
        secret = self.args.secret
        if secret is None:
            return await self.connect()
        ws = await self.connect(identity_headers(secret, n))
        check_ready(orjson.loads(await asyncio.wait_for(ws.recv(decode=False), self.args.timeout)), n)
        return ws

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.first_error is None:
            self.first_error = f"{type(exc).__name__}: {exc}"

    async def _echo(self, ws: ClientConnection) -> None:
        await ws.send(ENCODED, text=True)
        # No timeout per reply (wait_for costs a task each in 3.11): the whole window has one.
        if orjson.loads(await ws.recv(decode=False)) != MESSAGE:
            raise ValueError("echo: the reply is not the message sent")

    async def round_trips(self, ws: ClientConnection) -> None:
        latencies = self.latencies
        deadline = self.deadline
        while (started := perf_counter()) < deadline:
            try:
                await self._echo(ws)
            except Exception as exc:
                self._failed(exc)
            latencies.append((perf_counter() - started) * 1000.0)
        self.last_finish = max(self.last_finish, perf_counter())

    async def storm(self) -> None:
        latencies = self.latencies
        deadline = self.deadline
        while (started := perf_counter()) < deadline:
            try:
                async with self.connect() as ws:
                    await self._echo(ws)
            except Exception as exc:
                self._failed(exc)
            latencies.append((perf_counter() - started) * 1000.0)
        self.last_finish = max(self.last_finish, perf_counter())


async def _idle(ws: ClientConnection) -> None:
    async for _ in ws:  # nothing comes after ready; a message pushed meanwhile is read
        pass


async def _main(args: Args) -> None:
    run = _Run(args)
    commands = _Commands()
    n = args.connections
    opened: list[ClientConnection] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        if args.workload == "roundtrip":
            opened = list(await asyncio.gather(*(run.connect() for _ in range(n))))
        gc.collect()
        say("ready")
        await commands.expect("go", args.timeout + 60)
        started = perf_counter()
        run.deadline = started + args.duration
        if args.workload.startswith("idle"):
            opened = list(await asyncio.gather(*(run.open_session(i) for i in range(n))))
            elapsed = perf_counter() - started
            tasks = [asyncio.create_task(_idle(ws)) for ws in opened]
            await asyncio.sleep(SETTLE_S)
            gc.collect()
            count = len(opened)
        else:
            if args.workload == "roundtrip":
                work = [run.round_trips(ws) for ws in opened]
            else:
                work = [run.storm() for _ in range(n)]
            await asyncio.wait_for(asyncio.gather(*work), args.duration + args.timeout + 5)
            elapsed = run.last_finish - started
            count = len(run.latencies)
        buckets = sorted(bucket_ms(ms) for ms in run.latencies)
        say(
            "done",
            count=count,
            failures=run.failures,
            elapsed_s=elapsed,
            p50_ms=percentile(buckets, 0.5) if buckets else None,
            p99_ms=percentile(buckets, 0.99) if buckets else None,
            first_error=run.first_error,
        )
        await commands.expect("exit", 120)
    finally:
        for task in tasks:
            task.cancel()
        for ws in opened:
            ws.transport.abort()


def run(argv: Sequence[str] | None = None) -> int:
    raise_fd_limit()
    try:
        args = parse_args(argv, "python -m loadgen.bench.generators.asyncio_plain")
        uvloop.run(_main(args))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        say("error", message=f"{type(exc).__name__}: {exc}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(run())

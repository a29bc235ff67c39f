"""Graceful shutdown (PROTOCOL.md): SIGTERM / SIGINT close every connection with 1001, cancel
background work, and the process tree exits 0 within the shutdown timeout, whatever the clients do."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.support.target import Target, running_target
from tests.target.client import Client, run

pytestmark = pytest.mark.e2e


async def open_many(target: Target, count: int, parallel: int = 200) -> list[Client]:
    gate = asyncio.Semaphore(parallel)

    async def one(n: int) -> Client:
        async with gate:
            return await Client.ready(target, f"user{n % 50}")

    return list(await asyncio.gather(*(one(n) for n in range(count))))


async def exit_code(target: Target, timeout: float) -> int:
    return await asyncio.to_thread(target.proc.wait, timeout)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_with_1000_connections_closes_all_with_1001_and_exits_0_in_time(workers: int) -> None:
    with running_target(workers=workers) as target:
        async def body() -> None:
            clients = await open_many(target, 1000)
            # background work to cancel: long jobs (their tickers sleep) and a burst in progress
            for client in clients[:20]:
                await client.request({"op": "start", "steps": 1000, "step_ms": 10_000})
            await clients[20].send({"op": "burst", "count": 10_000, "size": 1024})
            assert (await clients[20].recv())["type"] == "burst"
            draining = asyncio.create_task(clients[20].closed(timeout=15))
            started = time.monotonic()
            target.proc.send_signal(signal.SIGTERM)
            await asyncio.gather(*(asyncio.wait_for(c.ws.wait_closed(), 15) for c in clients))
            await draining
            code = await exit_code(target, 15)
            elapsed = time.monotonic() - started
            print(f"workers={workers}: 1000 connections closed, exit {code} in {elapsed:.2f} s")
            codes = {c.ws.close_code for c in clients}
            assert codes == {1001}, codes
            # exit 0: every worker exited by itself; one that overran --shutdown-timeout (plus the
            # supervisor's grace) is killed and the supervisor exits non-zero
            assert code == 0, target.logs()[-3000:]

        run(body(), timeout=150)


def test_a_client_that_never_answers_the_close_is_dropped_so_the_deadline_holds() -> None:
    """A client that reads nothing more never sees the close frame: the worker drops it at its
    deadline and exits by itself (exit 0: not killed by the supervisor for overrunning)."""
    with running_target("--shutdown-timeout", "1") as target:
        async def body() -> None:
            deaf = await Client.ready(target, "deaf")
            await deaf.send({"op": "burst", "count": 1000, "size": 65_536})
            assert (await deaf.recv())["type"] == "burst"
            deaf.ws.transport.pause_reading()  # reads nothing more, never sees the close frame
            polite = await Client.ready(target, "polite")
            target.proc.send_signal(signal.SIGTERM)
            assert await polite.closed(timeout=5) == 1001
            assert await exit_code(target, 10) == 0, target.logs()[-3000:]
            assert "killed it" not in target.logs()
            deaf.ws.transport.abort()

        run(body())


def test_sigint_is_a_graceful_shutdown_too() -> None:
    with running_target(workers=2) as target:
        async def body() -> None:
            clients = await open_many(target, 20)
            target.proc.send_signal(signal.SIGINT)
            assert {await c.closed() for c in clients} == {1001}
            assert await exit_code(target, 10) == 0

        run(body())


def test_connections_arriving_during_shutdown_are_refused_or_closed_with_1001() -> None:
    """A connect storm while the server stops: no client sees anything but 1001 or a refusal."""
    with running_target("--shutdown-timeout", "2") as target:
        async def storm(outcomes: list[object]) -> None:
            while True:
                try:
                    client = await Client.ready(target)
                except (OSError, Exception) as exc:  # refused, 503, reset: the server is stopping
                    outcomes.append(type(exc).__name__)
                    return
                outcomes.append(client)

        async def body() -> None:
            outcomes: list[object] = []
            stormers = [asyncio.create_task(storm(outcomes)) for _ in range(10)]
            while len(outcomes) < 50:
                await asyncio.sleep(0.01)
            target.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                await asyncio.gather(*stormers)
            clients = [o for o in outcomes if isinstance(o, Client)]
            for client in clients:
                await asyncio.wait_for(client.ws.wait_closed(), 5)
            assert {c.ws.close_code for c in clients} == {1001}
            assert await exit_code(target, 10) == 0

        run(body())

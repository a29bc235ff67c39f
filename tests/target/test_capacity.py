"""5,000 concurrent idle authenticated connections on one worker, and its memory per connection.

The figure is printed (run with ``-s`` to see it); websockets' docs put the floor near 14 KiB per
connection without compression. The bound asserted is deliberately generous: this is a capacity
check, not a benchmark.
"""

from __future__ import annotations

import asyncio
import random

import psutil
import pytest

from loadgen.protocol import metrics as names
from tests.support.target import running_target
from tests.target.client import Client, ametric, run

pytestmark = pytest.mark.e2e

CONNECTIONS = 5000
WARM_UP = 200
BOUND_KIB = 64


@pytest.mark.timeout(240)
def test_5000_idle_connections_hold_on_one_worker() -> None:
    with running_target(workers=1) as target:
        (worker,) = psutil.Process(target.proc.pid).children()

        async def body() -> float:
            gate = asyncio.Semaphore(250)

            async def one(n: int) -> Client:
                async with gate:
                    return await Client.ready(target, f"user{n}", open_timeout=60)

            clients = list(await asyncio.gather(*(one(n) for n in range(WARM_UP))))
            rss_before = worker.memory_info().rss
            clients += await asyncio.gather(*(one(n) for n in range(WARM_UP, CONNECTIONS)))
            assert await ametric(target, names.CONNECTIONS_OPEN) == CONNECTIONS
            rss_after = worker.memory_info().rss
            for client in random.sample(clients, 100):  # idle, but every one still answers
                assert (await client.request({"op": "echo", "id": 1, "data": 0}))["id"] == 1
            for client in clients:
                client.ws.transport.abort()
            return (rss_after - rss_before) / (CONNECTIONS - WARM_UP) / 1024

        per_connection_kib = run(body(), timeout=200)
        print(f"\nworker RSS per idle connection: {per_connection_kib:.1f} KiB "
              f"({CONNECTIONS} connections, measured over the last {CONNECTIONS - WARM_UP})")
        assert per_connection_kib < BOUND_KIB

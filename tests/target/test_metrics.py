"""/metrics counts what happened, summed over every worker process."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import InvalidStatus

from loadgen.protocol import metrics as names
from tests.support.target import Target
from tests.target.client import Client, ametric, await_metric, run

pytestmark = pytest.mark.e2e

COUNTED = (names.CONNECTIONS_TOTAL, names.AUTH_FAILURES, names.MESSAGES_RECEIVED,
           names.MESSAGES_SENT, names.JOBS_STARTED, names.DROPPED_MESSAGES,
           names.UNHANDLED_ERRORS)


async def counters(target: Target) -> dict[str, float]:
    values = {name: await ametric(target, name) for name in COUNTED}
    for code in ("1000", "1003", "1008", "4000"):
        values[code] = await ametric(target, names.CLOSES, code=code)
    return values


def test_a_scripted_session_is_counted_exactly(target: Target) -> None:
    async def body() -> None:
        before = await counters(target)
        client = await Client.ready(target)
        for i in range(3):
            await client.request({"op": "echo", "id": i, "data": i})
        job = (await client.request({"op": "start", "steps": 0, "step_ms": 0}))["job"]
        await client.request({"op": "subscribe", "job": job})
        await client.send({"op": "burst", "count": 5, "size": 1})
        for _ in range(5):
            await client.recv()
        await client.send({"op": "close", "code": 4000})
        assert await client.closed() == 4000
        with pytest.raises(InvalidStatus):
            await Client.open(target, bearer="bad")
        refused = await Client.open(target, auth="none")
        await refused.send_raw("hello")
        assert await refused.closed() == 1008
        rude = await Client.ready(target)
        await rude.send_raw(b"\x00")
        assert await rude.closed() == 1003
        await await_metric(target, names.CLOSES, before["1003"] + 1, code="1003")
        await await_metric(target, names.CLOSES, before["4000"] + 1, code="4000")
        after = await counters(target)
        delta = {name: after[name] - before[name] for name in after}
        assert delta == {
            names.CONNECTIONS_TOTAL: 3,
            names.AUTH_FAILURES: 2,  # the 401 and the in-band refusal
            names.MESSAGES_RECEIVED: 3 + 1 + 1 + 1 + 1 + 1 + 1,  # ... close op, hello, binary
            names.MESSAGES_SENT: 1 + 3 + 1 + 1 + 5 + 1 + 1,  # ... unauthorized, second ready
            names.JOBS_STARTED: 1,
            names.DROPPED_MESSAGES: 0,
            names.UNHANDLED_ERRORS: 0,
            "1000": 0, "1003": 1, "1008": 1, "4000": 1,
        }

    run(body())


def test_open_connections_gauge_rises_and_falls(target: Target) -> None:
    async def body() -> None:
        base = await ametric(target, names.CONNECTIONS_OPEN)
        clients = await asyncio.gather(*(Client.ready(target, f"u{i}") for i in range(10)))
        assert await ametric(target, names.CONNECTIONS_OPEN) == base + 10
        await asyncio.gather(*(c.close() for c in clients))
        async with asyncio.timeout(5):
            while await ametric(target, names.CONNECTIONS_OPEN) != base:
                await asyncio.sleep(0.02)
        assert await ametric(target, names.CLOSES, code="1000") >= 10

    run(body())

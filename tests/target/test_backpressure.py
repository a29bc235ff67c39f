"""Slow readers (PROTOCOL.md): a burst pauses and resumes; no progress or too much output is 1013.

Never silent loss: what the server gives up on a 1013 is counted in wsrace_dropped_messages_total,
and what the client did receive plus what was counted is every message owed.
"""

from __future__ import annotations

import asyncio

import pytest

from loadgen.protocol import metrics as names
from tests.support.target import Target, running_target
from tests.target.client import Client, ametric, await_metric, run

pytestmark = pytest.mark.e2e

COUNT, SIZE = 400, 16_384  # 6.5 MB: far more than the socket buffers hold


async def plateau(target: Target, name: str, timeout: float = 10.0) -> float:
    """Wait until a counter stops moving (two equal samples 100 ms apart); return its value."""
    async with asyncio.timeout(timeout):
        last = await ametric(target, name)
        while True:
            await asyncio.sleep(0.1)
            now = await ametric(target, name)
            if now == last:
                return now
            last = now


def test_a_burst_pauses_while_the_client_does_not_read_and_resumes_in_full(target1: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target1, rcvbuf=65_536)
        sent_before = await ametric(target1, names.MESSAGES_SENT)
        dropped_before = await ametric(target1, names.DROPPED_MESSAGES)
        await client.send({"op": "burst", "id": 1, "count": COUNT, "size": SIZE})
        paused_at = await plateau(target1, names.MESSAGES_SENT) - sent_before
        assert 0 < paused_at < COUNT / 2, paused_at  # the burst waits for us
        for i in range(COUNT):  # and resumes as we read, slowly: every item, in order
            if i % 50 == 0:
                await asyncio.sleep(0.05)
            msg = await client.recv()
            assert (msg["type"], msg["i"], len(msg["data"])) == ("burst", i, SIZE)
        assert (await client.request({"op": "echo", "id": 2, "data": 0}))["id"] == 2
        assert await ametric(target1, names.DROPPED_MESSAGES) == dropped_before
        await client.close()

    run(body())


def test_no_progress_for_stall_timeout_is_1013_and_the_rest_is_counted_as_dropped() -> None:
    with running_target("--stall-timeout", "0.5") as target:
        async def body() -> None:
            client = await Client.ready(target, rcvbuf=65_536)
            await client.send({"op": "burst", "id": 1, "count": COUNT, "size": SIZE})
            # The server gives up on us: that is the acknowledgement we wait for.
            dropped = await await_metric(target, names.DROPPED_MESSAGES, 1, timeout=10)
            received = 0
            async with asyncio.timeout(10):
                while True:
                    try:
                        msg = await client.recv()
                    except Exception:
                        break
                    assert (msg["type"], msg["i"]) == ("burst", received)
                    received += 1
            assert client.ws.close_code == 1013
            assert client.ws.close_reason == "reader too slow"
            assert received + dropped == COUNT  # nothing lost without being counted
            await await_metric(target, names.CLOSES, 1, code="1013")

        run(body())


def test_more_than_4_mib_of_replies_unread_is_1013(target1: Target) -> None:
    async def body() -> None:
        # A small, fixed receive buffer and client queue: the kernel and websockets hold little.
        client = await Client.ready(target1, rcvbuf=65_536, max_queue=1)
        dropped_before = await ametric(target1, names.DROPPED_MESSAGES)
        data = "y" * 60_000
        for i in range(120):  # 7 MB of echo replies that we do not read
            await client.send({"op": "echo", "id": i, "data": data})
        dropped = await await_metric(target1, names.DROPPED_MESSAGES, dropped_before + 1)
        replies = 0
        async with asyncio.timeout(10):
            while True:
                try:
                    msg = await client.recv()
                except Exception:
                    break
                assert msg["id"] == replies
                replies += 1
        assert client.ws.close_code == 1013
        assert client.ws.close_reason == "too much output unread"
        assert replies + (dropped - dropped_before) <= 120 and replies < 120

    run(body())

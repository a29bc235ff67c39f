"""The outbox: order, the output limit, burst backpressure, finishing and abandoning, drop counts.

No sockets: asyncio futures only, driven by ``asyncio.run``.
"""

from __future__ import annotations

import asyncio

from target_app.faults.lossy_queue import LossyOutbox
from target_app.outbox import CLOSED, FINISHING, Outbox
from tests.target.client import run


class Recorder:
    """The outbox's owner (an OutboxOwner): counts what the outbox tells it."""

    def __init__(self) -> None:
        self.overflows = 0
        self.dropped = 0
        self.ready = 0

    def output_overflowed(self) -> None:
        self.overflows += 1

    def output_dropped(self, count: int) -> None:
        self.dropped += count

    def output_ready(self) -> None:
        self.ready += 1


def make(limit: int = 1000, cls: type[Outbox] = Outbox) -> tuple[Outbox, Recorder]:
    rec = Recorder()
    return cls(limit, rec), rec


def test_messages_come_out_in_the_order_they_went_in() -> None:
    async def body() -> None:
        box, _ = make()
        box.push({"n": 1}, 10)
        assert await box.put_flow({"n": 2})
        box.push({"n": 3}, 10)
        assert [box.take() for _ in range(3)] == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert box.waiting_bytes == 0
        assert box.take() is None

    run(body(), 5)


def test_over_the_limit_of_other_output_calls_on_overflow_once_crossed() -> None:
    """Replies and events never wait; the bytes waiting are counted against the limit."""
    async def body() -> None:
        box, rec = make(limit=100)
        box.push({}, 60)
        box.push({}, 40)
        assert rec.overflows == 0 and box.waiting_bytes == 100
        box.push({}, 1)
        assert rec.overflows == 1
        box.take()
        assert box.waiting_bytes == 41

    run(body(), 5)


def test_a_burst_waits_for_the_writer_and_resumes() -> None:
    """put_flow blocks at FLOW_WINDOW queued items and resumes as the writer takes one."""
    async def body() -> None:
        box, _ = make()
        for i in range(Outbox.FLOW_WINDOW):
            assert await box.put_flow({"i": i})
        blocked = asyncio.ensure_future(box.put_flow({"i": "next"}))
        await asyncio.sleep(0.01)
        assert not blocked.done()
        assert box.take() == {"i": 0}
        assert await asyncio.wait_for(blocked, 1) is True
        assert len(box) == Outbox.FLOW_WINDOW

    run(body(), 5)


def test_finish_delivers_what_is_queued_then_ends() -> None:
    async def body() -> None:
        box, rec = make()
        box.push({"n": 1}, 1)
        box.finish()
        box.push({"n": 2}, 1)  # ignored: the connection is closing
        assert box.state is FINISHING
        flushed = asyncio.ensure_future(box.flushed())
        await asyncio.sleep(0)
        assert not flushed.done()
        assert box.take() == {"n": 1}
        await asyncio.wait_for(flushed, 1)
        assert box.take() is None
        assert await box.put_flow({}) is False
        assert rec.dropped == 0

    run(body(), 5)


def test_abandon_for_1013_counts_queued_and_unproduced_messages() -> None:
    """Only messages abandoned on a 1013 count as dropped, including a burst's unsent rest."""
    async def body() -> None:
        box, rec = make()
        box.push({}, 1)
        await box.put_flow({})
        assert box.abandon(count=True) == 2
        assert box.state is CLOSED
        box.unproduced(5)
        assert rec.dropped == box.dropped == 7

    run(body(), 5)


def test_every_queued_message_asks_for_a_writer_and_an_empty_outbox_ends_it() -> None:
    """on_ready fires for each message queued (open state only); take() never waits: None when
    empty, so the writer ends and nothing waits on an idle connection."""
    async def body() -> None:
        box, rec = make()
        assert box.take() is None and rec.ready == 0
        box.push({"n": 1}, 1)
        assert await box.put_flow({"n": 2})
        assert rec.ready == 2
        assert [box.take(), box.take(), box.take()] == [{"n": 1}, {"n": 2}, None]
        box.push({"n": 3}, 1)
        assert rec.ready == 3
        assert box.abandon(count=True) == 1
        box.push({"n": 4}, 1)  # closed: ignored, and no writer is asked for
        assert await box.put_flow({"n": 5}) is False
        assert rec.ready == 3 and box.take() is None

    run(body(), 5)


def test_close_without_counting_and_only_the_first_abandon_decides() -> None:
    async def body() -> None:
        box, rec = make()
        box.push({}, 1)
        box.close()
        assert box.abandon(count=True) == 0
        box.unproduced(3)
        assert rec.dropped == 0
        assert box.take() is None
        await asyncio.wait_for(box.flushed(), 1)

    run(body(), 5)


def test_waiting_burst_producer_is_released_by_abandon() -> None:
    async def body() -> None:
        box, _ = make()
        for i in range(Outbox.FLOW_WINDOW):
            await box.put_flow({"i": i})
        blocked = asyncio.ensure_future(box.put_flow({}))
        await asyncio.sleep(0)
        box.abandon(count=True)
        assert await asyncio.wait_for(blocked, 1) is False

    run(body(), 5)


def test_lossy_outbox_drops_silently_after_100_ms_full() -> None:
    """The lossy-queue fault: a put that waited 100 ms claims success, and nothing is counted."""
    async def body() -> None:
        box, rec = make(cls=LossyOutbox)
        for i in range(LossyOutbox.FLOW_WINDOW):
            assert await box.put_flow({"i": i})
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await box.put_flow({"i": "lost"}) is True
        assert loop.time() - started >= LossyOutbox.PUT_TIMEOUT_S * 0.9
        box.push({"reply": True}, 10)  # full: dropped at once
        items = [box.take() for _ in range(len(box))]
        assert {"i": "lost"} not in items and {"reply": True} not in items
        assert rec.dropped == 0 and rec.overflows == 0

    run(body(), 5)

"""The job service needs nothing of a connection: any Subscriber gets the snapshot, then every change.

No sockets: a worker context, the real job service and its real tickers on an event loop, and a
subscriber that keeps what it is given.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loadgen.protocol.jobs import HALTED, JobForbidden, JobNotFound
from target_app.config import Config
from target_app.context import WorkerContext
from target_app.jobs import JobService
from tests.target.client import run

STEPS = 5


class Inbox:
    """A Subscriber that is not a connection."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    def deliver(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.changed.set()


async def until_halted(inbox: Inbox) -> None:
    async with asyncio.timeout(5):
        while not inbox.events or inbox.events[-1]["state"] != HALTED:
            inbox.changed.clear()
            await inbox.changed.wait()


def test_a_subscriber_gets_every_step_after_its_snapshot_in_order() -> None:
    async def body() -> tuple[int, list[int], str]:
        jobs = JobService(WorkerContext.for_worker(Config(), 0))
        job = jobs.start("alice", STEPS, step_ms=1)
        inbox = Inbox("alice's inbox")
        snap = jobs.snapshot(inbox, "alice", job.id)
        await until_halted(inbox)
        return snap.step, [e["step"] for e in inbox.events], inbox.events[-1]["user"]

    first, steps, user = run(body())
    assert steps == list(range(first + 1, STEPS + 1)) and user == "alice"


def test_an_unsubscribed_subscriber_gets_nothing_more() -> None:
    async def body() -> tuple[int, int]:
        jobs = JobService(WorkerContext.for_worker(Config(), 0))
        job = jobs.start("alice", STEPS, step_ms=1)
        gone, watching = Inbox("gone"), Inbox("watching")
        jobs.snapshot(gone, "alice", job.id)
        jobs.snapshot(watching, "alice", job.id)
        jobs.unsubscribe(gone)
        await until_halted(watching)
        return len(gone.events), len(watching.events)

    gone, watching = run(body())
    assert gone == 0 and watching > 0


def test_snapshot_refuses_another_users_job_and_an_unknown_one() -> None:
    async def body() -> None:
        jobs = JobService(WorkerContext.for_worker(Config(), 0))
        job = jobs.start("alice", 0, step_ms=0)
        inbox = Inbox("bob's inbox")
        with pytest.raises(JobForbidden):
            jobs.snapshot(inbox, "bob", job.id)
        with pytest.raises(JobNotFound):
            jobs.snapshot(inbox, "bob", "w0-nope-j1")
        assert inbox not in jobs.subscriptions  # nothing registered

    run(body())

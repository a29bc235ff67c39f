"""/metrics shows what the workers hold now: jobs running, jobs kept, background tasks (summed)."""

from __future__ import annotations

import asyncio

import pytest

from loadgen.protocol import metrics as names
from loadgen.protocol.jobs import HALTED
from tests.support.target import Target
from tests.target.client import Client, ametric, run

pytestmark = pytest.mark.e2e

HELD = (names.JOBS_RUNNING, names.JOBS_KEPT, names.BACKGROUND_TASKS)
STEPS = 4


async def held(target: Target) -> dict[str, float]:
    return {name: await ametric(target, name) for name in HELD}


async def until_held(target: Target, want: dict[str, float], timeout: float = 10.0) -> None:
    """Poll /metrics until the three gauges are exactly ``want`` (fails at the deadline)."""
    async with asyncio.timeout(timeout):
        while (now := await held(target)) != want:
            await asyncio.sleep(0.02)
    assert now == want


def test_an_idle_target_holds_one_sweeper_task_per_worker(target: Target) -> None:
    """With no job running, the only background task of each worker is its sweeper (jobs kept by
    an earlier test hold no task)."""
    async def body() -> None:
        async with asyncio.timeout(10):
            while (now := await held(target))[names.JOBS_RUNNING] != 0:
                await asyncio.sleep(0.02)
        assert now[names.BACKGROUND_TASKS] == target.listening["workers"]

    run(body())


def test_a_job_counts_as_running_then_kept(target: Target) -> None:
    """A job whose steps take a while is running (one more task) until it halts, then kept."""
    async def body() -> None:
        before = await held(target)
        client = await Client.ready(target)
        job = (await client.request({"op": "start", "steps": STEPS, "step_ms": 500}))["job"]
        await until_held(target, {**before, names.JOBS_RUNNING: before[names.JOBS_RUNNING] + 1,
                                  names.BACKGROUND_TASKS: before[names.BACKGROUND_TASKS] + 1})
        snapshot = await client.request({"op": "subscribe", "job": job})
        state = snapshot["state"]
        while state != HALTED:  # a ticker's last step halts the job
            state = (await client.recv(timeout=10))["state"]
        await until_held(target, {**before, names.JOBS_KEPT: before[names.JOBS_KEPT] + 1})
        await client.close()

    run(body())

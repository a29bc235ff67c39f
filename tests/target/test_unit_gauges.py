"""The gauges of what a worker holds (jobs running, jobs kept, background tasks) follow the real
job service and task set, with no sockets: a worker context and real tickers on an event loop."""

from __future__ import annotations

import asyncio

from loadgen.protocol.jobs import JobRegistry
from target_app.config import Config
from target_app.context import WorkerContext
from target_app.jobs import JobService
from target_app.tasks import TaskSet
from tests.target.client import run

STEPS = 3


def gauges(context: WorkerContext) -> tuple[float, float, float]:
    """(jobs running, jobs kept, background tasks) as the worker's metrics hold them now."""
    m = context.metrics
    return m.jobs_running._value.get(), m.jobs_kept._value.get(), m.background_tasks._value.get()


async def until_done(jobs: JobService) -> None:
    """Wait (bounded) until every ticker task of ``jobs`` has finished."""
    async with asyncio.timeout(5):
        while len(jobs.context.tasks):
            await asyncio.sleep(0.001)


def test_a_job_is_running_while_it_ticks_then_kept_until_swept() -> None:
    """A started job counts as running (and its ticker as a task); halted it is kept; swept, gone."""
    async def body() -> list[tuple[float, float, float]]:
        context = WorkerContext.for_worker(Config(), 0)
        jobs = JobService(context)
        jobs.registry = JobRegistry(retention_s=0.0)  # forgotten at the first sweep after it halts
        seen = [gauges(context)]
        jobs.start("alice", STEPS, step_ms=1)
        seen.append(gauges(context))
        await until_done(jobs)
        seen.append(gauges(context))
        await asyncio.sleep(0.01)  # the retention (0 s) is strictly passed: expire compares with >
        gone = jobs.expire()
        seen.append(gauges(context))
        assert gone == 1
        return seen

    assert run(body()) == [(0, 0, 0), (1, 0, 1), (0, 1, 0), (0, 0, 0)]


def test_a_fast_halt_is_kept_at_once_and_needs_no_task() -> None:
    """A job of 0 steps is halted when made: kept, never running, no ticker task."""
    async def body() -> tuple[float, float, float]:
        context = WorkerContext.for_worker(Config(), 0)
        JobService(context).start("alice", 0, step_ms=0)
        return gauges(context)

    assert run(body()) == (0, 1, 0)


def test_a_ticker_cancelled_before_its_first_step_stops_counting_as_running() -> None:
    """Cancelled before it ever ran (a shutdown right after a start), the ticker's job is no longer
    running; its job, never halted, is still held and counts as kept (what a soak must see)."""
    async def body() -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        context = WorkerContext.for_worker(Config(), 0)
        JobService(context).start("alice", STEPS, step_ms=1000)
        started = gauges(context)
        await asyncio.wait(context.tasks.cancel_all())
        return started, gauges(context)

    started, cancelled = run(body())
    assert started == (1, 0, 1)
    assert cancelled == (0, 1, 0)


def test_a_task_set_reports_its_size_on_every_change() -> None:
    """Spawning and finishing tasks reports each new size, in order."""
    async def body() -> list[int]:
        sizes: list[int] = []
        tasks = TaskSet(lambda exc, what: None, sizes.append)
        release = asyncio.Event()
        first = tasks.spawn(release.wait(), name="first")
        second = tasks.spawn(release.wait(), name="second")
        release.set()
        await asyncio.wait([first, second])
        await asyncio.sleep(0)  # done-callbacks run on the loop's next turn
        return sizes

    assert run(body()) == [1, 2, 1, 0]

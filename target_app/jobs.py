"""The jobs of one worker process: ``start``, ``subscribe``, their tickers and their state events.

A job id is known only to the worker that created it: with ``--workers N``, a connection that lands
on another worker gets ``not_found`` for it. Ids carry the worker index (``w0-…``, see :mod:`.ids`)
so clients and tests can tell which worker they reached. Halted jobs stay subscribable for
:data:`~loadgen.protocol.jobs.HALTED_RETENTION_S` (60 s); the sweeper forgets them some time after.

The correctness argument is that nothing here awaits between the steps that must not be separated:
:meth:`JobService.snapshot` registers the subscriber and takes the snapshot in one call of the pure
registry, and the subscribe reply is queued in the same step; a ticker advances a job and queues its
event on every subscriber's outbox in one step (:meth:`JobService.publish` has no await). So each
subscriber gets the snapshot, then every later change, in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobForbidden, JobNotFound, JobRegistry, JobState

if TYPE_CHECKING:
    from target_app.app import App
    from target_app.connection import Connection

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S: Final = 5.0


class JobService:
    def __init__(self, app: App) -> None:
        self.app = app
        self.registry = JobRegistry()

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def start(self, owner: str, steps: int, step_ms: int) -> Job:
        """Create a job and start its ticker (a fast halt, ``steps == 0``, needs none)."""
        job = self.registry.create(self.app.ids.job(), owner, steps, step_ms, self.now())
        self.app.metrics.jobs_started.inc()
        if not job.halted:
            self.app.tasks.spawn(self._tick(job), name=f"job {job.id}")
        return job

    async def subscribe(self, conn: Connection, op: wire.Subscribe) -> None:
        """Answer a subscribe: the snapshot reply, or ``forbidden`` / ``not_found``."""
        try:
            state = self.snapshot(conn, op.job)
        except JobNotFound:
            await conn.reply(wire.error(wire.NOT_FOUND, f"no job {op.job!r} on this worker", op.id))
            return
        except JobForbidden:
            await conn.reply(wire.error(wire.FORBIDDEN, f"job {op.job!r} is another user's", op.id))
            return
        await conn.reply(wire.subscribed(op.id, op.job, state.state, state.step))

    def snapshot(self, conn: Connection, job_id: str) -> JobState:
        """Register ``conn`` for the job's later changes and return its state now, in one step."""
        assert conn.user is not None
        state = self.registry.subscribe(job_id, conn.user, conn)
        conn.subscriptions.add(job_id)
        return state

    def unsubscribe(self, conn: Connection) -> None:
        """``conn`` is closing: it gets no more events."""
        if conn.user is None:
            return
        for job_id in conn.subscriptions:
            try:
                job = self.registry.get(job_id, conn.user)
            except JobNotFound:
                continue  # already expired
            job.subscribers.discard(conn)
        conn.subscriptions.clear()

    async def _tick(self, job: Job) -> None:
        """Move a job on every ``step_ms`` (deadlines from its start, so steps don't drift)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while not job.halted:
            deadline += job.step_ms / 1000
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            job, state = self.registry.advance(job.id, loop.time())
            await self.publish(job, state)

    async def publish(self, job: Job, state: JobState) -> None:
        """Queue a state event on every subscriber of ``job``.

        A coroutine only so that a fault may replace it with one that awaits; this one never does,
        so no subscription can fall between the advance and the fan-out.
        """
        event = wire.state_event(job.id, job.owner, state.state, state.step)
        for conn in tuple(job.subscribers):
            conn.send(dict(event))  # each connection stamps its own seq on its own copy
        if job.halted:
            job.subscribers.clear()

    def expire(self) -> int:
        gone = self.registry.expire(self.now())
        if gone:
            log.debug("forgot %d halted jobs", gone)
        return gone


async def sweep_expired_jobs(jobs: JobService, interval: float = SWEEP_INTERVAL_S) -> None:
    """Forget halted jobs past their retention, every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        jobs.expire()

"""The jobs of one worker process: ``start``, ``subscribe``, their tickers and their state events.

Without a broker a job id is known only to the worker that created it: with ``--workers N``, a
connection that lands on another worker gets ``not_found`` for it. With one (``--broker``), the
service is handed a :class:`JobBus` (:meth:`JobService.share`, :mod:`target_app.broker`): the jobs
it starts are also written to the bus, and a job it does not hold is looked up there. Either way
the jobs a worker owns are served from memory, exactly as here. Ids carry the worker index
(``w0-…``, see :mod:`.ids`) so clients and tests can tell which worker they reached. Halted jobs stay subscribable for
:data:`~loadgen.protocol.jobs.HALTED_RETENTION_S` (60 s); the sweeper forgets them some time after.

The service knows its subscribers only as :class:`Subscriber` (something with a name that takes a
state event without waiting), never as a connection: a connection calls the service, not the other
way round. It depends on the worker's :class:`~target_app.context.WorkerContext` and nothing else
of the app.

The correctness argument is that nothing here awaits between the steps that must not be separated:
:meth:`JobService.snapshot` registers the subscriber and takes the snapshot in one call of the pure
registry, and the caller queues the subscribe reply in the same step; a ticker advances a job and
queues its event on every subscriber's outbox in one step (:meth:`JobService.publish` has no await).
So each subscriber gets the snapshot, then every later change, in order.

Two gauges say what the service holds, for a soak to see that nothing stays behind: jobs whose
ticker runs (``wsrace_jobs_running``) and jobs held without one (``wsrace_jobs_kept``: halted and
subscribable until the sweeper forgets them; a job whose ticker died before it halted stays here
for ever, which is the leak a soak must see). They are recounted from the registry and the ticker
count whenever either changes, not kept as running totals that could drift.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final, Protocol, cast

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobNotFound, JobRegistry, JobState
from target_app.context import WorkerContext
from target_app.outbox import Message

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S: Final = 5.0


class Subscriber(Protocol):
    """Who gets a job's state events (a connection, in the app)."""

    @property
    def name(self) -> str: ...

    def deliver(self, event: Message) -> None:
        """Take one state event; never waits (a ticker must not block on a slow client)."""


class SharedJob(Protocol):
    """A job found on the bus, with its snapshot."""

    @property
    def state(self) -> JobState: ...

    def release(self) -> None:
        """The subscribe reply is queued: deliver what came after the snapshot, then go live."""


class JobBus(Protocol):
    """Jobs across workers (:class:`target_app.broker.RedisJobBus`)."""

    def own(self, job: Job) -> None:
        """A job this worker just started: put it on the bus and relay its changes there."""

    async def announced(self, job_id: str) -> None:
        """Return once every worker can find the job."""

    async def subscribe(self, subscriber: Subscriber, user: str, job_id: str) -> SharedJob:
        """Register for a job of another worker and read its snapshot (raises JobNotFound,
        JobForbidden)."""

    def unsubscribe(self, subscriber: Subscriber) -> None: ...


def subscribers_of(job: Job) -> tuple[Subscriber, ...]:
    """The job's subscribers now (the pure registry keeps them as plain hashables)."""
    return cast(tuple[Subscriber, ...], tuple(job.subscribers))


class JobService:
    def __init__(self, context: WorkerContext) -> None:
        self.context = context
        self.registry = JobRegistry()
        self.subscriptions: dict[Subscriber, dict[str, str]] = {}
        """subscriber -> {job id: user}: what :meth:`unsubscribe` has to undo."""
        self._tickers = 0
        """Ticker tasks not done yet (counted from spawn to done-callback: a ticker cancelled
        before its first step never runs its own ``finally``)."""
        self.shared: JobBus | None = None
        """The bus of jobs across workers, if the server has a broker."""

    def share(self, bus: JobBus) -> None:
        """From now on, jobs are shared with the other workers through ``bus``."""
        self.shared = bus

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def start(self, owner: str, steps: int, step_ms: int) -> Job:
        """Create a job and start its ticker (a fast halt, ``steps == 0``, needs none)."""
        job = self.registry.create(self.context.ids.job(), owner, steps, step_ms, self.now())
        self.context.metrics.jobs_started.inc()
        if self.shared is not None:
            self.shared.own(job)  # before the ticker can take a step: the bus sees them in order
        if not job.halted:
            ticker = self.context.tasks.spawn(self._tick(job), name=f"job {job.id}")
            self._tickers += 1
            ticker.add_done_callback(self._ticker_done)
        self._count_jobs()
        return job

    async def known(self, job: Job) -> None:
        """Return once every worker can find ``job`` (at once without a broker)."""
        if self.shared is not None:
            await self.shared.announced(job.id)

    def _ticker_done(self, _task: asyncio.Task[None]) -> None:
        self._tickers -= 1
        self._count_jobs()

    def _count_jobs(self) -> None:
        """Set the two job gauges from what is held now (tickers <= jobs: a ticker's job is kept)."""
        self.context.metrics.jobs_running.set(self._tickers)
        self.context.metrics.jobs_kept.set(len(self.registry) - self._tickers)

    def snapshot(self, subscriber: Subscriber, user: str, job_id: str) -> JobState:
        """Register ``subscriber`` for the job's later changes and return its state now, in one step.

        Raises :exc:`~loadgen.protocol.jobs.JobNotFound` or
        :exc:`~loadgen.protocol.jobs.JobForbidden` (another user's job) and then registers nothing.
        """
        state = self.registry.subscribe(job_id, user, subscriber)
        self.subscriptions.setdefault(subscriber, {})[job_id] = user
        return state

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """``subscriber`` is closing: it gets no more events."""
        if self.shared is not None:
            self.shared.unsubscribe(subscriber)
        subscribed = self.subscriptions.pop(subscriber, {})
        for job_id, user in subscribed.items():
            try:
                job = self.registry.get(job_id, user)
            except JobNotFound:
                continue  # already expired
            job.subscribers.discard(subscriber)
        if subscribed:
            log.debug("%s: unsubscribed from %d jobs", subscriber.name, len(subscribed))

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
        for subscriber in subscribers_of(job):
            subscriber.deliver(dict(event))  # each connection stamps its own seq on its own copy
        if job.halted:
            job.subscribers.clear()

    def expire(self) -> int:
        gone = self.registry.expire(self.now())
        if gone:
            log.debug("forgot %d halted jobs", gone)
            self._count_jobs()
        return gone


async def sweep_expired_jobs(jobs: JobService, interval: float = SWEEP_INTERVAL_S) -> None:
    """Forget halted jobs past their retention, every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        jobs.expire()

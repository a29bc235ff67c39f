"""Jobs across worker processes through a message bus (``--broker redis://…`` or ``unix:///…``).

Without a broker each worker keeps its jobs to itself (:mod:`target_app.jobs`), and a connection on
another worker gets ``not_found``. With one, PROTOCOL.md 1.1 holds whichever worker a user's
connections land on, the way Socket.IO's Redis adapter and Django Channels' channel layer do it:
Redis pub/sub plus one hash per job.

**Ownership.** The worker that runs a job's ticker owns it; nothing else ever writes it. Its local
job service works exactly as without a broker (local subscribers are served from memory, in one
step); in addition a *relay* is one more subscriber of each job it starts. The relay turns every
state event into one MULTI/EXEC on Redis: ``HSET`` the job's hash (owner, state, step, with an
expiry of the remaining steps plus ≥ 60 s, see :func:`~target_app.broker_merge.ttl_s`), then
``PUBLISH`` the event on the job's channel. Every write of the worker goes through one writer task
over one connection, in order, so Redis applies a job's creation and its changes in the order they
happened. ``start`` replies only once the creation is on Redis: a job id a client holds is known to
every worker.

**Subscribing from another worker**, for connection C and job J (:meth:`RedisJobBus.subscribe`):

1. register C's :class:`~target_app.broker_merge.Merge` for J (pending: it buffers J's events);
2. ``SUBSCRIBE`` J's channel on the worker's pub/sub connection (once per worker and job) and wait
   for Redis' confirmation;
3. then ``HGETALL`` J's hash: missing → ``not_found``, another owner → ``forbidden``, else the
   snapshot (state, step);
4. in one step (no await): queue the ``subscribed`` reply, then the buffered events whose step is
   beyond the snapshot's; from then on each event is delivered if its step is beyond the last.

Why no change is lost or duplicated: Redis runs commands one at a time, so the owner's change k
(its HSET and PUBLISH, one transaction) falls either before the SUBSCRIBE, between SUBSCRIBE and
HGETALL, or after the HGETALL (which was sent only after the SUBSCRIBE was confirmed). Before the
SUBSCRIBE: not delivered to us, but in the snapshot. Between: delivered and in the snapshot: its
step is ≤ the snapshot's, dropped. After: delivered, and its step is beyond the snapshot's (steps
only grow), so it goes out, after the reply. A job's step is its sequence number; events of one job
arrive in publish order on the one pub/sub connection. So C gets the snapshot, then every later
change once, in order; a job that halted before step 3 gives ``halted`` and nothing more.

**Channels on a worker.** One pub/sub connection per worker; a channel is subscribed while some
connection of the worker wants it. Every SUBSCRIBE and UNSUBSCRIBE goes out through one control task
in order, and a channel is unsubscribed only once its SUBSCRIBE was confirmed, so each confirmation
belongs to the one subscription waiting for it (an event still in flight for a channel that was just
unsubscribed is dropped or, if the channel was subscribed again, filtered by the steps as above).

Not covered here (the reliability issue's): a worker that dies leaves its running jobs' hashes
``running`` until they expire; a lost Redis connection is reconnected by redis-py, and events
published meanwhile are lost. A broker that does not answer within :data:`BUS_TIMEOUT_S` is a
server failure: counted in ``wsrace_unhandled_errors_total``, the connection closed with 1011.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import orjson

from loadgen.protocol.jobs import Job, JobForbidden, JobNotFound, JobState
from target_app import broker_merge as m
from target_app.context import WorkerContext
from target_app.jobs import Subscriber
from target_app.outbox import Message

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline, PubSub

__all__ = ["BUS_TIMEOUT_S", "BrokerUnavailable", "RedisJobBus", "open_bus", "raise_if_cancelled", "reachable"]

log = logging.getLogger(__name__)

BUS_TIMEOUT_S: Final = 5.0
"""Deadline of every round trip to the broker (a write batch, a subscription, a read)."""
CLOSE_TIMEOUT_S: Final = 0.25
"""Closing the connections at shutdown, within the worker's shutdown margin."""
BATCH: Final = 512
"""Writes per MULTI/EXEC: a burst of changes goes in a few round trips, not one each."""
MAX_PENDING: Final = 100_000
"""Writes queued for the broker at most; past that a change is dropped, counted and logged
(only a broker that stopped answering gets here: the writer empties the queue every round trip)."""
CONTROL_CHANNEL: Final = b"wsrace:bus"
"""Subscribed by every worker for its whole life and never published on: it keeps the pub/sub
connection subscribed (redis-py reads only from a subscribed connection)."""


class BrokerUnavailable(Exception):
    """The broker did not answer in time, or refused a command."""


def raise_if_cancelled(exc: BaseException) -> None:
    """Re-raise a cancellation that redis-py turned into an error of its own.

    Cancelled while it waits on a socket, redis-py may disconnect and raise a ``ConnectionError``
    (a ``RedisError``) in place of the ``CancelledError``: a task that handles that error and goes
    on would never stop. Seen at shutdown: the broker writer, cancelled inside ``pipe.execute()``,
    reported a failed write and waited for the next one; the worker overran its shutdown timeout
    and was killed (``target_shutdown`` failed on a correct target).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


def _client(url: str) -> Redis:
    from redis.asyncio import from_url  # only with --broker: the default path never loads redis

    return from_url(url, socket_connect_timeout=BUS_TIMEOUT_S, socket_timeout=BUS_TIMEOUT_S)


async def reachable(url: str) -> str | None:
    """None if the broker answers PING within the deadline, else why not (for the start-up check)."""
    from redis.exceptions import RedisError

    client = _client(url)
    try:
        async with asyncio.timeout(BUS_TIMEOUT_S):
            await client.ping()
    except (RedisError, OSError, TimeoutError) as exc:
        return str(exc) or type(exc).__name__
    finally:
        await client.aclose()
    return None


async def open_bus(url: str, context: WorkerContext, bus_class: type[RedisJobBus] | None = None) -> RedisJobBus:
    """Connect, subscribe the control channel, start the writer, reader and control tasks.

    ``bus_class``: a fault's subclass (:mod:`target_app.faults`); the correct bus by default.

    Raises :exc:`BrokerUnavailable` if the broker does not answer within :data:`BUS_TIMEOUT_S`.
    """
    from redis.exceptions import RedisError

    client = _client(url)
    pubsub = client.pubsub()
    try:
        async with asyncio.timeout(BUS_TIMEOUT_S):
            await client.ping()
            await pubsub.subscribe(CONTROL_CHANNEL)
    except (RedisError, OSError, TimeoutError) as exc:
        await pubsub.aclose()
        await client.aclose()
        raise BrokerUnavailable(str(exc) or type(exc).__name__) from exc
    bus = (bus_class or RedisJobBus)(client, pubsub, context)
    bus.start()
    return bus


@dataclass(frozen=True, slots=True)
class _Write:
    """One job's hash rewrite (and, for a change, its event to publish), as the writer sends it."""

    job_id: str
    fields: dict[str, str | int]
    ttl: int
    payload: bytes | None = None
    created: asyncio.Future[None] | None = None
    """A creation's: done once it is on the bus."""


@dataclass(eq=False)
class _Channel:
    """One job's channel on this worker and who here wants its events."""

    job_id: str
    ready: asyncio.Future[None]
    """Done once Redis confirmed the SUBSCRIBE."""
    subs: dict[Subscriber, m.Merge] = field(default_factory=dict)


class _Relay:
    """The owner's extra subscriber of each of its jobs: every event it gets goes to the bus."""

    name = "broker relay"

    def __init__(self, bus: RedisJobBus) -> None:
        self._bus = bus

    def deliver(self, event: Message) -> None:
        self._bus.changed(event)


@dataclass(frozen=True)
class Found:
    """A job found on the bus: its snapshot, and :meth:`release` to call once the reply is queued."""

    state: JobState
    _bus: RedisJobBus
    _subscriber: Subscriber
    _job_id: str

    def release(self) -> None:
        """Deliver the buffered events beyond the snapshot; the subscription is live from now on."""
        self._bus.went_live(self._subscriber, self._job_id, self.state)


class RedisJobBus:
    """One worker's side of the bus: the writes of the jobs it owns, the subscriptions it holds."""

    def __init__(self, client: Redis, pubsub: PubSub, context: WorkerContext) -> None:
        self._client = client
        self._pubsub = pubsub
        self._context = context
        self._relay = _Relay(self)
        self._writes: list[_Write] = []
        """In the order they happened."""
        self._created: dict[str, asyncio.Future[None]] = {}
        """job id -> done once its creation is on the bus (until :meth:`announced` takes it)."""
        self._write_wake = asyncio.Event()
        self._channels: dict[bytes, _Channel] = {}
        self._of: dict[Subscriber, set[str]] = {}
        self._control: collections.deque[tuple[str, bytes]] = collections.deque()
        self._control_wake = asyncio.Event()
        self._steps: dict[str, tuple[int, int]] = {}
        """job id -> (steps, step_ms) of the jobs this worker owns and still runs (for the ttl)."""

    def start(self) -> None:
        tasks = self._context.tasks
        tasks.spawn(self._write_loop(), name="broker writer")
        tasks.spawn(self._read_loop(), name="broker reader")
        tasks.spawn(self._control_loop(), name="broker subscriptions")

    async def close(self) -> None:
        """Close both connections (the tasks were cancelled with the worker's background tasks)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._pubsub.aclose()
                await self._client.aclose()

    # ----------------------------------------------------------------------------- the owner

    def own(self, job: Job) -> None:
        """A job this worker just started: write it to the bus, relay its changes there."""
        created = self._created[job.id] = asyncio.get_running_loop().create_future()
        if not job.halted:
            self._steps[job.id] = (job.steps, job.step_ms)
            job.subscribers.add(self._relay)
        self._queue(_Write(job.id, m.creation(job.owner, job.state, job.steps, job.step_ms),
                           m.ttl_s(job.state, job.steps, job.step_ms), created=created))

    async def announced(self, job_id: str) -> None:
        """Return once the job's creation is on the bus (any worker can find it from now on)."""
        created = self._created.pop(job_id, None)
        if created is None:
            return
        try:
            async with asyncio.timeout(BUS_TIMEOUT_S):
                await created
        except TimeoutError:
            raise BrokerUnavailable(f"job {job_id} not written to the broker in {BUS_TIMEOUT_S:g} s") from None

    def changed(self, event: Message) -> None:
        """The relay got a state event of one of our jobs: rewrite its hash, publish the event."""
        job_id = str(event["job"])
        state = JobState(str(event["state"]), int(event["step"]))
        steps, step_ms = self._steps.get(job_id, (0, 0))
        if state.state == m.HALTED:
            self._steps.pop(job_id, None)
        self._queue(_Write(job_id, m.change(state), m.ttl_s(state, steps, step_ms),
                           payload=orjson.dumps(event)))

    def _queue(self, write: _Write) -> None:
        if len(self._writes) >= MAX_PENDING:
            self._context.metrics.dropped_messages.inc()
            log.error("broker: %d writes queued; dropped a change of job %s", MAX_PENDING, write.job_id)
            return
        self._writes.append(write)
        self._write_wake.set()

    async def _write_loop(self) -> None:
        """The worker's only writer: as soon as there are writes, they go out (:meth:`_flush`)."""
        while True:
            await self._write_wake.wait()
            self._write_wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Every queued write, in batches, each batch one MULTI/EXEC, in order."""
        while self._writes:
            batch, self._writes = self._writes[:BATCH], self._writes[BATCH:]
            await self._send(batch)

    async def _send(self, batch: list[_Write]) -> None:
        """One batch of writes as one MULTI/EXEC; each creation's future says how it went."""
        if not batch:
            return
        pipe: Pipeline = self._client.pipeline(transaction=True)
        for write in batch:
            pipe.hset(m.key(write.job_id), mapping=write.fields)
            pipe.expire(m.key(write.job_id), write.ttl)
            if write.payload is not None:
                pipe.publish(m.channel(write.job_id), write.payload)
        failure = await self._execute(pipe, len(batch))
        for write in batch:
            if write.created is not None and not write.created.done():
                if failure is None:
                    write.created.set_result(None)
                else:
                    write.created.set_exception(failure)
                    write.created.exception()  # its waiter, if any, sees it; no warning

    async def _execute(self, pipe: Pipeline, size: int) -> BrokerUnavailable | None:
        from redis.exceptions import RedisError

        try:
            async with asyncio.timeout(BUS_TIMEOUT_S):
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            raise_if_cancelled(exc)
            failure = BrokerUnavailable(f"broker write of {size} job changes failed: {exc!r}")
            self._context.report_failure(failure, "broker writer")
            return failure
        return None

    # ------------------------------------------------------------------------ the subscriber

    async def subscribe(self, subscriber: Subscriber, user: str, job_id: str) -> Found:
        """Steps 1-3 of the module docstring; the caller queues the reply, then calls ``release``.

        Raises :exc:`JobNotFound`, :exc:`JobForbidden` (then nothing stays registered) or
        :exc:`BrokerUnavailable`.
        """
        from redis.exceptions import RedisError

        entry = self._register(subscriber, job_id)
        try:
            async with asyncio.timeout(BUS_TIMEOUT_S):
                await asyncio.shield(entry.ready)
                fields = await self._client.hgetall(m.key(job_id))
        except (RedisError, OSError, TimeoutError) as exc:
            self._drop(subscriber, job_id)
            raise_if_cancelled(exc)
            raise BrokerUnavailable(f"subscribing to {job_id} through the broker failed: {exc!r}") from exc
        except BaseException:
            self._drop(subscriber, job_id)
            raise
        record = m.read_record(fields)
        if record is None:
            self._drop(subscriber, job_id)
            raise JobNotFound(job_id)
        if record.owner != user:
            self._drop(subscriber, job_id)
            raise JobForbidden(job_id)
        return Found(record.state, self, subscriber, job_id)

    def _register(self, subscriber: Subscriber, job_id: str) -> _Channel:
        """Steps 1-2: ``subscriber``'s merge for the job (buffering), and the job's channel on this
        worker, its SUBSCRIBE asked if it is new (``ready`` once Redis confirms it)."""
        name = m.channel(job_id)
        entry = self._channels.get(name)
        if entry is None:
            entry = _Channel(job_id, asyncio.get_running_loop().create_future())
            self._channels[name] = entry
            self._send_control("subscribe", name)
        entry.subs[subscriber] = m.Merge()
        self._of.setdefault(subscriber, set()).add(job_id)
        return entry

    def went_live(self, subscriber: Subscriber, job_id: str, state: JobState) -> None:
        entry = self._channels.get(m.channel(job_id))
        merge = None if entry is None else entry.subs.get(subscriber)
        if merge is None:
            return  # the subscriber closed meanwhile
        for event in merge.snapshot(state):
            subscriber.deliver(dict(event))
        if merge.done:
            self._drop(subscriber, job_id)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """``subscriber`` is closing: it gets nothing more from the bus."""
        for job_id in tuple(self._of.get(subscriber, ())):
            self._drop(subscriber, job_id)

    def _drop(self, subscriber: Subscriber, job_id: str) -> None:
        name = m.channel(job_id)
        jobs = self._of.get(subscriber)
        if jobs is not None:
            jobs.discard(job_id)
            if not jobs:
                del self._of[subscriber]
        entry = self._channels.get(name)
        if entry is None:
            return
        entry.subs.pop(subscriber, None)
        if not entry.subs and entry.ready.done():
            self._forget(name)

    def _forget(self, name: bytes) -> None:
        del self._channels[name]
        self._send_control("unsubscribe", name)

    def _send_control(self, verb: str, name: bytes) -> None:
        self._control.append((verb, name))
        self._control_wake.set()

    async def _control_loop(self) -> None:
        """Every SUBSCRIBE and UNSUBSCRIBE of the worker, in the order they were asked for."""
        from redis.exceptions import RedisError

        while True:
            await self._control_wake.wait()
            self._control_wake.clear()
            while self._control:
                verb, name = self._control.popleft()
                try:
                    async with asyncio.timeout(BUS_TIMEOUT_S):
                        await getattr(self._pubsub, verb)(name)
                except (RedisError, OSError, TimeoutError) as exc:
                    raise_if_cancelled(exc)
                    failure = BrokerUnavailable(f"broker {verb} {name!r} failed: {exc!r}")
                    self._context.report_failure(failure, "broker subscriptions")
                    entry = self._channels.pop(name, None) if verb == "subscribe" else None
                    if entry is not None and not entry.ready.done():
                        entry.ready.set_exception(failure)
                        entry.ready.exception()  # its waiters see it; no "never retrieved" warning

    async def _read_loop(self) -> None:
        """The pub/sub connection's messages: confirmations and events, in the order Redis sent them."""
        while True:
            message = await self._pubsub.get_message(timeout=None)  # waits until cancelled
            if message is None:
                continue
            kind, name = message["type"], message["channel"]
            if kind == "message":
                self._dispatch(name, message["data"])
            elif kind == "subscribe":
                self._confirmed(name)

    def _confirmed(self, name: bytes) -> None:
        entry = self._channels.get(name)
        if entry is None or entry.ready.done():
            return  # the control channel
        entry.ready.set_result(None)
        if not entry.subs:  # everyone left while the SUBSCRIBE was on its way
            self._forget(name)

    def _dispatch(self, name: bytes, data: bytes) -> None:
        entry = self._channels.get(name)
        if entry is None:
            return  # unsubscribed here meanwhile: nobody on this worker is owed it
        event: m.Event = orjson.loads(data)
        for subscriber, merge in tuple(entry.subs.items()):
            out = merge.event(event)
            if out is not None:
                subscriber.deliver(dict(out))
            if merge.done:
                self._drop(subscriber, entry.job_id)

"""``--fault unsafe-close``: sends that race a close are not guarded.

Three parts of one habit - "a send can't fail, the connection is open, I just checked":

1. State events go out through one shared notifier task per process, which sends straight to each
   subscriber's socket. It forgets subscribers whose send raised ``ConnectionClosedOK``, and relies
   on that instead of unsubscribing connections when they close. A subscriber that closed with any
   other code (4000-4999 via the close op, or a dropped TCP connection) raises
   ``ConnectionClosedError``: the notifier dies, and every user of the worker stops getting events.
2. Handlers then "fail loudly rather than serve without events": every op checks the notifier and
   re-raises its exception - each connection that sends an op is closed with 1011.
3. Handlers send their replies themselves, unguarded, and the ``close`` op closes the socket and
   carries on reading: a reply to what the client sent after the close (or while closing) raises
   out of the handler.

Every crash counts in ``wsrace_unhandled_errors_total``. The correct app sends through one writer
per connection that expects ``ConnectionClosed`` at the send site, unsubscribes a connection as it
starts closing, and ignores what a client sends after a close op.

Waiting in ``close()`` on the connection's only reader is part of the habit, and it can stall: with
more data frames waiting unread than websockets' receive window (``max_queue``, 16), websockets has
stopped reading the socket until the reader drains them, so the client's answering close frame is
never read, and the handshake hangs until the close timeout (10 s) drops the connection; only then
do the replies to the waiting ops crash. The crash comes, but late.

Detection: ``unhandled_errors`` grows when a client closes while ops are in flight; after a
subscriber closes with 4000 mid-job, other users' jobs never report ``halted`` and their next op
is answered with close 1011.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, cast

import orjson
from websockets.exceptions import ConnectionClosedOK

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobState
from target_app.connection import Connection, Message
from target_app.context import WorkerContext
from target_app.jobs import JobService, Subscriber
from target_app.wiring import Parts


class DirectSubscriber(Subscriber, Protocol):
    """A subscriber the shared notifier can write to itself, bypassing its outbox."""

    async def send_now(self, message: Message) -> None: ...


class UnsafeCloseJobs(JobService):
    def __init__(self, context: WorkerContext) -> None:
        super().__init__(context)
        self._queue: asyncio.Queue[tuple[Job, Message]] = asyncio.Queue()
        self._notifier: asyncio.Task[None] | None = None

    async def publish(self, job: Job, state: JobState) -> None:
        if self._notifier is None:
            self._notifier = self.context.tasks.spawn(self._notify(), name="shared notifier")
        self._queue.put_nowait((job, wire.state_event(job.id, job.owner, state.state, state.step)))

    async def _notify(self) -> None:
        while True:
            job, event = await self._queue.get()
            for subscriber in tuple(job.subscribers):
                try:
                    await cast(DirectSubscriber, subscriber).send_now(dict(event))
                except ConnectionClosedOK:
                    job.subscribers.discard(subscriber)  # closed normally: forget it
                    continue
                # THE BUG: ConnectionClosedError is not caught above; it ends this task.
            if job.halted:
                job.subscribers.clear()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscriptions.pop(subscriber, None)  # "the notifier forgets closed subscribers itself"

    def raise_if_notifier_failed(self) -> None:
        if self._notifier is not None and self._notifier.done() and not self._notifier.cancelled():
            self._notifier.result()  # re-raises the notifier's ConnectionClosedError


class UnsafeCloseConnection(Connection):
    __slots__ = ()

    async def dispatch(self, op: wire.Op) -> None:
        jobs = self.jobs
        assert isinstance(jobs, UnsafeCloseJobs)
        jobs.raise_if_notifier_failed()
        if isinstance(op, wire.Close):
            await self.ws.close(op.code, op.reason)  # and the loop goes on handling messages
            return
        await super().dispatch(op)

    async def reply(self, message: Message) -> None:
        await self.send_now(message)

    async def send_now(self, message: Message) -> None:
        await self.ws.send(orjson.dumps(self.seq.stamp(message)), text=True)  # unguarded
        self.context.metrics.messages_sent.inc()


PARTS = Parts(jobs=UnsafeCloseJobs, connection=UnsafeCloseConnection)

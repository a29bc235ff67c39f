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

Detection: ``unhandled_errors`` grows when a client closes while ops are in flight; after a
subscriber closes with 4000 mid-job, other users' jobs never report ``halted`` and their next op
is answered with close 1011.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import orjson
from websockets.exceptions import ConnectionClosedOK

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobState
from target_app.connection import Connection, Message
from target_app.jobs import JobService
from target_app.wiring import Wiring

if TYPE_CHECKING:
    from target_app.app import App


class UnsafeCloseJobs(JobService):
    def __init__(self, app: App) -> None:
        super().__init__(app)
        self._queue: asyncio.Queue[tuple[Job, Message]] = asyncio.Queue()
        self._notifier: asyncio.Task[None] | None = None

    async def publish(self, job: Job, state: JobState) -> None:
        if self._notifier is None:
            self._notifier = self.app.tasks.spawn(self._notify(), name="shared notifier")
        self._queue.put_nowait((job, wire.state_event(job.id, job.owner, state.state, state.step)))

    async def _notify(self) -> None:
        while True:
            job, event = await self._queue.get()
            for conn in tuple(job.subscribers):
                try:
                    await conn.ws.send(orjson.dumps(conn.seq.stamp(dict(event))), text=True)
                except ConnectionClosedOK:
                    job.subscribers.discard(conn)  # closed normally: forget it
                    continue
                # THE BUG: ConnectionClosedError is not caught above; it ends this task.
                self.app.metrics.messages_sent.inc()
            if job.halted:
                job.subscribers.clear()

    def unsubscribe(self, conn: Connection) -> None:
        conn.subscriptions.clear()  # "the notifier forgets closed subscribers by itself"

    def raise_if_notifier_failed(self) -> None:
        if self._notifier is not None and self._notifier.done() and not self._notifier.cancelled():
            self._notifier.result()  # re-raises the notifier's ConnectionClosedError


class UnsafeCloseConnection(Connection):
    __slots__ = ()

    async def dispatch(self, op: wire.Op) -> None:
        jobs = self.app.jobs
        assert isinstance(jobs, UnsafeCloseJobs)
        jobs.raise_if_notifier_failed()
        if isinstance(op, wire.Close):
            await self.ws.close(op.code, op.reason)  # and the loop goes on handling messages
            return
        await super().dispatch(op)

    async def reply(self, message: Message) -> None:
        await self.ws.send(orjson.dumps(self.seq.stamp(message)), text=True)  # unguarded
        self.app.metrics.messages_sent.inc()


def install(wiring: Wiring) -> None:
    wiring.jobs_classes.append(UnsafeCloseJobs)
    wiring.connection_classes.append(UnsafeCloseConnection)

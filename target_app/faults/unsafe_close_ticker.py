"""``--fault unsafe-close-ticker``: each job's ticker sends its events to the subscribers' sockets.

The bug: a job's ticker - one task shared by every subscriber of the job - writes each state event
straight to each subscriber's socket, and nobody unsubscribes a connection when it closes ("the
ticker finds out when the send fails"). It does find out: the send to a closed connection raises
``ConnectionClosed`` out of the ticker, the task dies (an unhandled error, counted), and the job
stops where it is - every other subscriber of the job waits for a ``halted`` that never comes.

The correct :class:`~target_app.jobs.JobService` queues each event on the subscriber's own outbox
(its writer expects a closed socket) and unsubscribes a connection as it starts closing.

Detection: close a connection subscribed to a running job: ``wsrace_unhandled_errors_total`` grows,
and another connection subscribed to the same job never sees ``halted``.
"""

from __future__ import annotations

from typing import Protocol, cast

import orjson

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobState
from target_app.connection import Connection, Message
from target_app.jobs import JobService, Subscriber, subscribers_of
from target_app.wiring import Parts


class SocketSubscriber(Subscriber, Protocol):
    async def write_event(self, event: Message) -> None: ...


class TickerSendsJobs(JobService):
    async def publish(self, job: Job, state: JobState) -> None:
        event = wire.state_event(job.id, job.owner, state.state, state.step)
        subscribers = subscribers_of(job)
        if job.halted:
            job.subscribers.clear()
        for subscriber in subscribers:
            await cast(SocketSubscriber, subscriber).write_event(dict(event))  # THE BUG: unguarded

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscriptions.pop(subscriber, None)  # "the ticker drops closed sockets itself"


class SocketEventsConnection(Connection):
    __slots__ = ()

    async def write_event(self, event: Message) -> None:
        await self.outbox.flushed()  # the replies the writer has queued go out first
        await self.ws.send(orjson.dumps(self.seq.stamp(event)), text=True)
        self.context.metrics.messages_sent.inc()


PARTS = Parts(jobs=TickerSendsJobs, connection=SocketEventsConnection)

"""``--fault cross-talk-buffer``: every state event is written into one reused message object.

The bug, an allocation "optimisation" (object pooling, as in a game server's message pool): the
job service keeps one scratch dict for state events, overwrites its fields for each event and
queues *that object* on every subscriber's outbox, instead of a copy. No await is needed for the
race: an event waits in an outbox until that connection's writer serialises it, and by then the
shared object holds whatever event was published last - another job's, often another user's. The
subscriber sees a foreign event (or the same step twice) in place of its own.

The correct :meth:`JobService.publish` builds a fresh event and gives each subscriber its own copy.

Detection: a subscriber whose outbox is backed up (a slow reader in the middle of a burst) while
another user's job ticks: its own events arrive with the other user's job and ``user``.
"""

from __future__ import annotations

from typing import Any

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobState
from target_app.context import WorkerContext
from target_app.jobs import JobService, subscribers_of
from target_app.wiring import Parts


class PooledEventJobs(JobService):
    def __init__(self, context: WorkerContext) -> None:
        super().__init__(context)
        self._scratch: dict[str, Any] = {}  # one event object for every job: THE BUG

    async def publish(self, job: Job, state: JobState) -> None:
        self._scratch.clear()
        self._scratch.update(wire.state_event(job.id, job.owner, state.state, state.step))
        for subscriber in subscribers_of(job):
            subscriber.deliver(self._scratch)  # the shared object, not a copy
        if job.halted:
            job.subscribers.clear()


PARTS = Parts(jobs=PooledEventJobs)

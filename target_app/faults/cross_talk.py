"""``--fault cross-talk``: state events pass through one shared slot across an await.

The bug: the service keeps "the event being delivered" in an attribute shared by every job of the
process, journals it (an await), then fans out whatever the attribute holds *now*. When two jobs
tick within the journaling window, the first one's subscribers get the second one's event: users
see another user's job and ``user``, and miss their own event.

The correct :meth:`JobService.publish` builds the event in a local and never awaits before the
fan-out.

Detection: two users each run a multi-step job at the same time; events arrive whose ``user`` or
``job`` is not the subscriber's, and some of their own steps never come.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobState
from target_app.context import WorkerContext
from target_app.jobs import JobService, subscribers_of
from target_app.wiring import Parts


class CrossTalkJobs(JobService):
    JOURNAL_S: ClassVar[float] = 0.01
    """The journaling round trip the buggy fan-out awaits (simulated)."""

    def __init__(self, context: WorkerContext) -> None:
        super().__init__(context)
        self._event: dict[str, Any] = {}  # shared by every job: THE BUG

    async def publish(self, job: Job, state: JobState) -> None:
        self._event = wire.state_event(job.id, job.owner, state.state, state.step)
        subscribers = subscribers_of(job)
        if job.halted:
            job.subscribers.clear()
        await asyncio.sleep(self.JOURNAL_S)  # "journal the event before fan-out"
        for subscriber in subscribers:
            subscriber.deliver(dict(self._event))  # whatever event is in the slot by now


PARTS = Parts(jobs=CrossTalkJobs)

"""``--fault stuck-shutdown-journal``: the event journal's task waits, when cancelled, for a queue
that can never be done.

The bug, the classic ``asyncio.Queue.join()`` hang: state events are also appended to a journal by
one background task that reads an ``asyncio.Queue``. To "lose nothing at shutdown", the task
catches its cancellation and first ``await queue.join()`` - but it never calls
``queue.task_done()`` for what it processed, so the queue's count of unfinished items never
reaches zero and ``join()`` never returns. The worker's shutdown waits for its background tasks:
SIGTERM never finishes the worker, the supervisor kills it after the shutdown timeout and exits
non-zero. Nothing shows during the run.

The correct app has no such task; a journal that must drain would call ``task_done()`` per item
(or simply let its cancellation through).

Detection: run one multi-step job (its events start the journal), then SIGTERM the app: it does
not exit within the shutdown timeout, and exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging

from loadgen.protocol import wire
from loadgen.protocol.jobs import Job, JobState
from target_app.context import WorkerContext
from target_app.jobs import JobService
from target_app.outbox import Message
from target_app.wiring import Parts

log = logging.getLogger(__name__)


class JournalledJobs(JobService):
    def __init__(self, context: WorkerContext) -> None:
        super().__init__(context)
        self._journal: asyncio.Queue[Message] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self.journalled = 0

    async def publish(self, job: Job, state: JobState) -> None:
        await super().publish(job, state)
        if self._writer is None:
            self._writer = self.context.tasks.spawn(self._write_journal(), name="event journal")
        self._journal.put_nowait(wire.state_event(job.id, job.owner, state.state, state.step))

    async def _write_journal(self) -> None:
        try:
            while True:
                await self._journal.get()
                self.journalled += 1  # "append it to the journal" (and no task_done(): THE BUG)
        except asyncio.CancelledError:
            log.info("event journal: draining before exit")
            await self._journal.join()  # never returns: nothing was marked done
            raise


PARTS = Parts(jobs=JournalledJobs)

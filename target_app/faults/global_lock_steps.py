"""``--fault global-lock-steps``: one process-wide lock is held across each job step's wait.

The bug, ported from threaded code: a job step touches shared bookkeeping, so the step is wrapped
in ``with STEP_LOCK:`` - and in the asyncio port that became ``async with STEP_LOCK:`` around the
whole step, *including* its ``await asyncio.sleep(step_ms)``. Now only one job of the worker can be
inside a step at a time: jobs run one after another instead of side by side, and a short job waits
for every long step queued before it. Nothing is lost and nothing is out of order on any one job:
only the latency of everyone's jobs grows with the number of jobs running.

The correct :meth:`JobService._tick` holds no lock: the registry is only touched between awaits.

Detection: a short job started while a long-stepped one runs halts only after the long one's step.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from loadgen.protocol.jobs import Job
from target_app.jobs import JobService
from target_app.wiring import Parts


class SteppingUnderLockJobs(JobService):
    STEP_LOCK: ClassVar[asyncio.Lock] = asyncio.Lock()  # one for the whole process: THE BUG

    async def _tick(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        while not job.halted:
            async with self.STEP_LOCK:  # held across the step's wait
                await asyncio.sleep(job.step_ms / 1000)
                job, state = self.registry.advance(job.id, loop.time())
                await self.publish(job, state)


PARTS = Parts(jobs=SteppingUnderLockJobs)

"""``--fault lost-snapshot``: subscribe answers from a status cached when the job started.

The bug: a "read model" of job statuses is written once, when the job is submitted ("it is running
now"), and ``subscribe`` replies from it instead of from the job itself, then registers the
subscriber. Everything that happened between the start and the subscription is lost: a job that
halted already is reported ``running`` and no ``halted`` event will ever come (a halted job has
no more events to send).

The correct :meth:`JobService.snapshot` registers and reads the job's live state in one step.

Detection: start a fast-halt job (``steps: 0``), subscribe: the snapshot says ``running``, and the
client waits for ``halted`` forever.
"""

from __future__ import annotations

from loadgen.protocol.jobs import RUNNING, Job, JobNotFound, JobState
from target_app.context import WorkerContext
from target_app.jobs import JobService, Subscriber
from target_app.wiring import Parts


class LostSnapshotJobs(JobService):
    def __init__(self, context: WorkerContext) -> None:
        super().__init__(context)
        self._status: dict[str, tuple[str, JobState]] = {}  # job id -> (owner, status)

    def start(self, owner: str, steps: int, step_ms: int) -> Job:
        job = super().start(owner, steps, step_ms)
        self._status[job.id] = (owner, JobState(RUNNING, 0))  # "submitted, so running": never updated
        return job

    def snapshot(self, subscriber: Subscriber, user: str, job_id: str) -> JobState:
        super().snapshot(subscriber, user, job_id)  # registers (and checks owner / existence)
        return self._status[job_id][1]  # THE BUG: a stale status, not the job's state now

    def expire(self) -> int:
        gone = super().expire()
        for job_id, (owner, _) in list(self._status.items()):
            try:
                self.registry.get(job_id, owner)
            except JobNotFound:
                del self._status[job_id]
        return gone


PARTS = Parts(jobs=LostSnapshotJobs)

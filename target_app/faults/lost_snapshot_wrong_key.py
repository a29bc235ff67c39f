"""``--fault lost-snapshot-wrong-key``: subscribe registers on the user's latest job, not the one asked.

The bug, ported from a one-job-per-user design (a UI with one "current job" pane): the service
keeps "the user's current job" and keys subscriptions by it. ``subscribe`` answers with the asked
job's state, which is right, but registers the connection for the job the user started *last*. A
client that subscribes to the job it just started sees nothing wrong; one that starts two jobs and
subscribes to the first gets a correct snapshot and then not one more event for that job (the
later job's events, if it is still running, arrive instead).

The correct :meth:`JobService.snapshot` registers the subscriber on the job it takes the snapshot
of, in the same step.

Detection: start job A, then job B, subscribe to A: A's later steps and ``halted`` never come.
"""

from __future__ import annotations

from loadgen.protocol.jobs import Job, JobState
from target_app.context import WorkerContext
from target_app.jobs import JobService, Subscriber
from target_app.wiring import Parts


class CurrentJobKeyedJobs(JobService):
    def __init__(self, context: WorkerContext) -> None:
        super().__init__(context)
        self._current: dict[str, str] = {}  # user -> the job they started last

    def start(self, owner: str, steps: int, step_ms: int) -> Job:
        job = super().start(owner, steps, step_ms)
        self._current[owner] = job.id
        return job

    def snapshot(self, subscriber: Subscriber, user: str, job_id: str) -> JobState:
        state = self.registry.get(job_id, user).state  # the asked job's state: right
        key = self._current.get(user, job_id)  # THE BUG: subscriptions are keyed by the current job
        super().snapshot(subscriber, user, key)
        return state


PARTS = Parts(jobs=CurrentJobKeyedJobs)

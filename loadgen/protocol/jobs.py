"""Jobs (the ``start`` op) as an explicit state machine, and the per-process job registry.

A job is ``running`` at step 0 from its start; each tick moves it one step on; after its last step
it is ``halted`` with ``step == steps``. ``steps == 0`` halts at once (a fast halt).

The registry keeps subscribers beside each job so that :meth:`JobRegistry.subscribe` registers a
subscriber and takes the snapshot in one call, with no await in between: no state change can fall
between the two. Pure: the caller schedules ticks (the target app with asyncio timers).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Final

RUNNING: Final = "running"
HALTED: Final = "halted"

HALTED_RETENTION_S: Final = 60.0


class IllegalJobMove(Exception):
    """A transition the table does not allow (e.g. advancing a halted job)."""


class JobForbidden(Exception):
    """A user asked for a job owned by another user."""


class JobNotFound(Exception):
    """No such job (never existed, or expired after its retention)."""


@dataclass(frozen=True, slots=True)
class JobState:
    state: str
    step: int


# (state, last step reached?) -> next state. Any other move is illegal.
_TRANSITIONS: Final[dict[tuple[str, bool], str]] = {
    (RUNNING, False): RUNNING,
    (RUNNING, True): HALTED,
}


def initial_state(steps: int) -> JobState:
    return JobState(HALTED, 0) if steps == 0 else JobState(RUNNING, 0)


def advance(current: JobState, steps: int) -> JobState:
    """The state after one more step of a job of ``steps`` steps."""
    nxt = current.step + 1
    target = _TRANSITIONS.get((current.state, nxt >= steps))
    if target is None:
        raise IllegalJobMove(f"can't advance job in state {current.state} at step {current.step}")
    return JobState(target, nxt)


def reachable(state: JobState, steps: int) -> bool:
    """Whether a job of ``steps`` steps is ever in ``state``: the walk from :func:`initial_state`
    through :func:`advance` passes running 0 .. steps-1, then halted at step ``steps``."""
    if state.state == HALTED:
        return state.step == steps
    return state.state == RUNNING and 0 <= state.step < steps


@dataclass(slots=True)
class Job:
    id: str
    owner: str
    steps: int
    step_ms: int
    state: JobState
    subscribers: set[Hashable] = field(default_factory=set)
    halted_at: float | None = None

    @property
    def halted(self) -> bool:
        return self.state.state == HALTED


class JobRegistry:
    """Jobs of one server process, by id, with their subscribers."""

    def __init__(self, retention_s: float = HALTED_RETENTION_S) -> None:
        self._jobs: dict[str, Job] = {}
        self._retention_s = retention_s

    def __len__(self) -> int:
        return len(self._jobs)

    def create(self, job_id: str, owner: str, steps: int, step_ms: int, now: float) -> Job:
        state = initial_state(steps)
        job = Job(job_id, owner, steps, step_ms, state, halted_at=now if steps == 0 else None)
        self._jobs[job_id] = job
        return job

    def get(self, job_id: str, user: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(job_id)
        if job.owner != user:
            raise JobForbidden(job_id)
        return job

    def subscribe(self, job_id: str, user: str, subscriber: Hashable) -> JobState:
        """Register ``subscriber`` and return the snapshot, in one step."""
        job = self.get(job_id, user)
        if not job.halted:
            # A halted job sends no more events: its snapshot is all a subscriber gets.
            job.subscribers.add(subscriber)
        return job.state

    def unsubscribe_everywhere(self, subscriber: Hashable) -> None:
        for job in self._jobs.values():
            job.subscribers.discard(subscriber)

    def advance(self, job_id: str, now: float) -> tuple[Job, JobState]:
        """Move a job one step on; return it and its new state (subscribers to notify are on it)."""
        job = self._jobs[job_id]
        job.state = advance(job.state, job.steps)
        if job.halted:
            job.halted_at = now
        return job, job.state

    def expire(self, now: float) -> int:
        """Forget halted jobs older than the retention; return how many went."""
        old = [
            jid
            for jid, job in self._jobs.items()
            if job.halted_at is not None and now - job.halted_at > self._retention_s
        ]
        for jid in old:
            del self._jobs[jid]
        return len(old)

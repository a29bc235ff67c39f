"""Jobs that belong to the server: start, step, subscribe (snapshot and registration in one step).

Every change of a job and every subscription happens in plain synchronous code between two awaits
of the event loop, so a subscription either comes before a change (and gets its event) or after it
(and sees it in the snapshot): no change can fall between the snapshot and the registration. A
halted job stays subscribable for ``keep_halted_s`` (PROTOCOL.md asks for at least 60 s).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.interop.rules import FORBIDDEN, NOT_FOUND

KEEP_HALTED_S = 120.0


class Subscriber(Protocol):
    """A connection that receives state events (its outbox's ``put``)."""

    def put(self, message: dict[str, Any]) -> None: ...


@dataclass(eq=False)
class Job:
    id: str
    owner: str
    steps: int
    step_ms: int
    state: str = "running"
    step: int = 0
    subscribers: set[Subscriber] = field(default_factory=set)

    def event(self) -> dict[str, Any]:
        return {"type": "state", "job": self.id, "user": self.owner, "state": self.state, "step": self.step}


class JobBoard:
    """All jobs of the server, by id. ``on_error`` hears of a job task that failed unexpectedly."""

    def __init__(self, on_error: Callable[[BaseException], None], keep_halted_s: float = KEEP_HALTED_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._jobs: dict[str, Job] = {}
        self._halted: deque[tuple[float, str]] = deque()  # (forget at, job id), in the order they halted
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._prefix = secrets.token_hex(3)
        self._on_error = on_error
        self._keep = keep_halted_s
        self._clock = clock

    def start(self, owner: str, steps: int, step_ms: int) -> Job:
        """A new job of ``owner``, running at step 0 (or halted at once when ``steps`` is 0)."""
        self._forget_old()
        job = Job(f"j{self._prefix}-{next(self._ids)}", owner, steps, step_ms)
        self._jobs[job.id] = job
        if steps == 0:
            self._halt(job)
        else:
            task = asyncio.get_running_loop().create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(self._task_done)
        return job

    def subscribe(self, job_id: str, user: str, subscriber: Subscriber) -> Job | str:
        """Register ``subscriber`` for the job's later changes and return the job, whose state is the
        snapshot; or the error code (``not_found``, ``forbidden``)."""
        job = self._jobs.get(job_id)
        if job is None:
            return NOT_FOUND
        if job.owner != user:
            return FORBIDDEN
        if job.state != "halted":
            job.subscribers.add(subscriber)
        return job

    def unsubscribe(self, job_id: str, subscriber: Subscriber) -> None:
        job = self._jobs.get(job_id)
        if job is not None:
            job.subscribers.discard(subscriber)

    def cancel_all(self) -> None:
        """Stop every running job (shutdown)."""
        for task in list(self._tasks):
            task.cancel()

    async def _run(self, job: Job) -> None:
        for step in range(1, job.steps + 1):
            await asyncio.sleep(job.step_ms / 1000.0)
            job.step = step
            if step == job.steps:
                self._halt(job)
            else:
                self._notify(job)

    def _halt(self, job: Job) -> None:
        job.state = "halted"
        self._notify(job)
        job.subscribers.clear()  # nothing follows halted
        self._halted.append((self._clock() + self._keep, job.id))

    def _notify(self, job: Job) -> None:
        if job.subscribers:
            event = job.event()
            for subscriber in list(job.subscribers):
                subscriber.put(event)

    def _forget_old(self) -> None:
        now = self._clock()
        while self._halted and self._halted[0][0] <= now:
            self._jobs.pop(self._halted.popleft()[1], None)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._on_error(task.exception())  # type: ignore[arg-type]

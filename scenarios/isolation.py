"""isolation: one user's slow work must never make another user wait (a lock held across awaits).

The race: a lock meant to protect shared state is held across an ``await`` - a job step's sleep, a
socket write to a slow reader, the whole handling of a message - and is one lock for the whole
process. Then while user A waits, every other connection of that worker waits for A. Nothing is
lost and nothing is out of order: only latency grows, and on a slow CI runner absolute limits are
too loose to tell (see ``docs/thresholds-and-schedule.md``). This scenario makes it causal: A holds
something for a known time, :data:`STEP_MS`, and B - another connection, another user - works in
that time; B's work is timed as its own steps, and its threshold (in ``thresholds.toml``) says its
p99 stays well under ``STEP_MS``. On a correct server B never waits for A; with the bug B waits for
most of a step, whatever the machine's speed.

Each iteration, on two long-lived sessions (A: this user; B: a second user of its own), one of:

- **A's job step**: A starts a job of one step of ``STEP_MS`` and subscribes; the snapshot says
  ``running`` at step 0, so A's step is under way. B then echoes (step ``echo during a step``) and
  runs a job of one 0 ms step to its ``halted`` (step ``job during a step``); A's job must halt.
  ``--fault global-lock-steps`` (a process-wide lock held across each step's sleep): B's job waits
  for A's step.
- **A's slow read**: A, a slow reader (small TCP receive window), sends an echo of
  :data:`BIG_ECHO_BYTES` and asks for a burst, then reads nothing for ``STEP_MS`` while B echoes
  and runs its job as above; then A reads its echo reply and every burst item. ``--fault
  global-lock`` (one lock across the whole handling of a message: the burst waits for A to read):
  B's echo and job wait; ``--fault global-lock-echo`` (echo replies written under one lock, awaiting
  the socket): B's echo waits for A's.

Target workers: the locks are per process, so B waits only when it shares a worker with some A;
the bundled target on a 2-core machine has one worker, and several users of this scenario make it
likely elsewhere.
"""

from __future__ import annotations

import time
import uuid

import gevent
from locust import task

from loadgen.client import ProtocolClient
from loadgen.errors import BadReply, StepTimeout
from loadgen.session import slow_reader_connect
from loadgen.user import RaceUser

STEP_MS = 1000
"""How long A holds (its job's step, its pause in reading): B's thresholds are a fraction of it."""
BIG_ECHO_BYTES = 512 * 1024
"""An echo reply far larger than a slow reader's socket buffers: writing it waits for A to read."""
BURST_COUNT = 64
BURST_SIZE = 16 * 1024
"""A burst larger than the outbox's flow window and the socket buffers: producing it waits for A."""
HALT_GRACE_S = 5.0
READ_TIMEOUT_S = 10.0
class IsolationUser(RaceUser):
    scenario = "isolation"
    fixed_count = 3
    """A few users are enough to hold the lock (and each is also a B for the others)."""

    def on_start(self) -> None:
        self._turn = 0
        self._a: ProtocolClient | None = None
        self._b: ProtocolClient | None = None
        self._a_slow = False
        self._other = self.ctx.tokens.identity(f"{self.scenario}-b-{uuid.uuid4().hex[:12]}")

    def _sessions(self, slow_a: bool) -> tuple[ProtocolClient, ProtocolClient]:
        if self._a is not None and (self._a.session.state != "open" or slow_a != self._a_slow):
            self._a.session.abort()
            self.forget(self._a)
            self._a = None
        if self._a is None:
            options = {"socket_factory": slow_reader_connect} if slow_a else {}
            with self.step("connect"):
                client = self.connect(mode=self.next_auth_mode(), **options)
                client.expect_ready()
            self._a, self._a_slow = client, slow_a
        if self._b is None or self._b.session.state != "open":
            with self.step("connect"):
                client = self.connect(mode="header", identity=self._other)
                client.expect_ready()
            self._b = client
        return self._a, self._b

    @task
    def one_waits_other_does_not(self) -> None:
        variants = (self.during_job_step, self.during_slow_read)
        variant = variants[self._turn % len(variants)]
        self._turn += 1
        with self.iteration():
            try:
                variant()
            except BaseException:
                self._a = self._b = None  # a failed or interrupted iteration leaves the sessions unusable
                raise

    def _b_works(self, b: ProtocolClient) -> None:
        """B's part, while A holds: an echo, then a job of one 0 ms step to its halt."""
        with self.step("echo during a step"):
            b.echo({"user": b.user, "during": "a step"})
        with self.step("job during a step"):
            job = b.started(b.start(1, 0), 1)
            b.subscribe(job)
            b.wait_halted(job, HALT_GRACE_S, step="halted")
        b.finish_job(job)

    def during_job_step(self) -> None:
        a, b = self._sessions(slow_a=False)
        job = a.started(a.start(1, STEP_MS), 1)
        state, step = a.subscribe(job)
        if (state, step) != ("running", 0):
            raise BadReply(f"job {job} of one {STEP_MS} ms step was {state} at step {step} when "
                           "subscribed right after its start")
        self._b_works(b)
        a.wait_halted(job, STEP_MS / 1000.0 + HALT_GRACE_S, step="halted")
        a.finish_job(job)

    def during_slow_read(self) -> None:
        a, b = self._sessions(slow_a=True)
        data = {"user": a.user, "pad": "x" * BIG_ECHO_BYTES}
        echo_id = a.send_op({"op": "echo", "data": data})
        burst_id = a.burst(BURST_COUNT, BURST_SIZE)
        held_from = time.monotonic()
        self._b_works(b)
        gevent.sleep(max(0.0, STEP_MS / 1000.0 - (time.monotonic() - held_from)))  # A reads nothing for STEP_MS
        reply = a.wait_reply(echo_id, "echo", timeout=READ_TIMEOUT_S, step="big echo")
        if reply.get("data") != data:
            raise BadReply(f"the reply to echo {echo_id} ({BIG_ECHO_BYTES} bytes) is not the data sent")
        progress = a.bursts[burst_id]
        deadline = time.monotonic() + READ_TIMEOUT_S
        while not progress.complete:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StepTimeout(f"burst ({progress.received}/{progress.count} items read)", READ_TIMEOUT_S)
            a.read(remaining, "burst")
        del a.bursts[burst_id]

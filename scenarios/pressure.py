"""pressure: every pushed promise — state events, burst items, replies — checked under every pressure.

Each user holds two long-lived connections of its own, ``A`` and ``B``, both slow readers (a small
TCP receive window, pauses while reading: see :func:`loadgen.session.slow_reader_connect`). An
iteration:

1. ``A`` starts several multi-step jobs and reads their ``started`` replies.
2. ``A`` pipelines, without waiting: a ``subscribe`` to each job, a large ``burst``, an ``echo``. The
   burst moves only as fast as ``A`` reads, so the jobs' state events are queued while the
   connection's outgoing queue is full of burst items, and the echo reply waits behind the burst.
3. After a random short delay (the jobs now at some step or other), ``B`` pipelines a ``subscribe``
   to the same jobs, a burst of its own, an echo: each connection is owed every change after its
   own subscription, the two subscriptions taken at different moments.
4. Both read slowly at once (``B`` in a second greenlet) until nothing is owed — each subscribed
   job's every change from the snapshot on, through ``running`` at steps 1 … steps-1 to ``halted``
   at step = steps; every burst item; every reply — by one deadline for the iteration that never
   restarts. What is still owed then is one ``missed_event`` naming each missing message
   (:meth:`loadgen.client.ProtocolClient.settle`): a loss is noticed by content, not by a ``seq``
   gap, so a server that numbers messages as it writes them cannot hide one.

Many users run it at once (the schedule's ``users``), so the jobs of several users tick, and their
events fan out, while every connection is busy.

Races it provokes, and the failure each produces on a buggy server:

- **a state event pushed while the outgoing queue is busy** with burst items, its writer waiting on
  a slow reader's socket — a server that skips ("volatile") updates then, stamping ``seq`` at write
  time (``--fault volatile-state``): ``missed_event``, the lost change named (no ``seq_gap``: the
  numbering stays continuous);
- **a bounded queue that drops under a slow reader** (``--fault lossy-queue``): ``missed_event``
  (burst items, or events), or ``seq_gap``;
- **fan-out to several connections of one user**, subscribed at different moments: a server that
  delivers a job's events to one connection per user only: ``missed_event`` on the other; one that
  takes the snapshot apart from registering the subscriber (``--fault lost-snapshot``):
  ``missed_event`` for the changes that fell between;
- **several jobs' events interleaved with items and replies on one connection**, many users' jobs
  ticking at once: an event routed to the wrong connection or user (``--fault cross-talk``,
  ``cross-talk-buffer``): ``foreign_event`` (or ``out_of_order`` / ``missed_event`` for the own
  change it replaced); a subscription registered on another of the user's jobs than the one asked
  (``--fault lost-snapshot-wrong-key``): ``missed_event``; a reply lost or overtaken behind the
  burst: ``missed_event``;
- **a send racing a close, or a crash while sending to a slow reader** (``--fault unsafe-close``):
  ``abnormal_close``, or ``missed_event`` for the events its crashed notifier never sent; a slow
  reader that keeps making progress closed as stalled: ``unexpected_close`` (1013);
- **one lock held across awaits** (``--fault global-lock``): ``start`` latency past its limit, and
  iterations several times slower (the absolute limits are loose for slow runners: ``steady``'s
  echo is the check built for this one).

Timed steps: ``connect``, ``start`` (the jobs' ``started`` replies), ``settle`` (``A``: from its
pipeline to nothing owed) and ``settle-peer`` (the same on ``B``).
"""

from __future__ import annotations

import random
import time
from typing import Any

import gevent
from locust import task

from loadgen.client import ProtocolClient
from loadgen.errors import StepTimeout
from loadgen.session import slow_reader_connect
from loadgen.user import RaceUser

ITERATION_DEADLINE_S = 8.0
"""Everything an iteration is owed must have arrived this long after it began (a slow CI runner's
worst case is a few seconds, ten times the usual; a missing message never arrives)."""

PEER_GRACE_S = 2.0
"""How long past the deadline to wait for the peer greenlet, which raises at the deadline itself."""


class PressureUser(RaceUser):
    scenario = "pressure"

    job_count = 3
    steps = (4, 8)
    """Steps per job, drawn in this range: long enough to tick while the bursts are in flight."""
    step_ms = (25, 60)
    burst_count = 240
    peer_burst_count = 120
    burst_size = 2048
    """Bytes per item: a chunk between pauses (80 KiB) overfills the small receive window, so the
    server's writer waits on the socket through every pause while the jobs tick. Measured on
    loopback: 4 KiB items doubled the load for the same catch; 1 KiB items made the small window
    stall now and then for about 3 s (TCP's zero-window probes backing off), once past the deadline."""
    chunk = 40
    """Burst items read between pauses."""
    pause_s = 0.1
    """A slow reader's pause: the server's queue fills meanwhile; far shorter than its stall timeout."""
    peer_delay_s = 0.06
    """The peer subscribes after a random delay up to this, so its snapshot falls at some step."""

    def on_start(self) -> None:
        self._pair: tuple[ProtocolClient, ProtocolClient] | None = None
        self._n = 0

    def _connections(self) -> tuple[ProtocolClient, ProtocolClient]:
        if self._pair is None or any(c.session.state != "open" for c in self._pair):
            with self.step("connect"):
                pair = []
                for _ in range(2):
                    client = self.connect(mode=self.next_auth_mode(), socket_factory=slow_reader_connect)
                    client.expect_ready()
                    pair.append(client)
            self._pair = (pair[0], pair[1])
        return self._pair

    @task
    def burst_jobs_and_peer(self) -> None:
        with self.iteration():
            try:
                deadline = time.monotonic() + ITERATION_DEADLINE_S
                a, b = self._connections()
                self._n += 1
                jobs = self._start_jobs(a, deadline)
                self._pipeline(a, jobs, self.burst_count)
                gevent.sleep(random.uniform(0, self.peer_delay_s))
                for job, steps in jobs.items():
                    b.watch(job, steps)  # started on A: B is owed its changes once subscribed
                self._pipeline(b, jobs, self.peer_burst_count)
                self._settle_both(a, b, deadline)
                for client in (a, b):
                    self._forget_settled(client)
            except BaseException:
                self._pair = None  # a failed or interrupted iteration leaves the connections unusable
                raise

    def _start_jobs(self, client: ProtocolClient, deadline: float) -> dict[str, int]:
        """Start the jobs, pipelined; their ids and lengths once every ``started`` reply came (a
        reply still missing at the deadline is a ``missed_event``)."""
        with self.step("start"):
            for _ in range(self.job_count):
                client.start(random.randint(*self.steps), random.randint(*self.step_ms))
            client.settle(deadline, "start")  # each reply recorded with the length its op asked for
        return {job: trace.steps for job, trace in client.jobs.items() if trace.steps is not None}

    def _pipeline(self, client: ProtocolClient, jobs: dict[str, int], burst_count: int) -> None:
        """Subscribe to every job, ask a burst, then an echo: all sent before anything is read."""
        for job in jobs:
            client.send_op({"op": "subscribe", "job": job})
        client.burst(burst_count, self.burst_size)
        client.send_op({"op": "echo", "data": {"user": self.identity.user, "n": self._n}})

    def _pace(self, msg: dict[str, Any]) -> None:
        """A slow reader: a pause after every ``chunk`` burst items."""
        if msg["type"] == "burst" and (msg["i"] + 1) % self.chunk == 0:
            gevent.sleep(self.pause_s)

    def _settle(self, client: ProtocolClient, deadline: float, step: str) -> None:
        with self.step(step):
            client.settle(deadline, step, pace=self._pace)

    def _settle_both(self, a: ProtocolClient, b: ProtocolClient, deadline: float) -> None:
        """Read A here and B in a second greenlet, both slowly, both by the iteration's deadline."""
        peer = gevent.spawn(self._settle, b, deadline, "settle-peer")
        try:
            self._settle(a, deadline, "settle")
            peer.join(timeout=max(0.0, deadline - time.monotonic()) + PEER_GRACE_S)
            if not peer.ready():
                raise StepTimeout("settle-peer (its reader did not return)", ITERATION_DEADLINE_S)
            peer.get()  # re-raises B's failure
        finally:
            peer.kill(block=True, timeout=PEER_GRACE_S)

    @staticmethod
    def _forget_settled(client: ProtocolClient) -> None:
        """Every job halted and every burst is complete: forget them (a late event is out of order)."""
        for job in list(client.jobs):
            client.finish_job(job)
        client.bursts.clear()

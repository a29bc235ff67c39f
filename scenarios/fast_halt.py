"""fast_halt: a job halts before (or while) its client subscribes.

On a long-lived session each iteration starts a job and subscribes to it, in turn: a fast halt
(``steps: 0``) subscribed the moment the ``started`` reply arrives, after another round trip, or
after a random delay; and a short multi-step job subscribed at once. The client must learn that the
job halted — from the subscribe snapshot or from a later event — with every state in order, each
event carrying its own ``user``.

On a server with the bug (``--fault lost-snapshot``: the snapshot is the state cached at the start,
and changes before the subscription are lost) a fast halt is reported ``running`` — a state a job of
0 steps never has: ``bad_reply`` at once — and a multi-step job's ``halted`` (or the steps before the
subscription) never comes: ``missed_event``. With ``--fault cross-talk`` (events routed through
shared state across an await) another user's event reaches this connection in place of its own:
``foreign_event`` (the step it replaced is lost too, but the foreign event fails the iteration first).

A fifth variant subscribes from the user's **other connection** (opened for it, closed after) to a
job of 10-20 steps of 1-2 ms, started on the long-lived one, right after ``started``:
PROTOCOL.md lets any connection of the owner subscribe, and with several target workers the two
connections land on different workers now and then, so the subscription crosses the bus between
them. On a target that replies ``started`` before the job reached the bus (``--fault
bus-write-behind``) the other connection gets ``not_found`` for its own job; on one that checks the
job on the bus before subscribing to its events (``--fault bus-check-then-subscribe``) the changes
in between are lost: ``missed_event``. Its step is ``peer start→halted`` (kept apart from
``start→halted``, whose latency limits are set for the jobs of the first four variants).
"""

from __future__ import annotations

import random

import gevent
from locust import task

from loadgen.client import ProtocolClient
from loadgen.user import RaceUser

HALT_GRACE_S = 5.0
"""How long after its last step a job's ``halted`` may take to arrive before it counts as missed."""
PEER_STEPS = (10, 20)
PEER_STEP_MS = (1, 2)
"""The other connection's job: a step every millisecond or two, so that its changes keep coming
while a subscription crosses from one target worker to another (a round trip or two to a broker)."""


class FastHaltUser(RaceUser):
    scenario = "fast_halt"

    def on_start(self) -> None:
        self._turn = 0
        self._client: ProtocolClient | None = None

    def _session(self) -> ProtocolClient:
        if self._client is None or self._client.session.state != "open":
            with self.step("connect"):
                client = self.connect(mode=self.next_auth_mode())
                client.expect_ready()
            self._client = client
        return self._client

    @task
    def start_and_subscribe(self) -> None:
        variants = (self.subscribe_at_once, self.subscribe_after_round_trip, self.subscribe_after_delay,
                    self.multi_step, self.from_other_connection)
        variant = variants[self._turn % len(variants)]
        self._turn += 1
        with self.iteration():
            try:
                variant(self._session())
            except BaseException:
                self._client = None  # a failed or interrupted iteration leaves the session unusable
                raise

    def _run_job(self, client: ProtocolClient, steps: int, step_ms: int, before_subscribe) -> None:
        with self.step("start→halted"):
            job = client.started(client.start(steps, step_ms), steps)
            before_subscribe(client)
            client.subscribe(job)
            client.wait_halted(job, steps * step_ms / 1000.0 + HALT_GRACE_S, step="halted")
        client.finish_job(job)

    def subscribe_at_once(self, client: ProtocolClient) -> None:
        self._run_job(client, 0, 0, lambda c: None)

    def subscribe_after_round_trip(self, client: ProtocolClient) -> None:
        self._run_job(client, 0, 0, lambda c: c.echo({"user": self.identity.user}, step="echo"))

    def subscribe_after_delay(self, client: ProtocolClient) -> None:
        self._run_job(client, 0, 0, lambda c: gevent.sleep(random.uniform(0, 0.03)))

    def multi_step(self, client: ProtocolClient) -> None:
        self._run_job(client, random.randint(2, 4), random.randint(5, 15), lambda c: None)

    def from_other_connection(self, client: ProtocolClient) -> None:
        """A fresh second connection each time (a user opening another tab): which target worker it
        lands on is drawn anew, so the subscription crosses workers about half the time. A kept one
        would settle on the first connection's worker, the one placement that never fails."""
        with self.step("connect"):
            peer = self.connect(mode=self.next_auth_mode())
            peer.expect_ready()
        steps, step_ms = random.randint(*PEER_STEPS), random.randint(*PEER_STEP_MS)
        with self.step("peer start→halted"):
            job = client.started(client.start(steps, step_ms), steps)
            peer.watch(job, steps)  # started on the first connection: every later change is owed here
            peer.subscribe(job)
            peer.wait_halted(job, steps * step_ms / 1000.0 + HALT_GRACE_S, step="halted")
        client.finish_job(job)  # never subscribed there: it is owed nothing of it
        code = peer.close(1000)
        self.forget(peer)
        self.record_close(code)

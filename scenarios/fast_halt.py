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
"""

from __future__ import annotations

import random

import gevent
from locust import task

from loadgen.client import ProtocolClient
from loadgen.user import RaceUser

HALT_GRACE_S = 5.0
"""How long after its last step a job's ``halted`` may take to arrive before it counts as missed."""


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
                    self.multi_step)
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

"""steady: a steady background of long-lived sessions that echo and read bursts slowly.

Each iteration does an echo round trip and asks for a burst that it reads slowly (pausing between
chunks), checking every ``seq``, every burst item present and in order, every ``user`` its own. A
burst is reported as one ``burst`` request (its whole duration and size), not one per item: pushed
items are counted, not timed one by one.

The reader is slow the way a phone on a bad network is: a small TCP receive window (``SO_RCVBUF``
set before connecting) and pauses while reading. Without the small window, loopback buffers would
swallow a whole burst at once and the server would never have to hold back.

On a server with the bug (``--fault lossy-queue``: the outbound queue drops a message when it stays
full for 100 ms) items go missing: ``missed_event`` / ``seq_gap``. ``--fault global-lock`` (one lock
held across awaits) shows as latency far above the thresholds, or ``timeout``. (Another user's echo
data would be ``foreign_event``; ``--fault cross-talk`` mixes state events only, which this scenario
does not use: ``fast_halt`` catches it.)
"""

from __future__ import annotations

import time

import gevent
from locust import task

from loadgen.client import ProtocolClient
from loadgen.errors import StepTimeout
from loadgen.session import slow_reader_connect
from loadgen.user import RaceUser


class SteadyUser(RaceUser):
    scenario = "steady"

    burst_count = 300
    burst_size = 4096
    chunk = 60
    """Items read between pauses."""
    pause_s = 0.15
    """A slow reader's pause: longer than a 100 ms queue timeout, far shorter than the stall timeout."""
    burst_timeout_s = 20.0

    def on_start(self) -> None:
        self._client: ProtocolClient | None = None
        self._n = 0

    def _session(self) -> ProtocolClient:
        if self._client is None or self._client.session.state != "open":
            with self.step("connect"):
                client = self.connect(mode=self.next_auth_mode(), socket_factory=slow_reader_connect)
                client.expect_ready()
            self._client = client
        return self._client

    @task
    def echo_and_slow_burst(self) -> None:
        with self.iteration():
            try:
                client = self._session()
                self._n += 1
                with self.step("echo"):
                    client.echo({"user": self.identity.user, "n": self._n})
                self._slow_burst(client)
            except BaseException:
                self._client = None
                raise

    def _slow_burst(self, client: ProtocolClient) -> None:
        started = time.perf_counter()
        burst_id = client.burst(self.burst_count, self.burst_size)
        progress = client.bursts[burst_id]
        deadline = time.monotonic() + self.burst_timeout_s
        try:
            while not progress.complete:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise StepTimeout(f"burst ({progress.received}/{progress.count} items read)", self.burst_timeout_s)
                client.read(remaining, "burst")
                if progress.received % self.chunk == 0 and not progress.complete:
                    gevent.sleep(self.pause_s)
        except Exception as exc:
            self.report("burst", started, exc, progress.nbytes)
            raise
        self.report("burst", started, None, progress.nbytes)
        del client.bursts[burst_id]

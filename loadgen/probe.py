"""The latency probe: the run's latency baseline, measured on an unloaded connection of its own.

On the judging process (master or standalone) the plugin starts one :class:`LatencyProbe` when the
run starts and stops it before judging. The probe opens one session (:class:`loadgen.session.Session`
through :class:`~loadgen.client.ProtocolClient`, authenticated with a token of its own like any
user), and sends one small echo every :data:`~loadgen.judge.baseline.PROBE_INTERVAL_S` from the
start to the end of the run, keeping each round trip with when it was measured. Its connection
carries nothing else, so its round trips are what the machine and the server cost when nobody
waits for anybody: the baseline that ``p99_vs_baseline`` limits are judged against
(:mod:`loadgen.judge.relative`). Four small messages a second add almost no load.

A round trip that fails (no connection, a timeout, a bad reply) is counted, its message kept, and
the probe connects again at its next turn; a probe that never measured a round trip makes every
relative limit fail with that message (:func:`loadgen.judge.baseline.baseline_problem`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent

from loadgen.client import ProtocolClient
from loadgen.errors import ScenarioFailure, SessionClosedError
from loadgen.judge.baseline import PROBE_INTERVAL_S, summarize
from loadgen.session import ConnectionEnded
from loadgen.tokens_source import Identity

__all__ = ["LatencyProbe"]

log = logging.getLogger("wsrace")

STOP_WAIT_S = 2.0
"""How long :meth:`LatencyProbe.stop` waits for the probe's greenlet to end."""


class LatencyProbe:
    """One session, one small echo per ``interval_s``, every round trip kept (ms)."""

    def __init__(self, host: str, identity: Identity, *, interval_s: float = PROBE_INTERVAL_S,
                 started_monotonic: float | None = None, timeout_s: float = 5.0) -> None:
        self.host = host
        self.identity = identity
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.started = time.monotonic() if started_monotonic is None else started_monotonic
        self.round_trips: list[tuple[float, float]] = []
        """(seconds since the run started, round trip ms), in order."""
        self.failures = 0
        self.error: str | None = None
        self._client: ProtocolClient | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._n = 0

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> dict[str, Any]:
        """End the probe (its session aborted) and return its summary, the ``baseline`` section."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=STOP_WAIT_S)
        self._drop()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """The baseline so far (see :func:`loadgen.judge.baseline.summarize`)."""
        return summarize(list(self.round_trips), self.failures, self.error, interval_s=self.interval_s)

    def _run(self) -> None:
        due = time.monotonic()
        while True:  # bounded by the run: the plugin stops the probe before judging
            self._once()
            due += self.interval_s
            now = time.monotonic()
            if due < now:  # a slow round trip: start again from now rather than catch up in a burst
                due = now
            gevent.sleep(due - now)

    def _once(self) -> None:
        try:
            client = self._connected()
            self._n += 1
            started = time.perf_counter()
            client.echo({"probe": self._n}, step="probe echo")
            rtt_ms = (time.perf_counter() - started) * 1000.0
        except (ScenarioFailure, ConnectionEnded, SessionClosedError, OSError) as exc:
            self.failures += 1
            self.error = f"{type(exc).__name__}: {exc}"
            if self.failures == 1 or self.failures % 20 == 0:
                log.warning("latency probe: round trip failed (%d so far): %s", self.failures, self.error)
            self._drop()
            return
        self.round_trips.append((time.monotonic() - self.started, rtt_ms))

    def _connected(self) -> ProtocolClient:
        if self._client is None or self._client.session.state != "open":
            self._drop()
            client = ProtocolClient.open(self.host, self.identity.user, self.identity.token, mode="header",
                                         connect_timeout=self.timeout_s, reply_timeout=self.timeout_s)
            self._client = client
            client.expect_ready()
        return self._client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.session.abort()
            self._client = None

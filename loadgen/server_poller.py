"""The one reader of the server's ``/metrics`` during a run: on the master (or standalone process).

It reads the counters at the start, every :data:`POLL_INTERVAL_S` seconds in a greenlet, and at the
end, and keeps every sample with its time. The run is judged on the growth over all of them
(:func:`loadgen.counter_growth.growth`: restarts are summed over, and recorded), once per run:
never per iteration, and never by the users, whose load it would add to.

A read that fails mid-run is kept as a failed sample and logged; the run goes on. One that fails at
the start or at the end makes the counters unavailable, and the server checks fail saying why.
"""

from __future__ import annotations

import http.client
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import gevent

from loadgen.counter_growth import Reset, Sample, flatten, growth
from loadgen.judge.results import utc_now
from loadgen.metrics_scrape import SCRAPE_TIMEOUT_S, ServerCounters, metrics_url, scrape

__all__ = ["POLL_INTERVAL_S", "ServerPoller", "ServerReport"]

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 5.0
"""Seconds between two reads mid-run: few enough to cost the target nothing, often enough to see
a restart and to plot the counters over a run."""

SCRAPE_ERRORS = (OSError, ValueError, http.client.HTTPException)
"""What a failed read raises: unreachable, refused, cut off, or not Prometheus text."""


@dataclass(frozen=True, slots=True)
class ServerReport:
    """What the results file says about the server: growth by counter (None: unavailable, see
    ``error``), the intervals where counters went down, and every sample."""

    counters: dict[str, float] | None
    error: str | None
    resets: tuple[Reset, ...]
    samples: tuple[Sample, ...]


class ServerPoller:
    def __init__(
        self,
        host: str,
        *,
        interval_s: float = POLL_INTERVAL_S,
        read: Callable[[str], ServerCounters] = scrape,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.interval_s = interval_s
        self._read = read
        self._clock = clock
        self._t0 = clock()
        self._samples: list[Sample] = []
        self._start_error: str | None = None
        self._greenlet: gevent.Greenlet | None = None
        self._report: ServerReport | None = None

    @property
    def samples(self) -> tuple[Sample, ...]:
        return tuple(self._samples)

    def _sample(self) -> Sample:
        t = self._clock() - self._t0
        try:
            counters = self._read(self.host)
        except SCRAPE_ERRORS as exc:
            sample = Sample(t, utc_now(), None, str(exc))
        else:
            sample = Sample(t, utc_now(), flatten(counters.values, counters.closes))
        self._samples.append(sample)
        return sample

    def start(self) -> None:
        """Read the counters now; if that worked, keep reading them every ``interval_s`` seconds."""
        self._t0 = self._clock()
        first = self._sample()
        if first.counters is None:
            self._start_error = f"{metrics_url(self.host)} unreachable at the start: {first.error}"
            return
        self._greenlet = gevent.spawn(self._poll)

    def _poll(self) -> None:
        while True:
            gevent.sleep(self.interval_s)
            sample = self._sample()
            if sample.counters is None:
                log.warning("%s unreachable mid-run (kept going): %s", metrics_url(self.host), sample.error)

    def finish(self) -> ServerReport:
        """Stop the greenlet, read the counters a last time, and report (once: later calls repeat it)."""
        if self._report is not None:
            return self._report
        if self._greenlet is not None:
            # An interrupted read is simply not recorded; the end read below replaces it.
            self._greenlet.kill(block=True, timeout=SCRAPE_TIMEOUT_S + 1.0)
        if self._start_error is not None:
            self._report = ServerReport(None, self._start_error, (), self.samples)
            return self._report
        end = self._sample()
        found = growth(self._samples)
        if end.counters is None:
            error = f"{metrics_url(self.host)} unreachable at the end: {end.error}"
            self._report = ServerReport(None, error, found.resets, self.samples)
        else:
            self._report = ServerReport(found.counters, None, found.resets, self.samples)
        return self._report

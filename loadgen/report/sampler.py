"""The greenlet that samples a run as it goes, on the judging process: the results' ``timeline``.

:func:`install` (called from the plugin's ``init`` on the master or a standalone process, never on
a worker) starts a :class:`Sampler` on each ``test_start`` and ends it on ``test_stop``, so every
run of one web UI process gets a timeline of its own. Every :func:`interval_s` seconds the sampler
reads the collector's tallies and Locust's step stats (:func:`read_snapshot`) and adds the deltas
to a :class:`~loadgen.report.timeline.Timeline`; the maths are there, pure.

The interval: 2 s standalone, as often as Locust refreshes its own console and web UI stats; on a
master, Locust's worker report interval (3 s), because the master's figures only move when a
report arrives — a shorter interval would alternate empty and double samples.

The stage spans come from the load shape's own clock (``LoadTestShape.start_time``, reset when the
shape starts): the shape is a pure function of that clock, so its stages began and ended exactly
at the schedule's boundaries on it; the stage in force when the run stopped ends there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import gevent
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner

from loadgen.context import run_context
from loadgen.report.timeline import MAX_SAMPLES, Counts, Snapshot, StepCounts, Timeline, interval_between, stage_spans

__all__ = ["ATTR", "LOCAL_INTERVAL_S", "Sampler", "install", "interval_s", "read_snapshot", "section"]

ATTR: Final = "wsrace_sampler"
"""The ``Environment`` attribute the current run's sampler hangs on."""
LOCAL_INTERVAL_S: Final = 2.0


def interval_s(runner: Any) -> float:
    """How often to sample on this runner (see the module docstring)."""
    return float(WORKER_REPORT_INTERVAL) if isinstance(runner, MasterRunner) else LOCAL_INTERVAL_S


def read_snapshot(environment: Any) -> Snapshot:
    """The cumulative figures now: the collector's tallies and Locust's per-step stats
    (``request_type`` is the scenario, ``name`` the step)."""
    tallies = run_context(environment).collector.tallies()
    scenarios = {name: Counts(t.attempts, t.successes, t.failures, t.interrupted) for name, t in tallies.items()}
    steps = {(entry.method, entry.name): StepCounts(entry.num_requests, entry.num_failures, dict(entry.response_times))
             for entry in environment.stats.entries.values()}
    return Snapshot(scenarios, steps)


class Sampler:
    """Samples ``read()`` every ``interval`` seconds from :meth:`start` to :meth:`stop`; ``clock`` in
    seconds (``time.perf_counter``, the load shape's clock)."""

    def __init__(self, read: Callable[[], Snapshot], interval: float, *, max_samples: int = MAX_SAMPLES,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self._read = read
        self._clock = clock
        self.timeline = Timeline(interval, max_samples)
        self.started_at = 0.0
        self.ended_s: float | None = None
        self._last_s = 0.0
        self._previous = Snapshot()
        self._greenlet: gevent.Greenlet | None = None

    def now_s(self) -> float:
        """Seconds since :meth:`start`."""
        return self._clock() - self.started_at

    def start(self) -> None:
        self.started_at = self._clock()
        self._previous = self._read()
        self._greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.timeline.interval_s)
            self.sample()

    def sample(self) -> None:
        """One read now: what happened since the last one becomes (part of) a sample. After the
        stop, only a read that found something new is kept (a worker's last report)."""
        now = self.now_s()
        current = self._read()
        found = interval_between(self._previous, current)
        self._previous = current
        if self.ended_s is not None and found.empty:
            return
        self.timeline.add(self._last_s, now, found)
        self._last_s = now

    def stop(self) -> None:
        """End the sampling with a last read; later :meth:`sample` calls keep only what is new."""
        if self.ended_s is not None:
            return
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        self.sample()
        self.ended_s = self.now_s()

    def section(self, stages: list[tuple[str, float]], shape_started_at: float | None) -> dict[str, Any]:
        """The ``timeline`` section: the samples so far, and the stages as they ran on the shape's
        clock (``shape_started_at`` on :attr:`clock`, None without a shape)."""
        end = self.ended_s if self.ended_s is not None else self.now_s()
        spans = [] if shape_started_at is None else stage_spans(stages, shape_started_at - self.started_at, end)
        return self.timeline.to_dict(spans)


def _on_test_start(environment: Any, **_: Any) -> None:
    previous: Sampler | None = getattr(environment, ATTR, None)
    if previous is not None:
        previous.stop()
    sampler = Sampler(lambda: read_snapshot(environment), interval_s(environment.runner))
    setattr(environment, ATTR, sampler)
    sampler.start()


def _on_test_stop(environment: Any, **_: Any) -> None:
    sampler: Sampler | None = getattr(environment, ATTR, None)
    if sampler is not None:
        sampler.stop()


def install(environment: Any) -> None:
    """On the judging process: a sampler per run, from ``test_start`` to ``test_stop``."""
    environment.events.test_start.add_listener(_on_test_start)
    environment.events.test_stop.add_listener(_on_test_stop)


def section(environment: Any, *, final: bool = False) -> dict[str, Any] | None:
    """The current run's ``timeline`` section, None if no run started. ``final``: the run is over
    (the verdict is being made): one last read first, for the workers' last reports."""
    sampler: Sampler | None = getattr(environment, ATTR, None)
    if sampler is None:
        return None
    if final:
        if sampler.ended_s is None:
            sampler.stop()
        else:
            sampler.sample()
    schedule = run_context(environment).schedule
    shape = environment.shape_class
    stages = [(stage.name, stage.duration) for stage in schedule.stages] if schedule is not None else []
    started = getattr(shape, "start_time", None) if schedule is not None else None
    return sampler.section(stages, started)

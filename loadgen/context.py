"""One wsrace run as one Locust process sees it: the one context object on the ``Environment``.

Users, the load shape and the plugin all reach it the same way, ``run_context(environment)``. It
hangs on the Locust ``Environment`` (one per process), not in module globals, so several
environments in one interpreter (tests) never share state.

- Every process has the options, the token source and the collector of tallies.
- The process that judges (the master, or a standalone process) also has what the plugin's
  ``init`` set up: the thresholds and schedule, the host, the bundled target, the server poller,
  and the run's own state (when it started, why it broke, whether the schedule completed).
  Workers have none of that: :attr:`RunContext.judging` says which kind of context this is.

On the judging process the plugin creates the context in ``init``, once the target is up and
before any user exists; on a worker (which gets its options from the master) or a bare test
``Environment`` it is created on first use, from the parsed options.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from loadgen.collector import Collector
from loadgen.judge.results import utc_now
from loadgen.run_options import RunOptions
from loadgen.tokens_source import TokenSource, token_source

if TYPE_CHECKING:
    from loadgen.bundled import BundledTarget
    from loadgen.judge.abort import Breach
    from loadgen.judge.schedule import Schedule
    from loadgen.judge.thresholds import Thresholds
    from loadgen.probe import LatencyProbe
    from loadgen.server_poller import ServerPoller

__all__ = ["ATTR", "Interrupts", "JudgePlan", "RunContext", "attach", "run_context"]

ATTR: Final = "wsrace"
"""The ``Environment`` attribute the context hangs on."""


@dataclass(frozen=True)
class JudgePlan:
    """What the judging process loaded before any load: the thresholds and the schedule (None
    when the locustfile has no :class:`~loadgen.shape.ScheduleShape`), with the paths they came from."""

    thresholds: Thresholds
    thresholds_path: str
    schedule: Schedule | None = None
    schedule_path: str | None = None


@dataclass
class Interrupts:
    """The stop signals (SIGINT, SIGTERM) one process received, in order, with when they came
    (``time.monotonic()``): the first stops the run gracefully, a second stops it at once."""

    received: list[tuple[str, float]] = field(default_factory=list)

    def add(self, name: str) -> int:
        """Record one signal; return how many have come."""
        self.received.append((name, time.monotonic()))
        return len(self.received)

    @property
    def first(self) -> str | None:
        """The name of the signal that stopped the run (``"SIGINT"``), or None."""
        return self.received[0][0] if self.received else None

    @property
    def forced(self) -> bool:
        """A second signal came: stop at once, without waiting for anything slow."""
        return len(self.received) > 1

    def reason(self) -> str | None:
        """``"interrupted by SIGINT"``, and what a second signal did; None without a signal."""
        if not self.received:
            return None
        text = f"interrupted by {self.received[0][0]}"
        if self.forced:
            name, at = self.received[1]
            text += f"; a second signal ({name}, {at - self.received[0][1]:.1f} s later) stopped it at once"
        return text


@dataclass
class RunContext:
    options: RunOptions
    tokens: TokenSource
    collector: Collector = field(default_factory=Collector)
    plan: JudgePlan | None = None
    host: str | None = None
    target: BundledTarget | None = None
    poller: ServerPoller | None = None
    started: str = field(default_factory=utc_now)
    started_monotonic: float = field(default_factory=time.monotonic)
    run_error: str | None = None
    """Why the run broke (the bundled target died...), set by whoever saw it."""
    schedule_completed: bool = False
    """Set by the load shape when it ran the schedule to its end."""
    finished: bool = False
    """Set once the verdict is being made: the watchers stop, a second ``quitting`` does nothing."""
    workers_reporting: set[str] = field(default_factory=set)
    interrupts: Interrupts = field(default_factory=Interrupts)
    """The stop signals this process received (the plugin's handlers record them)."""
    done: threading.Event = field(default_factory=lambda: threading.Event())  # looked up late: gevent patches it
    """Set once the verdict is written (or could not be): a second ``quitting`` waits for it."""
    probe: LatencyProbe | None = None
    """The run's latency probe (:mod:`loadgen.probe`), on the judging process."""
    aborted: Breach | None = None
    """The ``abort = true`` breach that stopped the run (:mod:`loadgen.abort`), if one did."""

    @property
    def judging(self) -> bool:
        """True on the process that judges the run (master or standalone), False on a worker."""
        return self.plan is not None

    @property
    def schedule(self) -> Schedule | None:
        return self.plan.schedule if self.plan else None


def attach(environment: Any, ctx: RunContext) -> RunContext:
    """Hang ``ctx`` on ``environment`` as its process's context."""
    setattr(environment, ATTR, ctx)
    return ctx


def run_context(environment: Any) -> RunContext:
    """The process's context; where the plugin did not make one, it is made now from the parsed
    options (a bad ``--token-file`` raises :class:`~loadgen.exitcodes.UsageError`)."""
    ctx = getattr(environment, ATTR, None)
    if ctx is None:
        options = RunOptions.from_namespace(getattr(environment, "parsed_options", None))
        ctx = attach(environment, RunContext(options, token_source(options.secret, options.token_file,
                                                                   options.token_command)))
    return ctx

"""A quiet headless terminal: one live progress line per stage, Locust's tables one flag away, the
verdict last.

:func:`install` runs on the judging process (master or standalone) of a headless run; workers and
the web UI get nothing from it. It

- silences Locust's request tables — the one every 2 s and the final summary — by raising the level
  of the logger Locust prints them through (``locust.stats_logger``, which ``locust.log`` sets up for
  exactly this output) to WARNING, unless ``--locust-stats`` asks for them. A logger level is
  Locust's supported switch: it needs no patch of ``stats_printer`` / ``print_stats`` and leaves
  Locust's own warnings and errors, which go through other loggers, as they are. (Locust's
  ``--only-summary`` would drop only the periodic table, and is decided before ``init``.)
- draws the progress line (:mod:`loadgen.progress_line`) from the start of the load
  (``test_start``) to its stop (``test_stop``, or ``quitting``): users from the runner, iterations
  and failures from the run's collector (on a master the workers' reports, merged).
- holds the verdict (:func:`output`) until Locust's ``quit`` event, which Locust fires after its
  last log line ("Shutting down (exit code N)") and its final summary: the verdict table and the
  results paths are the last lines of the run. An exit that skips ``quit`` still prints it (atexit).

On a terminal the line is rewritten in place; a log record written to the terminal erases it first
(a handler filter) and the next tick draws it again, so records and the line never share a line; a
stage that ended just before the record keeps its last line above it.
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, Final, TextIO

import gevent

from loadgen.context import RunContext
from loadgen.interrupts import headless
from loadgen.progress_line import ERASE_LINE, LinePolicy, Snapshot, snapshot
from loadgen.shape import ScheduleShape

__all__ = ["STATS_LOGGER", "TTY_TICK_S", "install", "output"]

STATS_LOGGER: Final = "locust.stats_logger"
"""The logger Locust prints its request tables through (``locust/stats.py``: ``console_logger``)."""
TTY_TICK_S: Final = 0.5
PLAIN_TICK_S: Final = 1.0
ATTR: Final = "wsrace_terminal"


class _EraseLineFirst(logging.Filter):
    """On a handler that writes to the terminal: erase the progress line before a record is written."""

    def __init__(self, progress: Progress) -> None:
        super().__init__()
        self.progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        self.progress.before_record()
        return True


def _terminal_handlers() -> list[logging.Handler]:
    """The log handlers that write to a terminal (Locust's console handlers, on stderr)."""
    loggers = [logging.getLogger(), logging.getLogger("locust"), logging.getLogger(STATS_LOGGER)]
    found: list[logging.Handler] = []
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if stream is not None and stream.isatty() and handler not in found:
                found.append(handler)
    return found


class Progress:
    """The progress line of one run, drawn by a greenlet from ``start`` to ``stop``."""

    def __init__(self, environment: Any, ctx: RunContext, stream: TextIO) -> None:
        self.environment = environment
        self.ctx = ctx
        self.stream = stream
        self.policy = LinePolicy(tty=stream.isatty())
        self._greenlet: gevent.Greenlet | None = None
        self._started_at: float | None = None
        self._filter = _EraseLineFirst(self)
        self._handlers: list[logging.Handler] = []

    def snapshot(self) -> Snapshot:
        shape = self.environment.shape_class
        if self._started_at is None:
            elapsed = None
        elif isinstance(shape, ScheduleShape):
            elapsed = shape.get_run_time()
        else:
            elapsed = time.monotonic() - self._started_at
        tallies = self.ctx.collector.tallies().values()
        runner = self.environment.runner
        return snapshot(self.ctx.schedule, elapsed, users=runner.user_count if runner else 0,
                        iterations=sum(t.iterations for t in tallies), failures=sum(t.failures for t in tallies))

    def _write(self, text: str) -> None:
        if text:
            self.stream.write(text)
            self.stream.flush()

    def before_record(self) -> None:
        """A log record is about to be written to the terminal: bring the line up to date (a stage
        that just ended keeps its line above the record), then erase it; the next tick redraws it."""
        if self.policy.drawn:
            self._write(self.policy.step(self.snapshot(), time.monotonic()) + ERASE_LINE)

    def start(self, **_: Any) -> None:
        if self._greenlet is not None:
            return
        self.policy = LinePolicy(tty=self.stream.isatty())
        self._started_at = time.monotonic()
        if self.policy.tty:
            self._handlers = _terminal_handlers()
            for handler in self._handlers:
                handler.addFilter(self._filter)
        self._greenlet = gevent.spawn(self._draw)

    def _draw(self) -> None:
        tick = TTY_TICK_S if self.policy.tty else PLAIN_TICK_S
        while not self.ctx.finished:  # ends with the run at the latest, when stop() was not called
            self._write(self.policy.step(self.snapshot(), time.monotonic()))
            gevent.sleep(tick)

    def stop(self, **_: Any) -> None:
        if self._greenlet is None:
            return
        self._greenlet.kill(block=False)  # it only sleeps and writes: nothing to wait for
        self._greenlet = None
        self._write(self.policy.finish(self.snapshot()))
        for handler in self._handlers:
            handler.removeFilter(self._filter)


class _HeldOutput:
    """The verdict's text, kept until Locust's last word (``quit``), then written once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self, **_: Any) -> None:
        if self.parts:
            text, self.parts = "".join(self.parts), []
            self.stream.write(text)
            self.stream.flush()


def install(environment: Any, ctx: RunContext) -> None:
    """Quiet the terminal of a headless run on its judging process; does nothing otherwise."""
    if not headless(environment):
        return
    if not ctx.options.locust_stats:
        logging.getLogger(STATS_LOGGER).setLevel(logging.WARNING)
    progress = Progress(environment, ctx, sys.stdout)
    environment.events.test_start.add_listener(progress.start)
    environment.events.test_stop.add_listener(progress.stop)
    environment.events.quitting.add_listener(progress.stop)
    held = _HeldOutput(sys.stdout)
    environment.events.quit.add_listener(held.flush)
    atexit.register(held.flush)
    setattr(environment, ATTR, held)


def output(environment: Any) -> Callable[[str], Any]:
    """Where the verdict is written: held until Locust's last line in a quiet headless run, else stdout."""
    held = getattr(environment, ATTR, None)
    return held.write if held is not None else sys.stdout.write

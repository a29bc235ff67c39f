"""A headless run's progress line: its text, and when it is written — pure, time given, no I/O.

One line per stage: ``stage 2/5 'connect-storm'``, the time left in it, the users running of the
stage's users (``12/40 users`` while they start), the iterations and failures counted so far in
the run. Where stdout is a terminal the line is a bar rewritten in place (``\\r`` and
erase-to-end-of-line) and left on screen when its stage ends; in a CI log, where every write is a
line of its own, it is a plain line when a stage starts, one every :data:`PLAIN_INTERVAL_S` while
it runs and one when it ends — at most :func:`plain_lines_bound` lines for a stage of a given
length.

:class:`LinePolicy` turns snapshots (:class:`Snapshot`, what the run is at a given moment) into the
exact text to write; :mod:`loadgen.progress` feeds it from the running Locust process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from loadgen.judge.schedule import Schedule, stage_at

__all__ = ["BAR_WIDTH", "ERASE_LINE", "PLAIN_INTERVAL_S", "LinePolicy", "Snapshot", "plain_lines_bound", "render",
           "snapshot"]

PLAIN_INTERVAL_S: Final = 10.0
"""Seconds between two plain progress lines of one stage (a CI log)."""
BAR_WIDTH: Final = 20
"""Characters of the bar drawn on a terminal."""
ERASE_LINE: Final = "\r\x1b[K"
"""Back to the start of the line and erase it (ANSI EL 0): a terminal's in-place rewrite."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The run at one moment: the stage in force (None: no schedule, or before it started), how far
    into it, and what was counted so far."""

    stage_index: int | None
    stages: int
    stage_name: str
    stage_duration: float | None
    in_stage_s: float
    users: int
    iterations: int
    failures: int
    stage_users: int | None = None
    """The users the stage asks for (None: no stage)."""


def snapshot(schedule: Schedule | None, elapsed_s: float | None, users: int, iterations: int,
             failures: int) -> Snapshot:
    """The snapshot ``elapsed_s`` seconds into the run (None: the load has not started yet).

    Past the schedule's end the last stage is shown, with no time left."""
    if schedule is None or elapsed_s is None:
        return Snapshot(None, len(schedule.stages) if schedule else 0, "", None, max(elapsed_s or 0.0, 0.0),
                        users, iterations, failures)
    found = stage_at(schedule, max(elapsed_s, 0.0))
    index = found[0] if found is not None else len(schedule.stages) - 1
    stage = schedule.stages[index]
    started = math.fsum(s.duration for s in schedule.stages[:index])
    in_stage = min(max(elapsed_s - started, 0.0), stage.duration)
    return Snapshot(index, len(schedule.stages), stage.name, stage.duration, in_stage, users, iterations, failures,
                    stage.users)


def _bar(done: float, width: int) -> str:
    filled = min(width, max(0, round(done * width)))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def render(snap: Snapshot, *, bar: bool, ended: bool = False) -> str:
    """The progress line's text (no newline); ``bar`` draws the terminal's bar, ``ended`` marks a
    stage that is over."""
    running = f"{snap.users}" if snap.stage_users is None else f"{snap.users}/{snap.stage_users}"
    counts = (f"{running} users, {snap.iterations} iterations, "
              f"{snap.failures} {'failure' if snap.failures == 1 else 'failures'}")
    if snap.stage_index is None:
        where = "starting" if snap.stages else f"running {snap.in_stage_s:.0f} s"
        return f"progress: {where}, {counts}"
    assert snap.stage_duration is not None
    left = 0.0 if ended else max(snap.stage_duration - snap.in_stage_s, 0.0)
    timing = "ended" if ended else f"{math.ceil(left)} s left of {snap.stage_duration:g} s"
    head = f"stage {snap.stage_index + 1}/{snap.stages} {snap.stage_name!r}"
    if bar:
        done = 1.0 if ended else snap.in_stage_s / snap.stage_duration
        return f"{head} {_bar(done, BAR_WIDTH)} {timing}, {counts}"
    return f"progress: {head}: {timing}, {counts}"


def plain_lines_bound(stage_duration: float, interval_s: float = PLAIN_INTERVAL_S) -> int:
    """The most plain lines :class:`LinePolicy` writes for one stage of ``stage_duration`` seconds:
    its start, one per whole interval inside it, its end."""
    return 2 + math.floor(stage_duration / interval_s)


class LinePolicy:
    """What to write to stdout for each snapshot: on a terminal (``tty``) the current line rewritten
    in place, each stage's last state left on its own line; otherwise plain lines, at a stage's
    start, every ``interval_s`` and at its end. Feed it :meth:`step` every tick and :meth:`finish`
    once the load has stopped; each returns the text to write (maybe empty)."""

    def __init__(self, tty: bool, interval_s: float = PLAIN_INTERVAL_S) -> None:
        self.tty = tty
        self.interval_s = interval_s
        self._last: Snapshot | None = None
        self._last_line_at = 0.0
        self._finished = False

    def _line(self, snap: Snapshot, *, ended: bool = False) -> str:
        text = render(snap, bar=self.tty, ended=ended)
        return ERASE_LINE + text if self.tty else text + "\n"

    def _end(self, snap: Snapshot) -> str:
        """The last state of ``snap``'s stage, left on a line of its own."""
        return self._line(snap, ended=snap.stage_index is not None) + ("\n" if self.tty else "")

    def step(self, snap: Snapshot, now: float) -> str:
        if self._finished:
            return ""
        previous, self._last = self._last, snap
        if previous is None or previous.stage_index != snap.stage_index:
            out = self._end(previous) if previous is not None and previous.stage_index is not None else ""
            self._last_line_at = now
            return out + self._line(snap)
        if self.tty:
            return self._line(snap)
        if now - self._last_line_at >= self.interval_s:
            self._last_line_at = now
            return self._line(snap)
        return ""

    def finish(self, snap: Snapshot | None = None) -> str:
        """The end line of the stage in force (with ``snap``, the final counts); nothing more after it."""
        if self._finished:
            return ""
        self._finished = True
        last = self._last
        if last is None:
            return ""
        if snap is not None and snap.stage_index == last.stage_index:
            last = snap  # the final counts of the stage that was on screen
        return self._end(last)

    @property
    def drawn(self) -> bool:
        """True while a terminal line is on screen without its newline (a log record must erase it)."""
        return self.tty and self._last is not None and not self._finished

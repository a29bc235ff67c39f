"""The headless progress line (loadgen.progress_line): its text, and how many lines it writes on a
terminal and in a CI log — pure, fed snapshots at given times, no sockets, no Locust."""

from __future__ import annotations

import math

import pytest

from loadgen.judge.schedule import Schedule, Stage, total_duration
from loadgen.progress_line import (
    BAR_WIDTH,
    ERASE_LINE,
    PLAIN_INTERVAL_S,
    LinePolicy,
    Snapshot,
    plain_lines_bound,
    render,
    snapshot,
)

TICK_S = 1.0
"""How often the driver (loadgen.progress) feeds a snapshot in a CI log."""


def _schedule(*durations: float) -> Schedule:
    return Schedule(tuple(Stage(f"s{i}", ("steady",), 5 + i, 5.0, d) for i, d in enumerate(durations)))


def _drive(policy: LinePolicy, schedule: Schedule, tick_s: float, offset_s: float = 0.0) -> str:
    """What ``policy`` writes for a whole run of ``schedule``, one snapshot every ``tick_s`` (the
    first at ``offset_s``), iterations counting up, then the stop."""
    out, count, t = [], 0, offset_s
    while t < total_duration(schedule):
        count += 3
        out.append(policy.step(snapshot(schedule, t, users=7, iterations=count, failures=count // 3), t))
        t += tick_s
    out.append(policy.finish(snapshot(schedule, t, users=0, iterations=count, failures=count // 3)))
    return "".join(out)


def test_the_plain_line_names_stage_time_left_users_iterations_and_failures() -> None:
    """A plain line says stage i/n and its name, whole seconds left of the stage, the users running
    of the stage's users, and the counts."""
    snap = snapshot(_schedule(10, 20), 13.5, users=4, iterations=345, failures=1)
    head = "progress: stage 2/2 's1': "
    assert render(snap, bar=False) == head + "17 s left of 20 s, 4/6 users, 345 iterations, 1 failure"
    assert render(snap, bar=False, ended=True) == head + "ended, 4/6 users, 345 iterations, 1 failure"


def test_the_terminal_bar_fills_with_the_time_spent_in_the_stage() -> None:
    """The bar shows the share of the stage done: half way, half the bar; ended, all of it."""
    snap = snapshot(_schedule(10), 5.0, users=3, iterations=0, failures=0)
    half = "[" + "#" * (BAR_WIDTH // 2) + "-" * (BAR_WIDTH - BAR_WIDTH // 2) + "]"
    assert render(snap, bar=True) == f"stage 1/1 's0' {half} 5 s left of 10 s, 3/5 users, 0 iterations, 0 failures"
    assert "[" + "#" * BAR_WIDTH + "]" in render(snap, bar=True, ended=True)


@pytest.mark.parametrize(("elapsed", "index", "in_stage"), [(0.0, 0, 0.0), (9.99, 0, 9.99), (10.0, 1, 0.0),
                                                            (29.0, 1, 19.0), (45.0, 1, 20.0)])
def test_a_snapshot_places_the_elapsed_time_in_its_stage(elapsed: float, index: int, in_stage: float) -> None:
    """The stage in force and the time spent in it; past the end, the last stage with no time left."""
    snap = snapshot(_schedule(10, 20), elapsed, users=0, iterations=0, failures=0)
    assert (snap.stage_index, snap.stages) == (index, 2)
    assert snap.in_stage_s == pytest.approx(in_stage)


def test_before_the_load_and_without_a_schedule_the_line_says_so() -> None:
    """No stage yet: 'starting'; a run with no schedule: how long it has run."""
    assert render(snapshot(_schedule(5), None, 0, 0, 0), bar=False).startswith("progress: starting, 0 users")
    no_schedule = render(snapshot(None, 12.4, 4, 9, 0), bar=True)
    assert no_schedule == "progress: running 12 s, 4 users, 9 iterations, 0 failures"


SCHEDULES = [(6.0,), (6.0, 6.0), (25.0, 3.0, 10.0), (PLAIN_INTERVAL_S * 3, 0.5, PLAIN_INTERVAL_S * 2 + 0.5)]


@pytest.mark.parametrize("durations", SCHEDULES)
@pytest.mark.parametrize("offset", [0.0, 0.3])
def test_a_ci_log_gets_a_bounded_number_of_plain_lines_per_stage(durations: tuple[float, ...], offset: float) -> None:
    """Not a terminal: whole lines only, each stage's start and end among them, and per stage at most
    its start, one per PLAIN_INTERVAL_S and its end."""
    schedule = _schedule(*durations)
    text = _drive(LinePolicy(tty=False), schedule, TICK_S, offset)
    assert "\r" not in text and "\x1b" not in text and text.endswith("\n")
    lines = text.splitlines()
    for index, stage in enumerate(schedule.stages):
        own = [line for line in lines if line.startswith(f"progress: stage {index + 1}/{len(durations)} ")]
        assert 2 <= len(own) <= plain_lines_bound(stage.duration), own
        assert "ended" in own[-1] and "ended" not in own[0]
    assert len(lines) <= sum(plain_lines_bound(stage.duration) for stage in schedule.stages)


@pytest.mark.parametrize("durations", SCHEDULES)
def test_a_terminal_keeps_one_line_per_stage_rewritten_in_place(durations: tuple[float, ...]) -> None:
    """A terminal: one newline per stage; every write is an erase-and-rewrite; what is left on each
    line is that stage's ended state with the counts it reached."""
    schedule = _schedule(*durations)
    text = _drive(LinePolicy(tty=True), schedule, TICK_S / 2)
    assert text.count("\n") == len(durations) and text.endswith("\n")
    kept = [line.rsplit(ERASE_LINE, 1)[-1] for line in text.split("\n")[:-1]]  # not splitlines(): it splits at CR
    for index, line in enumerate(kept):
        assert line.startswith(f"stage {index + 1}/{len(durations)} 's{index}' [") and "ended" in line
    writes = text.replace("\n", "").split(ERASE_LINE)
    assert writes[0] == "" and len(writes) - 1 >= math.floor(total_duration(schedule) / (TICK_S / 2))


def test_the_last_line_has_the_final_counts_and_nothing_follows_it() -> None:
    """finish() writes the stage's end with the counts given to it, once; later ticks write nothing."""
    policy, schedule = LinePolicy(tty=False), _schedule(30)
    policy.step(snapshot(schedule, 1.0, 5, 10, 0), 1.0)
    end = policy.finish(snapshot(schedule, 2.0, 0, 99, 4))
    assert end == "progress: stage 1/1 's0': ended, 0/5 users, 99 iterations, 4 failures\n"
    assert policy.finish() == "" and policy.step(snapshot(schedule, 3.0, 5, 100, 4), 3.0) == ""


def test_only_a_terminal_line_on_screen_needs_erasing_before_a_log_record() -> None:
    """`drawn` is true while a terminal line lacks its newline, never in a CI log, never after the end."""
    snap = Snapshot(0, 1, "s0", 10.0, 1.0, 1, 1, 0)
    tty, plain = LinePolicy(tty=True), LinePolicy(tty=False)
    assert not tty.drawn
    tty.step(snap, 0.0)
    plain.step(snap, 0.0)
    assert tty.drawn and not plain.drawn
    tty.finish()
    assert not tty.drawn


def test_no_stage_means_no_stage_lines() -> None:
    """Without a schedule (plain `locust -f scenarios/steady.py -t 30s`) the line counts time, and
    a CI log still gets one line every interval, plus the start and the end."""
    policy, out, duration = LinePolicy(tty=False), [], 3 * PLAIN_INTERVAL_S
    t = 0.0
    while t < duration:
        out.append(policy.step(snapshot(None, t, 2, int(t), 0), t))
        t += TICK_S
    out.append(policy.finish(snapshot(None, t, 0, int(t), 0)))
    lines = "".join(out).splitlines()
    assert all(line.startswith("progress: running ") for line in lines)
    assert len(lines) <= plain_lines_bound(duration)

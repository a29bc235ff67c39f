"""loadgen.capacity.levels: hold schedules, levels, a ramp's verdict and a level's figures. Pure."""

from __future__ import annotations

import tomllib

import pytest

from loadgen import paths
from loadgen.capacity.levels import (
    PROBE_CONNECTIONS,
    LevelsError,
    Sample,
    check_hold,
    figures,
    hold_problem,
    hold_schedule,
    hold_shape,
    max_sessions_passed,
    parse_levels,
    per_added_session,
    schedule_toml,
)
from loadgen.judge.schedule import Schedule, Stage, parse_schedule, schedule_from_dict

MIB = 2**20


def _template(users: int = 1000, rate: float = 250.0, duration: float = 64.0) -> Schedule:
    return Schedule((Stage("hold", ("hold",), users, rate, duration),), "t.toml")


def test_the_shipped_hold_schedule_holds_at_least_60_s() -> None:
    """schedule-hold.toml: one stage of the hold scenario, held >= 60 s after its ramp."""
    shape = hold_shape(parse_schedule(paths.default_schedule(paths.HOLD_PROFILE)))
    assert shape.scenario == "hold" and shape.hold_s >= 60


def test_a_hold_for_n_keeps_the_rate_and_the_hold() -> None:
    """users = N, duration = N / rate + hold."""
    schedule = hold_schedule(hold_shape(_template()), 100_000)
    (stage,) = schedule.stages
    assert (stage.users, stage.spawn_rate) == (100_000, 250.0)
    assert stage.duration == pytest.approx(100_000 / 250 + 60)


def test_flags_override_the_rate_and_the_hold() -> None:
    shape = hold_shape(_template(), rate=500.0, hold_s=90.0)
    assert (shape.rate, shape.hold_s) == (500.0, 90.0)


@pytest.mark.parametrize("template", [
    Schedule((Stage("a", ("hold",), 10, 1, 5), Stage("b", ("hold",), 10, 1, 20)), "two.toml"),
    Schedule((Stage("a", ("hold", "steady"), 10, 1, 20),), "two-scenarios.toml"),
    _template(users=1000, rate=10, duration=50),  # ends before its users are connected
])
def test_a_template_that_is_not_a_hold_is_refused(template: Schedule) -> None:
    with pytest.raises(LevelsError):
        hold_shape(template)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf")])
def test_a_bad_rate_is_refused(bad: float) -> None:
    with pytest.raises(LevelsError, match="--connect-rate"):
        hold_shape(_template(), rate=bad)


def test_a_hold_shorter_than_one_held_period_is_refused() -> None:
    """Every session must be able to finish one period: hold >= interval x (1 + JITTER)."""
    check_hold(hold_shape(_template()), 30.0)  # 60 s held, periods of 24-36 s
    with pytest.raises(LevelsError, match="shorter than one held period"):
        check_hold(hold_shape(_template(), hold_s=30.0), 30.0)


def test_the_written_schedule_reads_back_the_same() -> None:
    """schedule_toml writes what parse_schedule reads: the same stages, comments ignored."""
    schedule = hold_schedule(hold_shape(_template(rate=333.0)), 12_345)
    text = schedule_toml(schedule, "line one\nline two")
    assert schedule_from_dict(tomllib.loads(text), "x").stages == schedule.stages


def test_levels_parse_with_thousands_and_must_grow() -> None:
    assert parse_levels("10k,30k, 60_000,100000") == (10_000, 30_000, 60_000, 100_000)
    for bad in ("1000,1000", "2000,1000", "10k,x", "0"):
        with pytest.raises(LevelsError):
            parse_levels(bad)


@pytest.mark.parametrize(("levels", "best"), [
    ([(1000, True), (2000, True), (5000, False)], 2000),
    ([(1000, True), (2000, True)], 2000),
    ([(1000, False)], None),
    ([], None),
    ([(1000, True), (2000, False), (5000, True)], 1000),  # a ramp stops at the first failure
])
def test_the_ramp_reports_the_last_level_before_the_first_failure(levels: list[tuple[int, bool]],
                                                                 best: int | None) -> None:
    assert max_sessions_passed(levels) == best


def _sample(t: float, open_: float | None, load_cpu: float, target_cpu: float, load_rss: int = 100 * MIB,
            target_rss: int = 50 * MIB) -> Sample:
    return Sample(t=t, load_rss=load_rss, load_cpu_s=load_cpu, load_processes=2, target_rss=target_rss,
                  target_cpu_s=target_cpu, target_processes=2, connections_open=open_,
                  available_bytes=10_000 * MIB)


def test_figures_of_a_level_from_its_samples() -> None:
    """Connect rate over the ramp, RSS per session from each side's peak, CPU per phase in % of a core."""
    sessions = 1000
    p = PROBE_CONNECTIONS
    samples = [
        _sample(0, p + 0, 0, 0),
        _sample(1, p + 100, 1.0, 0.5),
        _sample(2, p + 600, 2.0, 1.0),
        _sample(3, p + 1000, 3.0, 1.5, load_rss=200 * MIB, target_rss=100 * MIB),
        _sample(4, None, 3.2, 1.6),  # a scrape that failed
        _sample(5, p + 1000, 3.5, 1.75),
        _sample(6, p + 10, 4.0, 2.0),
    ]
    found = figures(samples, sessions)
    assert found.peak_held == sessions
    assert found.connected_s == 2.0
    assert found.held_s == 2.0  # seen full at 3 s and 5 s
    assert found.connect_rate == pytest.approx((sessions - 100) / 2.0)
    assert found.load_rss_mib == 200.0 and found.target_rss_mib == 100.0
    assert found.load_kib_per_session == pytest.approx(200 * 1024 / sessions, abs=0.1)
    assert found.target_kib_per_session == pytest.approx(100 * 1024 / sessions, abs=0.1)
    assert found.load_cpu_ramp == 100.0 and found.target_cpu_ramp == 50.0
    assert found.load_cpu_hold == 25.0 and found.target_cpu_hold == 12.5
    assert found.target_idle_rss_mib == 50.0  # the first sample: the target before any session
    assert found.target_kib_per_session_over_idle == pytest.approx(50 * 1024 / sessions, abs=0.1)


def test_memory_per_added_session_between_levels() -> None:
    """(RSS at this level - RSS at the previous) / sessions added, per side; None for the first."""
    first = {"sessions": 1000, "load_rss_mib": 100.0, "target_rss_mib": 60.0}
    second = {"sessions": 3000, "load_rss_mib": 160.0, "target_rss_mib": None}
    assert per_added_session(first, second, "load") == pytest.approx(60 * 1024 / 2000, abs=0.1)
    assert per_added_session(first, second, "target") is None
    assert per_added_session(None, first, "load") is None


def test_figures_of_a_level_that_never_got_all_its_sessions() -> None:
    """No connect rate, no hold CPU: they are not made up; the peak says how far it got, and the
    level did not hold."""
    samples = [_sample(0, 1, 0, 0), _sample(1, 400, 1, 1), _sample(2, 500, 2, 2)]
    found = figures(samples, 1000)
    assert found.peak_held == 500 - PROBE_CONNECTIONS
    assert found.connect_rate is None and found.load_cpu_hold is None and found.held_s is None
    assert "never held all 1,000 sessions at once (at most 499)" in (hold_problem(found, 1000, 60, 1) or "")


def test_a_level_held_for_less_than_the_hold_asked_did_not_hold() -> None:
    """All sessions open at once, but for 20 s of the 60 asked: the ramp ate the hold, said so."""
    p = PROBE_CONNECTIONS
    samples = [_sample(t, p + (1000 if t >= 40 else 25 * t), t, t) for t in range(61)]
    found = figures(samples, 1000)
    assert found.held_s == 20.0
    assert "held together for 20 s of the 60 s asked" in (hold_problem(found, 1000, 60, 1.0) or "")
    assert hold_problem(found, 1000, 21, 1.0) is None  # within two samples of the hold asked


def test_figures_without_our_target() -> None:
    """--host: no target RSS or CPU, None rather than zero."""
    samples = [Sample(0, 10 * MIB, 0.0, 1, None, None, 0, None, 1)]
    found = figures(samples, 10)
    assert found.target_rss_mib is None and found.target_kib_per_session is None
    assert found.peak_held is None

"""The soak's verdict from its figures alone: flat memory and files, nothing left behind."""

from __future__ import annotations

from dataclasses import replace

import pytest

from loadgen.soak.judge import MIB, RunRecord, TargetPeak, Tolerance, drift, judge, load_notes
from tests.soak.samples import BEFORE, IDLE_TASKS, flat, record, state

GAUGES = ("connections_open", "jobs_running", "jobs_kept", "background_tasks")


def failed(checks: list) -> list[str]:
    return [c.name for c in checks if not c.passed]


def test_flat_runs_pass_every_check() -> None:
    """Identical figures after each run pass; each run has its gauge and process checks, each
    later run its two flatness checks."""
    runs = flat(3)
    checks = judge(BEFORE, runs)
    assert failed(checks) == []
    assert len(checks) == len(runs) * (len(GAUGES) + 1) + (len(runs) - 1) * 2


def test_growth_from_the_start_to_run_1_is_warm_up_not_a_leak() -> None:
    """Run 1 is the reference: the target grows from idle during run 1, then stays flat."""
    before = replace(BEFORE, rss_bytes=BEFORE.rss_bytes // 2)
    assert failed(judge(before, flat(3))) == []


@pytest.mark.parametrize("reference_mib", [20.0, 500.0])
def test_memory_may_grow_up_to_the_stricter_allowance(reference_mib: float) -> None:
    """Growth up to the allowance (10 % of run 1, and at most 8 MiB) passes; one byte more fails,
    for a target small enough for the ratio to decide and one big enough for the MiB cap."""
    tol = Tolerance()
    reference = int(reference_mib * MIB)
    allowance = tol.rss_allowance(reference)
    assert allowance == min(int(reference * tol.rss_growth_ratio), tol.rss_growth_bytes)
    first = state(rss_bytes=reference)
    at_limit = [record(1, first), record(2, replace(first, rss_bytes=reference + allowance))]
    over = [record(1, first), record(2, replace(first, rss_bytes=reference + allowance + 1))]
    assert failed(judge(BEFORE, at_limit, tol)) == []
    assert failed(judge(BEFORE, over, tol)) == ["run 2: memory flat"]


def test_every_later_run_is_compared_with_run_1_not_only_the_last() -> None:
    """A run in the middle that grew fails even if the last run is back down."""
    runs = [record(1, state(70.0)), record(2, state(90.0)), record(3, state(70.0))]
    assert failed(judge(BEFORE, runs)) == ["run 2: memory flat"]


def _peak(run: RunRecord, peak_mib: float) -> RunRecord:
    return replace(run, target_peak=TargetPeak(int(peak_mib * MIB), 40, 100.0, 1000.0, 30))


def test_a_new_high_water_mark_explains_growth_and_a_leak_does_not() -> None:
    """Growth beyond the allowance passes when that run's peak during the run rose by as much above
    every earlier peak (it held more at once); the same growth with no higher peak fails; a later
    run is held to the highest idle figure so far."""
    grown = [_peak(record(1, state(70.0)), 150.0), _peak(record(2, state(90.0)), 175.0),
             _peak(record(3, state(90.0)), 160.0)]
    assert failed(judge(BEFORE, grown)) == []
    leak = [_peak(record(1, state(70.0)), 150.0), _peak(record(2, state(90.0)), 150.0)]
    assert failed(judge(BEFORE, leak)) == ["run 2: memory flat"]
    creeping = [*grown, _peak(record(4, state(90.0 + 8.5)), 150.0)]
    assert failed(judge(BEFORE, creeping)) == ["run 4: memory flat"]


def test_one_more_open_file_fails() -> None:
    """The target's open files after a later run must equal run 1's (no tolerance by default)."""
    runs = [record(1, state(fds=25)), record(2, state(fds=26))]
    checks = judge(BEFORE, runs)
    assert failed(checks) == ["run 2: open files flat"]
    assert "26 open files vs 25" in next(c.message for c in checks if not c.passed)
    assert failed(judge(BEFORE, runs, Tolerance(fds_growth=1))) == []


@pytest.mark.parametrize("gauge", GAUGES)
def test_anything_left_behind_fails_naming_it(gauge: str) -> None:
    """One connection, running job, kept job or extra task left after a run fails that run's check."""
    left = (IDLE_TASKS + 1) if gauge == "background_tasks" else 1.0
    runs = [record(1, state()), record(2, state(**{gauge: left}))]
    checks = judge(BEFORE, runs)
    assert failed(checks) == [f"run 2: {gauge}"]
    assert f"{gauge} is {left:g} once idle" in next(c.message for c in checks if not c.passed)


def test_a_gauge_the_target_does_not_expose_fails() -> None:
    """A missing gauge is not read as 0: the check fails and says it is not exposed."""
    runs = [record(1, state(jobs_kept=None)), record(2, state())]
    checks = judge(BEFORE, runs)
    assert failed(checks) == ["run 1: jobs_kept"]
    assert "not exposed" in next(c.message for c in checks if not c.passed)


def test_tasks_are_compared_with_the_idle_number_before_run_1() -> None:
    """The idle number of background tasks is the one measured before any load, whatever it is."""
    before = replace(BEFORE, background_tasks=2.0)
    runs = [record(k, state(background_tasks=2.0)) for k in (1, 2)]
    assert failed(judge(before, runs)) == []
    assert failed(judge(BEFORE, runs)) == ["run 1: background_tasks", "run 2: background_tasks"]


def test_a_restarted_worker_fails_the_processes_check() -> None:
    """Other pids after a run than before it mean a process died (and its leak would be hidden)."""
    runs = [record(1, state()), record(2, state(pids=(100, 102)))]
    checks = judge(BEFORE, runs)
    assert failed(checks) == ["run 2: processes"]
    assert "[100, 101] -> [100, 102]" in next(c.message for c in checks if not c.passed)


def test_a_soak_without_runs_is_refused() -> None:
    """There is nothing to judge without a run."""
    with pytest.raises(ValueError):
        judge(BEFORE, [])


def test_drift_is_each_run_over_run_1() -> None:
    """The ratios of target and load figures to run 1's."""
    runs = [record(1, state(80.0, fds=20), load_mib=100.0, load_fds=40),
            record(2, state(84.0, fds=20), load_mib=150.0, load_fds=30)]
    first, second = drift(runs)
    assert (first.target_rss, first.target_fds, first.load_rss, first.load_fds) == (1.0, 1.0, 1.0, 1.0)
    assert second.target_rss == pytest.approx(84.0 / 80.0)
    assert second.target_fds == 1.0
    assert (second.load_rss, second.load_fds) == (pytest.approx(1.5), pytest.approx(0.75))


def test_a_load_side_drift_beyond_its_tolerance_is_a_note_not_a_failure() -> None:
    """The load side's peaks are reported: drifting more than 25 % is noted, and judged by nothing."""
    runs = [record(1, state(), load_mib=100.0, load_fds=40), record(2, state(), load_mib=126.0, load_fds=40),
            record(3, state(), load_mib=124.0, load_fds=40)]
    assert load_notes(runs) == ["run 2: load side's peak RSS is 1.26x run 1's"]
    assert failed(judge(BEFORE, runs)) == []

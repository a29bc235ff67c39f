"""Latency against the run's baseline: parsing <stat>_vs_baseline, the baseline summary, the verdicts, the table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loadgen.judge.baseline import MAX_SAMPLES, MIN_ROUND_TRIPS, baseline_problem, percentile, summarize
from loadgen.judge.config_errors import ConfigError
from loadgen.judge.evaluate import evaluate
from loadgen.judge.relative import BASELINE_FLOOR_MS
from loadgen.judge.results import build_results
from loadgen.judge.table import render_table
from loadgen.judge.thresholds import (
    LatencyLimit,
    RelativeLimit,
    parse_thresholds,
    thresholds_from_dict,
    thresholds_to_dict,
)
from tests.judge.samples import good_doc, limits, meta, step

RELATIVE = """
[scenarios.steady.latency.echo]
p95 = 1000
p99_vs_baseline = 5
p50_vs_baseline = 2.5
"""


def baseline(rtts: list[float], failures: int = 0, error: str | None = None) -> dict[str, Any]:
    """The baseline section of a probe that measured ``rtts`` (ms), one every 0.25 s."""
    return summarize([(i * 0.25, ms) for i, ms in enumerate(rtts)], failures, error)


STEADY = limits({"scenarios": {"steady": {"min_iterations": 1, "latency": {"echo": {"p99_vs_baseline": 5}}}}})


def judged(steps: dict[str, Any], base: dict[str, Any] | None) -> list[Any]:
    doc = {"scenarios": {"steady": {"successes": 10, "failures": 0, "steps": steps}}, "run": {}}
    if base is not None:
        doc["baseline"] = base
    return [v for v in evaluate(doc, STEADY) if v.metric.endswith("_vs_baseline")]


# --- parsing ---------------------------------------------------------------------------------------------


def test_relative_limits_parse_beside_absolute_ones(write: Callable[[str, str], Path]) -> None:
    """<stat>_vs_baseline keys become RelativeLimits in RELATIVE_STATS order; absolute ones stay."""
    t = parse_thresholds(write("t.toml", RELATIVE))
    steady = t.scenarios["steady"]
    assert steady.latency == (LatencyLimit("echo", "p95", 1000.0),)
    assert steady.relative == (RelativeLimit("echo", "p50", 2.5), RelativeLimit("echo", "p99", 5.0))
    assert steady.relative[1].key == "p99_vs_baseline"


def test_relative_limits_round_trip(write: Callable[[str, str], Path]) -> None:
    """The effective thresholds keep the ratios, and read back equal (wsrace check)."""
    t = parse_thresholds(write("t.toml", RELATIVE + "abort = true\n"))
    data = thresholds_to_dict(t)
    assert data["scenarios"]["steady"]["latency"]["echo"] == {
        "p95": 1000.0, "p50_vs_baseline": 2.5, "p99_vs_baseline": 5.0, "abort": True}
    assert thresholds_from_dict(data, "again") == t


@pytest.mark.parametrize(("line", "key", "expected"), [
    ("p99_vs_baseline = 0.5", "p99_vs_baseline", "expected a ratio >= 1"),
    ("p99_vs_baseline = '5'", "p99_vs_baseline", "expected a ratio >= 1"),
    ("p95_vs_baseline = true", "p95_vs_baseline", "expected a ratio >= 1"),
    ("max_vs_baseline = 5", "max_vs_baseline", "unknown key"),
    ("p99_vs_baselin = 5", "p99_vs_baselin", "did you mean 'p99_vs_baseline'?"),
    ("abort = 1", "abort", "expected true or false"),
])
def test_bad_relative_values_name_file_key_and_fix(write: Callable[[str, str], Path], line: str, key: str,
                                                    expected: str) -> None:
    """A bad ratio or abort flag is a ConfigError naming the file, the dotted key and what is expected."""
    path = write("t.toml", f'[scenarios.steady.latency.echo]\np95 = 100\n{line}\n')
    with pytest.raises(ConfigError) as info:
        parse_thresholds(path)
    assert info.value.file == str(path)
    assert info.value.key == f"scenarios.steady.latency.echo.{key}"
    assert expected in str(info.value)


def test_a_step_with_only_abort_has_no_limit(write: Callable[[str, str], Path]) -> None:
    """``abort = true`` alone limits nothing: the step table must name a limit."""
    with pytest.raises(ConfigError, match=r"expected at least one of .*p99_vs_baseline"):
        parse_thresholds(write("t.toml", "[scenarios.steady.latency.echo]\nabort = true\n"))


# --- the baseline ----------------------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    """Nearest rank over 1..100: p50 is the 50th value, p99 the 99th; nothing gives None."""
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) is None


def test_summary_counts_every_round_trip_and_caps_samples() -> None:
    """Percentiles use every round trip; samples over time stop at MAX_SAMPLES."""
    rtts = [1.0] * (MAX_SAMPLES + 10)
    base = baseline(rtts)
    assert base["count"] == len(rtts)
    assert len(base["samples"]) == MAX_SAMPLES
    assert base["samples"][1] == [0.25, 1.0]
    assert base["p99"] == 1.0 and base["max"] == 1.0


@pytest.mark.parametrize(("base", "needle"), [
    (None, "no latency baseline was measured"),
    (summarize([], 12, "HandshakeFailed: connection refused"), "no round trip: HandshakeFailed: connection refused"),
    (summarize([(0.0, 1.0)] * (MIN_ROUND_TRIPS - 1)), f"only {MIN_ROUND_TRIPS - 1} round trips"),
])
def test_baseline_problems_are_named(base: dict[str, Any] | None, needle: str) -> None:
    """A missing, failed or thin baseline says why it cannot be judged against."""
    problem = baseline_problem(base)
    assert problem is not None and needle in problem


# --- the verdicts ----------------------------------------------------------------------------------------


def test_ratio_within_and_over_the_limit() -> None:
    """The step's p99 over the baseline's p99: at most the limit passes, above fails, the ratio is the value."""
    base = baseline([20.0] * 99 + [100.0])  # p99 = 20 ms, above the floor
    ok = judged({"echo": step(50, 80, 100)}, base)
    assert [(v.passed, v.value, v.limit) for v in ok] == [(True, 100 / 20.0, 5.0)]
    bad = judged({"echo": step(50, 80, 105)}, base)
    assert [(v.passed, v.value) for v in bad] == [(False, 105 / 20.0)]
    assert "p99 105 ms = 5.2\N{MULTIPLICATION SIGN} the baseline's 20 ms > limit 5" in bad[0].message


def test_a_quiet_baseline_is_taken_at_its_floor() -> None:
    """A 2 ms baseline (an idle probe on a quiet machine) counts as BASELINE_FLOOR_MS: a correct
    42 ms step is then not 21x but 4.2x; a step that waits like a lock still fails, and says so."""
    base = baseline([2.0] * 100)
    fine = judged({"echo": step(30, 40, 42)}, base)
    assert [(v.passed, v.value) for v in fine] == [(True, 42 / BASELINE_FLOOR_MS)]
    assert f"the baseline's 2 ms (floor {BASELINE_FLOOR_MS:g} ms) <= limit 5" in fine[0].message
    locked = judged({"echo": step(300, 400, 500)}, base)
    assert [(v.passed, v.value) for v in locked] == [(False, 500 / BASELINE_FLOOR_MS)]


@pytest.mark.parametrize(("base", "needle"), [
    (None, "no latency baseline was measured"),
    (summarize([], 40, "OSError: [Errno 111] Connection refused"), "Connection refused"),
])
def test_no_baseline_fails_never_passes_vacuously(base: dict[str, Any] | None, needle: str) -> None:
    """Without a usable baseline every relative limit fails, with the probe's reason."""
    verdicts = judged({"echo": step(5, 8, 10)}, base)
    assert [v.passed for v in verdicts] == [False]
    assert verdicts[0].value is None
    assert needle in verdicts[0].message and "cannot check p99 <= 5" in verdicts[0].message


def test_step_that_never_ran_fails_its_ratio() -> None:
    """A relative limit on a step with no timings fails like an absolute one."""
    verdicts = judged({}, baseline([2.0] * 20))
    assert [v.passed for v in verdicts] == [False]
    assert "never ran" in verdicts[0].message


# --- the results file and the table ---------------------------------------------------------------------


def test_results_carry_the_baseline_only_when_measured() -> None:
    """build_results writes ``baseline`` when given one, and judges ratios by it; without, no key."""
    base = baseline([20.0] * 40)
    thresholds = limits({"scenarios": {"steady": {"latency": {"echo": {"p99_vs_baseline": 5}}}}})
    args: dict[str, Any] = {"run_meta": meta(), "tallies": {}, "step_stats": {"steady": {"echo": step(20, 60, 90)}},
                            "server_counters": {}, "thresholds": thresholds}
    with_base = build_results(**args, baseline=base)
    assert with_base["baseline"] == base
    ratio = next(v for v in with_base["verdicts"] if v["metric"] == "latency.echo.p99_vs_baseline")
    assert ratio["value"] == 90 / 20.0 and ratio["passed"]
    assert "baseline" not in build_results(**args)


def test_table_shows_baseline_and_ratio() -> None:
    """The verdict table prints the baseline's percentiles and a row per ratio: ms, baseline ms, ratio, limit."""
    doc = good_doc()
    doc["baseline"] = baseline([3.0] * 100)  # below the floor: ratios are to BASELINE_FLOOR_MS
    thresholds = limits({"scenarios": {"steady": {"latency": {"echo": {"p99_vs_baseline": 5}}}}})
    verdicts = evaluate(doc, thresholds)
    text = render_table(verdicts, doc)
    assert "latency baseline (probe echo, 100 round trips): p50 3, p95 3, p99 3 ms" in text
    row = next(line for line in text.splitlines() if line.startswith("steady") and "p99" in line.split())
    assert row.split() == ["steady", "echo", "p99", "9", "3", f"{9 / BASELINE_FLOOR_MS:.1f}\N{MULTIPLICATION SIGN}",
                           "5\N{MULTIPLICATION SIGN}", "PASS"]

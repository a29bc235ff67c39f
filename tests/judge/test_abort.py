"""abort = true: which breach stops the run, judged from what was counted so far. Pure."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.judge.abort import Breach, abort_metrics, first_breach
from loadgen.judge.baseline import summarize
from loadgen.judge.relative import BASELINE_FLOOR_MS
from tests.judge.samples import limits, step

THRESHOLDS = limits({
    "defaults": {"max_error_rate": 0.0, "min_iterations": 10},
    "scenarios": {
        "fast_halt": {"min_iterations": 20,
                      "latency": {"start→halted": {"p99": 100, "abort": True}, "connect": {"p99": 50}}},
        "steady": {"abort": True, "latency": {"echo": {"p99_vs_baseline": 5, "abort": True}}},
        "rapid_connect": {"latency": {"ready": {"p99": 10}}},
    },
})


def entry(successes: int, failures: int = 0, **steps: dict[str, Any]) -> dict[str, Any]:
    return {"successes": successes, "failures": failures, "interrupted": 0,
            "failures_by_kind": {"timeout": failures} if failures else {}, "steps": steps}


def live(base: dict[str, Any] | None = None, **scenarios: dict[str, Any]) -> dict[str, Any]:
    return {"scenarios": scenarios, "baseline": base}


SLOW = step(50, 150, 300)  # p99 300 ms: over fast_halt's 100 ms
STEADY_BASE = summarize([(i * 0.25, 2.0) for i in range(40)])  # p99 2 ms: a 300 ms echo is 150x


def test_abort_metrics_are_the_flagged_limits() -> None:
    """Only limits under abort = true count: a step table flags its own limits, a section its error rate."""
    assert abort_metrics(THRESHOLDS.scenarios["fast_halt"]) == {"latency.start→halted.p99"}
    assert abort_metrics(THRESHOLDS.scenarios["steady"]) == {"error_rate", "latency.echo.p99_vs_baseline"}
    assert abort_metrics(THRESHOLDS.scenarios["rapid_connect"]) == frozenset()


def test_breach_after_min_iterations_aborts() -> None:
    """A flagged limit breached by a scenario that completed min_iterations stops the run."""
    need = THRESHOLDS.scenarios["fast_halt"].min_iterations
    breach = first_breach(live(fast_halt=entry(need, **{"start→halted": SLOW})), THRESHOLDS, 12.34)
    assert breach is not None
    assert (breach.scenario, breach.metric, breach.value, breach.limit) == (
        "fast_halt", "latency.start→halted.p99", 300, 100)
    assert breach.describe().startswith("aborted at +12.3 s: fast_halt latency.start→halted.p99: step")
    assert breach.to_dict()["reason"] == breach.describe()


def test_no_abort_before_min_iterations() -> None:
    """The same breach before min_iterations is not a verdict yet: the run goes on."""
    need = THRESHOLDS.scenarios["fast_halt"].min_iterations
    assert first_breach(live(fast_halt=entry(need - 1, **{"start→halted": SLOW})), THRESHOLDS, 5.0) is None


def test_unflagged_breach_never_aborts() -> None:
    """A breached limit without abort = true (fast_halt connect, rapid_connect ready) is left to the end."""
    doc = live(fast_halt=entry(100, **{"start→halted": step(5, 8, 9), "connect": SLOW}),
               rapid_connect=entry(100, ready=SLOW))
    assert first_breach(doc, THRESHOLDS, 30.0) is None


@pytest.mark.parametrize("steps", [{}, {"echo": {"count": 0, "failures": 3, "p99": None}}])
def test_unmeasured_never_aborts(steps: dict[str, Any]) -> None:
    """A flagged step with no timings yet, or no baseline yet, is not a measured breach."""
    assert first_breach(live(STEADY_BASE, steady=entry(50, **steps)), THRESHOLDS, 3.0) is None
    assert first_breach(live(None, steady=entry(50, echo=SLOW)), THRESHOLDS, 3.0) is None


def test_first_breach_in_evaluation_order() -> None:
    """Several flagged breaches: the scenario's error rate comes before its latency, scenarios in order."""
    doc = live(STEADY_BASE, steady=entry(45, 5, echo=SLOW), fast_halt=entry(100, **{"start→halted": SLOW}))
    breach = first_breach(doc, THRESHOLDS, 8.0)
    assert isinstance(breach, Breach)
    assert (breach.scenario, breach.metric) == ("steady", "error_rate")
    relative_only = live(STEADY_BASE, steady=entry(50, echo=SLOW))
    breach = first_breach(relative_only, THRESHOLDS, 8.0)
    assert breach is not None and breach.metric == "latency.echo.p99_vs_baseline"
    assert breach.value == 300 / max(2.0, BASELINE_FLOOR_MS)  # the probe's 2 ms is taken at its floor

"""Sample data for the judging tests: run metadata, step stats, thresholds, a results document."""

from __future__ import annotations

from typing import Any

from loadgen.judge.evaluate import run_check
from loadgen.judge.results import RunMeta, ScenarioTally, build_results
from loadgen.judge.thresholds import Thresholds, thresholds_from_dict


def meta(**overrides: Any) -> RunMeta:
    """Run metadata with fixed times, so documents compare equal."""
    fields: dict[str, Any] = {
        "started": "2025-03-04T05:06:07.890+00:00",
        "finished": "2025-03-04T05:06:54.890+00:00",
        "duration_s": 47.0,
        "host": "ws://127.0.0.1:8765",
        "bundled_target": True,
        "profile": "quick",
        "processes": 2,
        "locust_version": "2.47.0",
    }
    fields.update(overrides)
    return RunMeta(**fields)


def step(p50: float, p95: float, p99: float, count: int = 100, failures: int = 0) -> dict[str, Any]:
    """Step stats in the shape the Locust side hands over."""
    return {"count": count, "failures": failures, "p50": p50, "p90": p95 * 0.9, "p95": p95,
            "p99": p99, "max": p99 * 1.5, "avg": p50 * 1.1, "min": p50 / 2}


LIMITS: dict[str, Any] = {
    "defaults": {"max_error_rate": 0.0, "min_iterations": 10},
    "scenarios": {
        "fast_halt": {"min_iterations": 20, "latency": {"start→halted": {"p95": 1000, "p99": 2500}}},
        "steady": {"latency": {"echo": {"p95": 1000}}},
    },
    "server": {"unhandled_errors": 0, "dropped_messages": 0},
}


def limits(data: dict[str, Any] | None = None) -> Thresholds:
    """Thresholds from plain data (the default: :data:`LIMITS`)."""
    return thresholds_from_dict(LIMITS if data is None else data, "test-thresholds.toml")


def good_doc(**overrides: Any) -> dict[str, Any]:
    """A passing results document for fast_halt and steady, judged against :data:`LIMITS`."""
    args: dict[str, Any] = {
        "run_meta": meta(),
        "tallies": {
            "fast_halt": ScenarioTally(successes=120, close_codes={"1000": 120}),
            "steady": ScenarioTally(successes=40, interrupted=3, close_codes={"1000": 40}),
        },
        "step_stats": {
            "fast_halt": {"start→halted": step(12, 25, 40), "connect": step(3, 8, 15, count=30)},
            "steady": {"echo": step(2, 6, 9)},
        },
        "server_counters": {"unhandled_errors": 0, "dropped_messages": 0, "connections_total": 900},
        "thresholds": limits(),
    }
    args.update(overrides)
    return build_results(**args)


def failing_doc() -> dict[str, Any]:
    """fast_halt over its error rate, steady short of iterations, rapid_connect never ran,
    /metrics unreachable, the target slow to shut down."""
    return good_doc(
        tallies={
            "fast_halt": ScenarioTally(successes=118, failures=2, failures_by_kind={"missed_event": 2}),
            "steady": ScenarioTally(successes=4),
        },
        server_counters=None,
        server_error="connection refused",
        run_checks=[run_check("target_shutdown", False, "bundled target did not exit within its shutdown timeout")],
        thresholds=limits({**LIMITS, "scenarios": {**LIMITS["scenarios"], "rapid_connect": {}}}),
    )

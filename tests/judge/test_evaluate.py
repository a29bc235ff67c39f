"""evaluate(): one verdict per check, pure, table-tested (STYLE.md: the judging is a pure function)."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.judge.evaluate import TIMES as X
from loadgen.judge.evaluate import Verdict, evaluate, format_ms, format_rate, run_check, top_kinds
from loadgen.judge.thresholds import Thresholds
from tests.judge.samples import limits, step

ONE = limits({
    "defaults": {"max_error_rate": 0.01, "min_iterations": 10},
    "scenarios": {"s": {"latency": {"ready": {"p95": 100, "p99": 200}}}},
})


def scenario(successes: int = 100, failures: int = 0, interrupted: int = 0, kinds: dict[str, int] | None = None,
             steps: dict[str, Any] | None = None) -> dict[str, Any]:
    """A results ``scenarios`` entry."""
    return {"successes": successes, "failures": failures, "interrupted": interrupted,
            "failures_by_kind": kinds or {}, "steps": {"ready": step(10, 50, 90)} if steps is None else steps}


def doc(**scenarios: dict[str, Any]) -> dict[str, Any]:
    """A minimal document: the given scenarios, /metrics reachable and quiet."""
    return {"scenarios": scenarios, "server": {"available": True, "counters": {}}, "run": {}}


def verdict(verdicts: list[Verdict], metric: str) -> Verdict:
    """The one verdict on ``metric``."""
    (found,) = [v for v in verdicts if v.metric == metric]
    return found


CASES = [
    # (name, scenario entry, metric, passed, value, words in the message)
    ("all good", scenario(), "error_rate", True, 0.0, ["error rate 0.00% <= limit 1.00%", "0 of 100"]),
    ("at the limit", scenario(99, 1), "error_rate", True, 0.01, ["1.00% <= limit 1.00%"]),
    ("over the limit", scenario(98, 2, kinds={"missed_event": 2}), "error_rate", False, 0.02,
     ["error rate 2.00% > limit 1.00%", "2 of 100 iterations failed", f"failed; top kinds: missed_event{X}2"]),
    ("top kinds ordered", scenario(90, 10, kinds={"a": 1, "timeout": 6, "seq_gap": 3}), "error_rate", False, 0.1,
     [f"top kinds: timeout{X}6, seq_gap{X}3, a{X}1"]),
    ("zero iterations", scenario(0, 0, interrupted=4, steps={}), "error_rate", False, None,
     ["undefined: no iterations completed (limit 1.00%)"]),
    ("enough iterations", scenario(10), "min_iterations", True, 10, ["10 iterations >= min_iterations 10"]),
    ("too few", scenario(8, 1), "min_iterations", False, 9, ["only 9 iterations completed < min_iterations 10"]),
    ("vacuous", scenario(0, 0, interrupted=4, steps={}), "min_iterations", False, 0,
     ["0 iterations completed (4 interrupted, not counted) < min_iterations 10: nothing was tested"]),
    ("interrupted not counted", scenario(9, 0, interrupted=50), "min_iterations", False, 9, ["only 9"]),
    ("latency ok", scenario(), "latency.ready.p95", True, 50.0, ["step 'ready' p95 50 ms <= limit 100 ms"]),
    ("latency over", scenario(steps={"ready": step(10, 150, 190)}, kinds={"timeout": 1}, failures=1, successes=200),
     "latency.ready.p95", False, 150.0, [f"p95 150 ms > limit 100 ms; top kinds: timeout{X}1"]),
    ("p99 over", scenario(steps={"ready": step(10, 50, 250.5)}), "latency.ready.p99", False, 250.5,
     ["p99 250.5 ms > limit 200 ms"]),
    ("step missing", scenario(steps={"connect": step(1, 2, 3)}), "latency.ready.p95", False, None,
     ["step 'ready' never ran", "cannot check p95 <= 100 ms"]),
    ("step without timings", scenario(steps={"ready": {"count": 0, "failures": 5, "p95": None}}),
     "latency.ready.p95", False, None, ["no timings (5 failures)"]),
]


@pytest.mark.parametrize(
    ("entry", "metric", "passed", "value", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_scenario_checks(entry: dict[str, Any], metric: str, passed: bool, value: float | None,
                         words: list[str]) -> None:
    """Each scenario check passes or fails on its edge, naming limit, value and top error kinds."""
    got = verdict(evaluate(doc(s=entry), ONE), metric)
    assert (got.category, got.check, got.scenario, got.passed, got.value) == ("scenario", "s", "s", passed, value)
    for word in words:
        assert word in got.message


def test_one_verdict_per_check_in_order() -> None:
    """A scenario gets min_iterations, error_rate, then one verdict per latency limit."""
    got = evaluate(doc(s=scenario()), ONE)
    assert [v.metric for v in got] == ["min_iterations", "error_rate", "latency.ready.p95", "latency.ready.p99"]


def test_scenario_without_section_uses_defaults() -> None:
    """A scenario that ran with no thresholds section is judged by [defaults] (no latency checks)."""
    got = evaluate(doc(other=scenario(5)), ONE)
    assert [(v.check, v.metric, v.limit, v.passed) for v in got if v.check == "other"] == [
        ("other", "min_iterations", 10, False), ("other", "error_rate", 0.01, True)]


def test_threshold_for_scenario_that_did_not_run() -> None:
    """Thresholds for a scenario that never ran give a failed 'did not run' check, with a hint."""
    got = evaluate(doc(t=scenario()), ONE)
    missing = verdict(got, "ran")
    assert (missing.check, missing.passed) == ("s", False)
    assert "'s' has thresholds but did not run" in missing.message
    got = evaluate(doc(fast_hal=scenario()), limits({"scenarios": {"fast_halt": {}}}))
    assert "did you mean 'fast_hal'?" in verdict(got, "ran").message


def test_nothing_ran_is_not_a_pass() -> None:
    """A run in which no scenario ran fails, even with no thresholds at all."""
    got = evaluate(doc(), Thresholds())
    assert [(v.category, v.check, v.passed) for v in got] == [("run", "nothing_ran", False)]


SERVER = limits({"server": {"unhandled_errors": 0, "dropped_messages": 5}})


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ({"available": True, "counters": {"unhandled_errors": 0, "dropped_messages": 5}},
         [(True, 0, "unhandled_errors grew by 0 <= limit 0"), (True, 5, "dropped_messages grew by 5 <= limit 5")]),
        ({"available": True, "counters": {"unhandled_errors": 3, "dropped_messages": 6}},
         [(False, 3, "unhandled_errors grew by 3 > limit 0"), (False, 6, "grew by 6 > limit 5")]),
        ({"available": False, "counters": {}, "error": "connection refused"},
         [(False, None, "/metrics was unreachable (connection refused): cannot check unhandled_errors growth <= 0"),
          (False, None, "/metrics was unreachable")]),
        ({"available": True, "counters": {"unhandled_errors": 0}},
         [(True, 0, "grew by 0"), (False, None, "/metrics did not report dropped_messages")]),
        ({}, [(False, None, "/metrics was unreachable: cannot check"), (False, None, "unreachable")]),
    ],
    ids=["within", "over", "unreachable", "counter missing", "no server section"],
)
def test_server_counters(server: dict[str, Any], expected: list[tuple[bool, int | None, str]]) -> None:
    """Each limited counter is one check; unreachable /metrics fails them and says so."""
    got = [v for v in evaluate({"scenarios": {"s": scenario()}, "server": server}, SERVER)
           if v.category == "server"]
    assert [v.check for v in got] == ["unhandled_errors", "dropped_messages"]
    for v, (passed, value, words) in zip(got, expected, strict=True):
        assert (v.passed, v.value) == (passed, value)
        assert words in v.message


def test_unlimited_counters_are_not_checked() -> None:
    """Counters without a limit make no verdict, even when /metrics was unreachable."""
    got = evaluate({"scenarios": {"s": scenario()}, "server": {"available": False}}, ONE)
    assert not [v for v in got if v.category == "server"]


def test_run_checks_interrupted_and_run_error() -> None:
    """An interrupted run, a broken run and the caller's run checks are run verdicts, in that order."""
    extra = run_check("target_shutdown", False, "bundled target did not exit within its shutdown timeout")
    data = dict(doc(s=scenario()), run={"interrupted": True, "stop_reason": "SIGINT"}, run_error="locust died")
    got = [v for v in evaluate(data, ONE, [extra]) if v.category == "run"]
    assert [(v.check, v.passed) for v in got] == [("interrupted", False), ("run_error", False),
                                                  ("target_shutdown", False)]
    assert "interrupted before its schedule finished (SIGINT)" in got[0].message
    assert got[1].message == "the run broke: locust died"


def test_evaluate_ignores_stored_rates_and_verdicts() -> None:
    """Only counts are read: a stale stored error_rate or verdict cannot change the judgement."""
    entry = dict(scenario(50, 50), error_rate=0.0)
    got = evaluate(dict(doc(s=entry), verdicts=[{"passed": True}], passed=True), ONE)
    assert verdict(got, "error_rate").passed is False


def test_evaluate_is_pure() -> None:
    """The same input gives the same verdicts, and the input is not changed."""
    data = doc(s=scenario(98, 2, kinds={"timeout": 2}))
    before = repr(data)
    assert evaluate(data, ONE) == evaluate(data, ONE)
    assert repr(data) == before


def test_verdict_round_trips() -> None:
    """Verdict.to_dict/from_dict are inverses (verdicts live in the results file)."""
    for v in evaluate(doc(s=scenario(98, 2, kinds={"timeout": 2})), ONE):
        assert Verdict.from_dict(v.to_dict()) == v


@pytest.mark.parametrize(
    ("func", "arg", "text"),
    [
        (format_rate, 0.0167, "1.67%"), (format_rate, None, "-"), (format_rate, 1.0, "100.00%"),
        (format_ms, 1000.0, "1000"), (format_ms, 12.25, "12.2"), (format_ms, 0.04, "0"), (format_ms, None, "-"),
        (top_kinds, {}, ""), (top_kinds, {"a": 0}, ""),
        (top_kinds, {"a": 1, "b": 2, "c": 3, "d": 4}, f"d{X}4, c{X}3, b{X}2, +1 more"),
    ],
)
def test_formatting(func: Any, arg: Any, text: str) -> None:
    """Rates, milliseconds and error kinds are shown compactly and consistently."""
    assert func(arg) == text

"""The self-test's judgement, from results documents alone: caught by what, missed, false alarm."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loadgen.judge.evaluate import TIMES
from loadgen.selftest.matrix import (
    Detection,
    Outcome,
    RepeatReport,
    RunRecord,
    detections,
    judge,
    render,
    render_repeated,
    report,
)


def verdict(category: str, check: str, metric: str, passed: bool, **extra: Any) -> dict[str, Any]:
    return {"category": category, "check": check, "scenario": extra.pop("scenario", None),
            "metric": metric, "limit": 0.0, "value": 1.0, "passed": passed,
            "message": extra.pop("message", f"{check} {metric}"), **extra}


def results(*verdicts: dict[str, Any], kinds: dict[str, dict[str, int]] | None = None,
            run_error: str | None = None) -> dict[str, Any]:
    """A results document (docs/results-format.md) with these verdicts and failure kinds."""
    scenarios = {name: {"iterations": 10, "failures": sum(k.values()), "failures_by_kind": k}
                 for name, k in (kinds or {}).items()}
    passed = bool(verdicts) and all(v["passed"] for v in verdicts) and run_error is None
    return {"format": "wsrace-results", "version": 1, "scenarios": scenarios,
            "verdicts": list(verdicts), "passed": passed, "run_error": run_error}


CLEAN = results(verdict("scenario", "steady", "error_rate", True, scenario="steady"))
FAST_HALT_FAILED = results(
    verdict("scenario", "fast_halt", "min_iterations", True, scenario="fast_halt"),
    verdict("scenario", "fast_halt", "error_rate", False, scenario="fast_halt"),
    kinds={"fast_halt": {"missed_event": 3, "bad_reply": 40, "timeout": 3}},
)


def test_an_error_rate_failure_is_caught_by_each_kind_most_frequent_first() -> None:
    """Kinds come from failures_by_kind, ranked by count then name; passed verdicts are ignored."""
    found = detections(FAST_HALT_FAILED)
    kinds = FAST_HALT_FAILED["scenarios"]["fast_halt"]["failures_by_kind"]
    assert [(d.source, d.what, d.count) for d in found] == sorted(
        (("fast_halt", kind, count) for kind, count in kinds.items()), key=lambda t: (-t[2], t[1]))


def test_other_failed_checks_are_caught_by_their_own_names() -> None:
    doc = results(
        verdict("scenario", "steady", "latency.echo.p95", False, scenario="steady"),
        verdict("server", "unhandled_errors", "unhandled_errors", False),
        verdict("run", "target_shutdown", "target_shutdown", False, message="took 7 s > 5 s"),
        verdict("scenario", "rapid_connect", "error_rate", False, scenario="rapid_connect"),
    )
    assert [(d.source, d.what) for d in detections(doc)] == [
        ("steady", "latency.echo.p95"), ("server", "unhandled_errors"), ("run", "target_shutdown"),
        ("rapid_connect", "error_rate"),  # no failures_by_kind to name: the check itself
    ]
    assert detections(doc)[2].message == "took 7 s > 5 s"


def test_a_fault_run_is_caught_when_it_failed_and_missed_when_it_passed() -> None:
    caught = judge(RunRecord("lost-snapshot", 1, FAST_HALT_FAILED))
    assert caught.status == "caught" and caught.caught_by == tuple(detections(FAST_HALT_FAILED))
    missed = judge(RunRecord("global-lock-steps", 0, CLEAN))
    assert missed.status == "missed" and missed.caught_by == ()


def test_the_clean_run_passes_or_is_a_false_alarm() -> None:
    assert judge(RunRecord(None, 0, CLEAN)).status == "pass"
    alarm = judge(RunRecord(None, 1, FAST_HALT_FAILED))
    assert alarm.status == "false_alarm" and alarm.caught_by


@pytest.mark.parametrize(("record", "reason"), [
    (RunRecord("x", None, None, error="stopped after 300 s (the per-run timeout)"), "per-run timeout"),
    (RunRecord("x", 3, None), "no results file"),
    (RunRecord("x", 3, results(verdict("run", "run_error", "run_error", False),
                               run_error="the target died")), "the target died"),
    (RunRecord("x", 2, CLEAN), "exit 2"),
    (RunRecord("x", 1, CLEAN), "0 failed verdicts"),  # exit 1 with nothing failed: not a catch
    (RunRecord(None, None, None, error="not run: the total time limit passed"), "total time limit"),
])
def test_a_run_without_a_trustworthy_verdict_is_broken(record: RunRecord, reason: str) -> None:
    outcome = judge(record)
    assert outcome.status == "broken" and outcome.reason is not None and reason in outcome.reason


def test_the_report_passes_only_with_every_fault_caught_and_a_clean_pass() -> None:
    faults = ["lost-snapshot", "lossy-queue"]
    caught_all = [RunRecord(None, 0, CLEAN)] + [RunRecord(n, 1, FAST_HALT_FAILED) for n in faults]
    assert report(caught_all, faults).passed
    one_missed = [*caught_all[:2], RunRecord("lossy-queue", 0, CLEAN)]
    assert not report(one_missed, faults).passed
    alarm = [RunRecord(None, 1, FAST_HALT_FAILED), *caught_all[1:]]
    assert not report(alarm, faults).passed
    no_clean = caught_all[1:]
    assert not report(no_clean, faults).passed and report(no_clean, faults).clean is None
    never_ran = report(caught_all[:2], faults)  # lossy-queue has no record
    assert never_ran.faults[1] == Outcome("lossy-queue", "broken", reason="not run")
    assert not never_ran.passed


def test_the_json_report_scores_what_it_lists() -> None:
    faults = ["a", "b", "c", "d"]
    records = [RunRecord(None, 0, CLEAN), RunRecord("a", 1, FAST_HALT_FAILED),
               RunRecord("b", 0, CLEAN), RunRecord("c", None, None, error="stopped"),
               RunRecord("d", 1, FAST_HALT_FAILED)]
    doc = json.loads(json.dumps(report(records, faults, {"parallel": 2}).to_json()))
    statuses = [entry["status"] for entry in doc["faults"]]
    assert [entry["fault"] for entry in doc["faults"]] == faults
    assert doc["score"] == {"caught": statuses.count("caught"), "total": len(faults),
                            "missed": statuses.count("missed"), "broken": statuses.count("broken")}
    assert doc["clean"]["status"] == "pass" and doc["passed"] is False
    assert doc["faults"][0]["caught_by"][0] == {"source": "fast_halt", "what": "bad_reply",
                                                "count": 40, "message": "fast_halt error_rate"}
    assert doc["format"] == "wsrace-selftest" and doc["settings"] == {"parallel": 2}


def test_the_table_names_each_fault_what_caught_it_and_the_score() -> None:
    faults = ["lost-snapshot", "global-lock-steps"]
    records = [RunRecord(None, 1, FAST_HALT_FAILED), RunRecord("lost-snapshot", 1, FAST_HALT_FAILED),
               RunRecord("global-lock-steps", 0, CLEAN)]
    text = render(report(records, faults))
    lines = text.splitlines()
    row = next(line for line in lines if line.startswith("lost-snapshot"))
    assert f"fast_halt: bad_reply{TIMES}40, missed_event{TIMES}3, timeout{TIMES}3" in row
    assert "MISSED" in next(line for line in lines if line.startswith("global-lock-steps"))
    assert "FALSE ALARM" in next(line for line in lines if line.startswith("(clean run)"))
    assert "score: 1/2 caught; clean run: FALSE ALARM" in lines
    assert "missed: global-lock-steps" in lines and lines[-1] == "selftest: FAIL"


def test_a_long_list_of_detections_is_cut_and_says_how_many_more() -> None:
    found = tuple(Detection("steady", f"kind{n}", n) for n in range(6))
    assert Outcome("x", "caught", found).summary(limit=4).endswith("; +2 more")


def _rounds(*rounds: list[RunRecord], faults: list[str]) -> RepeatReport:
    return RepeatReport(tuple(report(records, faults) for records in rounds))


def test_a_repeated_selftest_passes_only_when_every_round_passed() -> None:
    """One missed round of one fault, or one false alarm of the clean run, fails the repeat."""
    faults = ["a", "b"]
    good = [RunRecord(None, 0, CLEAN), RunRecord("a", 1, FAST_HALT_FAILED), RunRecord("b", 1, FAST_HALT_FAILED)]
    b_missed = [*good[:2], RunRecord("b", 0, CLEAN)]
    alarm = [RunRecord(None, 1, FAST_HALT_FAILED), *good[1:]]
    assert _rounds(good, good, faults=faults).passed
    assert not _rounds(good, b_missed, good, faults=faults).passed
    assert not _rounds(alarm, good, faults=faults).passed
    assert not RepeatReport(()).passed


def test_the_repeat_counts_each_outcome_over_the_rounds() -> None:
    """Counts per fault are derived from the rounds given; caught_by says in how many rounds."""
    faults = ["a"]
    rounds = [[RunRecord(None, 0, CLEAN), RunRecord("a", 1, FAST_HALT_FAILED)],
              [RunRecord(None, 1, FAST_HALT_FAILED), RunRecord("a", 0, CLEAN)],
              [RunRecord(None, 0, CLEAN), RunRecord("a", None, None, error="stopped")]]
    rep = _rounds(*rounds, faults=faults)
    a = rep.faults[0]
    assert (a.count("caught"), a.count("missed"), a.count("broken")) == (1, 1, 1)
    assert rep.clean.good == 2 and rep.clean.count("false_alarm") == 1
    assert ("fast_halt: bad_reply", 1) in a.caught_by()
    doc = json.loads(json.dumps(rep.to_json()))
    assert doc["repeat"] == len(rounds) and len(doc["rounds"]) == len(rounds)
    assert doc["summary"]["faults"][0] | {"caught_by": None} == {
        "fault": "a", "runs": 3, "caught": 1, "missed": 1, "broken": 1, "caught_by": None}
    assert doc["summary"]["clean"]["pass"] == 2 and doc["passed"] is False


def test_the_repeat_table_says_how_often_each_fault_was_caught() -> None:
    faults = ["a", "b"]
    good = [RunRecord(None, 0, CLEAN), RunRecord("a", 1, FAST_HALT_FAILED), RunRecord("b", 1, FAST_HALT_FAILED)]
    b_missed = [*good[:2], RunRecord("b", 0, CLEAN)]
    lines = render_repeated(_rounds(good, b_missed, faults=faults)).splitlines()
    assert "2/2 pass" in next(line for line in lines if line.startswith("(clean run)"))
    row_a = next(line for line in lines if line.startswith("a "))
    assert "2/2 caught" in row_a and "fast_halt: bad_reply (2/2)" in row_a
    assert "1 MISSED" in next(line for line in lines if line.startswith("b "))
    assert "score: 1/2 faults caught in 2/2 rounds; clean run passed 2/2" in lines
    assert lines[-1] == "selftest: FAIL"

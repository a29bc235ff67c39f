"""A run stopped by a signal: its exit code, the tallies' attempts, and how results, the table,
JUnit and ``wsrace check`` say it was interrupted. Pure: no Locust, no sockets."""

from __future__ import annotations

import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from loadgen import exitcodes
from loadgen.cli import main
from loadgen.judge.evaluate import Verdict
from loadgen.judge.junit import junit_xml
from loadgen.judge.results import ScenarioTally, load_results, write_results
from loadgen.judge.table import render_table
from tests.judge.samples import good_doc, meta

REASON = "interrupted by SIGINT"


def interrupted_doc(reason: str = REASON, name: str = "SIGINT") -> dict:
    return good_doc(run_meta=meta(interrupted=True, stop_reason=reason, signal=name))


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_exit_code_of_a_signal_is_128_plus_its_number(name: str, code: int) -> None:
    """The shell's convention: 130 after SIGINT, 143 after SIGTERM, named constants agreeing."""
    assert exitcodes.interrupted(name) == code == 128 + signal.Signals[name].value
    assert {exitcodes.INTERRUPTED_SIGINT, exitcodes.INTERRUPTED_SIGTERM} == {130, 143}


def test_attempts_merge_and_round_trip_apart_from_outcomes() -> None:
    """attempts add up like every other counter, survive plain data, and change no derived figure."""
    started = ScenarioTally(attempts=3)
    ended = ScenarioTally(successes=1, failures=1, interrupted=1, failures_by_kind={"timeout": 1})
    total = started + ended
    assert (total.attempts, total.iterations, total.error_rate) == (3, 2, 0.5)
    assert total.attempts == total.successes + total.failures + total.interrupted
    assert ScenarioTally.from_dict(total.to_dict()) == total
    assert ScenarioTally.from_dict({"successes": 2}).attempts == 0  # a file written before attempts existed


def test_tally_refuses_negative_attempts() -> None:
    """attempts is a whole number >= 0 like the others."""
    with pytest.raises(ValueError, match="attempts"):
        ScenarioTally(attempts=-1)


def test_results_carry_the_signal_and_fail_the_interrupted_check() -> None:
    """run.signal names the signal, stop_reason says what happened, the run does not pass."""
    doc = interrupted_doc()
    assert (doc["run"]["interrupted"], doc["run"]["signal"], doc["run"]["stop_reason"]) == (True, "SIGINT", REASON)
    assert doc["passed"] is False and doc["run_error"] is None
    (check,) = [v for v in doc["verdicts"] if v["check"] == "interrupted"]
    assert check["passed"] is False and REASON in check["message"]
    assert good_doc()["run"]["signal"] is None


def test_table_result_line_names_the_signal() -> None:
    """The verdict table's last line says the run was interrupted, and by what."""
    doc = interrupted_doc()
    text = render_table([Verdict.from_dict(v) for v in doc["verdicts"]], doc)
    assert text.rstrip().splitlines()[-1] == f"RESULT: FAIL (1 of 10 checks failed; {REASON})"


def test_junit_marks_the_interrupted_case_and_carries_the_signal() -> None:
    """JUnit: the interrupted case fails with type="interrupted"; the properties name the signal."""
    root = ET.fromstring(junit_xml(interrupted_doc()).encode("utf-8"))
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert (props["interrupted"], props["signal"], props["stop_reason"]) == ("true", "SIGINT", REASON)
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "interrupted"]
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "interrupted" and REASON in failure.get("message")


def test_check_says_the_run_was_interrupted_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """wsrace check on an interrupted run's results says so first, and exits 1 (a check failed)."""
    path = tmp_path / "r.json"
    reason = "interrupted by SIGTERM"
    write_results(path, interrupted_doc(reason, "SIGTERM"))
    assert load_results(path)["run"]["signal"] == "SIGTERM"
    assert main(["check", str(path)]) == exitcodes.FAILED
    out = capsys.readouterr().out
    assert f"This run was interrupted ({reason})" in out
    assert out.rstrip().endswith(f"checks failed; {reason})")

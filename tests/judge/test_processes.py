"""The process run checks: a death fails ``target_processes`` / ``load_processes`` naming what died
and when; none passes; the judge remakes them (``wsrace check``), and table and JUnit show them."""

from __future__ import annotations

from typing import Any

from loadgen.judge.evaluate import JUDGE_RUN_CHECKS, evaluate
from loadgen.judge.junit import junit_xml
from loadgen.judge.results import ScenarioTally, build_results
from loadgen.judge.table import render_table
from loadgen.judge.thresholds import Thresholds
from tests.judge.samples import meta

KILLED = {"process": "target worker 1", "index": 1, "pid": 4321, "died_t": 12.34, "died_at": "x",
          "exit_code": -9, "signal": 9, "restarted_t": 12.51, "restarted_at": "y", "restarted_pid": 4399}
LOST = {"worker": "vm_abc", "pid": 77, "reports": 3, "last_report_t": 9.0, "last_report_at": "x",
        "missing_t": 13.2, "missing_at": "y", "unreported_iterations": None, "reported_again_t": None}


def checks(doc: dict[str, Any]) -> dict[str, tuple[bool, str, Any]]:
    return {v.check: (v.passed, v.message, v.value) for v in evaluate(doc, Thresholds()) if v.category == "run"}


def doc(target: dict[str, Any] | None = None, load: dict[str, Any] | None = None,
        resets: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    processes = {}
    if target is not None:
        processes["target"] = target
    if load is not None:
        processes["load"] = load
    return {"scenarios": {"s": {"successes": 20}}, "run": {}, "processes": processes,
            "server": {"available": True, "counters": {}, "resets": resets or []}}


def test_a_killed_and_restarted_target_worker_fails_naming_it() -> None:
    """The message says which worker, its pid, when it died, how, and when it served again."""
    passed, message, value = checks(doc(target={"watched": "bundled", "events": [KILLED]}))["target_processes"]
    assert not passed and value == 1
    assert message == "target worker 1 (pid 4321) died at +12.3 s (signal 9), restarted at +12.5 s as pid 4399"


def test_a_worker_that_exited_with_a_code_and_never_came_back_says_so() -> None:
    """An exit code rather than a signal, and no restart by the end: both said."""
    event = {**KILLED, "exit_code": 3, "signal": None, "restarted_t": None, "restarted_pid": None}
    _, message, _ = checks(doc(target={"watched": "bundled", "events": [event]}))["target_processes"]
    assert message == ("target worker 1 (pid 4321) died at +12.3 s (exit code 3), "
                       "not serving again by the end of the run")


def test_a_host_servers_counter_reset_is_the_evidence_of_a_restart() -> None:
    """--host: no supervisor to ask; counters that went down fail the check, named with their time."""
    reset = {"t": 20.0, "counters": ["connections_total", "messages_sent"]}
    passed, message, value = checks(doc(target={"watched": "host", "events": []}, resets=[reset]))["target_processes"]
    assert not passed and value == 1
    assert message == ("the server's counters went down at +20.0 s (connections_total, messages_sent): "
                       "a server process restarted")


def test_no_death_passes_both_checks() -> None:
    """No event, no reset, no lost report: both checks pass, saying what was watched."""
    found = checks(doc(target={"watched": "host", "events": []}, load={"workers": 2, "lost_reports": []}))
    assert found["target_processes"][0] and "no server counter went down" in found["target_processes"][1]
    assert found["load_processes"] == (True, "every Locust worker reported until the end (2 workers)", 0)


def test_a_missing_locust_worker_fails_and_its_unreported_tallies_are_lost_count_unknown() -> None:
    """A worker marked missing: named, with its last report's time; its tallies since: lost, count unknown."""
    passed, message, value = checks(doc(load={"workers": 2, "lost_reports": [LOST]}))["load_processes"]
    assert not passed and value == 1
    assert message == ("Locust worker vm_abc (pid 77) stopped reporting at +9.0 s (marked missing at +13.2 s): "
                       "what it counted after its last report is lost, count unknown")


def test_a_worker_that_reported_again_lost_nothing_and_passes_named() -> None:
    """A late heartbeat on a busy machine: marked missing, then reported again; deltas lose nothing."""
    back = {**LOST, "reported_again_t": 15.0}
    passed, message, _ = checks(doc(load={"workers": 2, "lost_reports": [back]}))["load_processes"]
    assert passed
    assert "was marked missing at +13.2 s but reported again at +15.0 s" in message


def test_an_older_document_without_processes_gets_neither_check() -> None:
    """No ``processes`` section (an older wsrace): nothing was watched, so nothing is claimed."""
    found = checks({"scenarios": {"s": {"successes": 20}}, "run": {}, "server": {"available": True}})
    assert not {"target_processes", "load_processes"} & set(found)


def test_the_judge_remakes_them_and_table_and_junit_show_them() -> None:
    """They are the judge's own checks (wsrace check recomputes them), in the table and as JUnit failures."""
    assert {"target_processes", "load_processes"} <= JUDGE_RUN_CHECKS
    built = build_results(meta(), {"s": ScenarioTally(successes=20)}, {}, {}, Thresholds(),
                          processes={"target": {"watched": "bundled", "events": [KILLED]},
                                     "load": {"workers": 2, "lost_reports": [LOST]}})
    assert built["passed"] is False and built["processes"]["load"]["lost_reports"][0]["worker"] == "vm_abc"
    table = render_table(evaluate(built, Thresholds()), built)
    assert "target worker 1 (pid 4321) died at +12.3 s" in table and "Locust worker vm_abc" in table
    xml = junit_xml(built)
    assert 'name="target_processes"' in xml and 'name="load_processes"' in xml
    assert xml.count('type="run_check"') == 2

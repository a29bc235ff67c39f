"""JUnit XML written by real runs, parsed and checked field by field against their results files.

The clean quick run of the workflow (every case passes), one scenario against a faulty target (one
``<failure>`` naming the limit, the value and the top error kinds) and a run whose target was killed
(an ``<error>``). Each file must also fit the junit-10 shape that CI reporters read.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from loadgen.judge.evaluate import TIMES
from loadgen.judge.schedule import parse_schedule
from loadgen.paths import default_schedule
from tests.ci.conftest import KilledRun, WorkflowRun
from tests.judge.test_junit import check_shape
from tests.support.wsrace_cli import Finished

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def _load(junit: Path, results: Path) -> tuple[ET.Element, dict[str, Any]]:
    text = junit.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    check_shape(root)
    return root, json.loads(results.read_text())


def _cases(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    found = [(case.get("classname", ""), case.get("name", "")) for case in root.iter("testcase")]
    assert len(found) == len(set(found)), f"duplicate test cases: {found}"
    return {(case.get("classname", ""), case.get("name", "")): case for case in root.iter("testcase")}


def _check_counts_and_cases(root: ET.Element, doc: dict[str, Any]) -> dict[tuple[str, str], ET.Element]:
    """Root and suite counts, time, timestamp, properties; one case per scenario, server counter, run check."""
    assert root.tag == "testsuites" and root.get("name") == "wsrace"
    [suite] = list(root)
    assert suite.tag == "testsuite" and suite.get("name") == "wsrace"
    cases = _cases(suite)
    failures = sum(1 for case in cases.values() if case.find("failure") is not None)
    errors = sum(1 for case in cases.values() if case.find("error") is not None)
    for element in (root, suite):
        assert element.get("tests") == str(len(cases))
        assert element.get("failures") == str(failures)
        assert element.get("errors") == str(errors)
        assert element.get("time") == f"{doc['run']['duration_s']:.3f}"
    assert suite.get("skipped") == "0"
    started = datetime.fromisoformat(doc["run"]["started"])
    assert suite.get("timestamp") == started.replace(tzinfo=None, microsecond=0).isoformat()
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["host"] == doc["run"]["host"]
    assert properties["faults"] == ",".join(doc["run"]["faults"])
    assert properties["wsrace_version"] == doc["run"]["wsrace_version"]

    assert set(cases) == {_case_key(v) for v in doc["verdicts"]}
    assert {(f"wsrace.{name}", name) for name in doc["scenarios"]} <= set(cases)
    assert {("wsrace.server", name) for name in doc["thresholds"]["server"]} <= set(cases)
    for case in cases.values():
        assert case.get("time") == "0.000"
    return cases


def _case_key(verdict: dict[str, Any]) -> tuple[str, str]:
    """The (classname, name) of the test case a verdict belongs to."""
    category = verdict["check"] if verdict["category"] == "scenario" else verdict["category"]
    return f"wsrace.{category}", verdict["check"]


def test_junit_of_a_clean_run_passes_every_case(workflow_run: WorkflowRun) -> None:
    """The quick run's JUnit: counts, time, timestamp, a passing case per scenario, server counter and run check."""
    root, doc = _load(workflow_run.junit, workflow_run.results)
    cases = _check_counts_and_cases(root, doc)
    assert root.get("failures") == "0" and root.get("errors") == "0"
    assert set(doc["scenarios"]) == set(parse_schedule(default_schedule("quick")).scenarios)
    assert ("wsrace.run", "target_shutdown") in cases
    for (classname, name), case in cases.items():
        assert [child.tag for child in case] == ["system-out"], (classname, name)
        lines = (case.findtext("system-out") or "").splitlines()
        verdicts = [v for v in doc["verdicts"] if _case_key(v) == (classname, name)]
        assert lines == [f"PASS {v['metric']}: {v['message']}" for v in verdicts], (classname, name)
    [suite] = list(root)
    assert "RESULT: PASS" in (suite.findtext("system-out") or "")


def test_junit_failure_names_the_limit_the_value_and_the_top_kinds(faulty_fast_halt: Finished) -> None:
    """The faulty run's JUnit: one <failure type=threshold> whose message has the limit, the value and top kinds."""
    assert faulty_fast_halt.results_path is not None
    root, doc = _load(faulty_fast_halt.results_path.with_name("junit.xml"), faulty_fast_halt.results_path)
    cases = _check_counts_and_cases(root, doc)
    assert root.get("failures") == "1" and root.get("errors") == "0"
    failing = cases[("wsrace.fast_halt", "fast_halt")]
    failure = failing.find("failure")
    assert failure is not None and failure.get("type") == "threshold"
    message = failure.get("message", "")
    entry = doc["scenarios"]["fast_halt"]
    assert f"error rate {entry['error_rate']:.2%} > limit 0.00%" in message, message
    assert f"{entry['failures']} of {entry['iterations']} iterations failed" in message, message
    listed = re.search(r"top kinds: (.*)$", message)
    assert listed, message
    kinds = dict(item.rsplit(TIMES, 1) for item in listed.group(1).split(", ") if not item.startswith("+"))
    assert {kind: int(n) for kind, n in kinds.items()} == {k: entry["failures_by_kind"][k] for k in kinds}
    top = max(entry["failures_by_kind"].items(), key=lambda item: item[1])
    assert f"{top[0]}{TIMES}{top[1]}" in message
    body = (failure.text or "").splitlines()
    assert any(line.startswith("FAIL error_rate: ") for line in body)
    assert any(line.startswith("PASS min_iterations: ") for line in body)
    others = [key for key, case in cases.items() if key != ("wsrace.fast_halt", "fast_halt")]
    assert all(cases[key].find("failure") is None and cases[key].find("error") is None for key in others)


def test_junit_of_a_broken_run_has_an_error(killed_target_run: KilledRun) -> None:
    """The killed-target run's JUnit: the run_error is an <error type=run_error> with the reason, not a failure."""
    root, doc = _load(killed_target_run.junit, killed_target_run.results)
    cases = _check_counts_and_cases(root, doc)
    assert root.get("errors") == "1"
    error = cases[("wsrace.run", "run_error")].find("error")
    assert error is not None and error.get("type") == "run_error"
    assert "the bundled target died during the run" in error.get("message", "")

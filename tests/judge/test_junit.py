"""JUnit XML: parsed back with xml.etree and checked field by field, and against the junit-10 shape."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from loadgen.judge.evaluate import TIMES as X
from loadgen.judge.evaluate import run_check
from loadgen.judge.junit import junit_xml, write_junit
from loadgen.judge.results import ScenarioTally
from tests.judge.samples import failing_doc, good_doc

# The shape of Jenkins xunit's junit-10.xsd (what GitLab and GitHub reporters read too):
# element -> (allowed attributes, required attributes, allowed children).
SHAPE: dict[str, tuple[set[str], set[str], set[str]]] = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set(), {"testsuite"}),
    "testsuite": (
        {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id",
         "package", "file", "log", "url"},
        {"name", "tests", "failures", "errors"},
        {"testsuite", "properties", "testcase", "system-out", "system-err"},
    ),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": ({"name", "time", "classname", "group"}, {"name"},
                 {"skipped", "error", "failure", "system-out", "system-err"}),
    "failure": ({"type", "message"}, set(), set()),
    "error": ({"type", "message"}, set(), set()),
    "skipped": ({"type", "message"}, set(), set()),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def check_shape(element: ET.Element) -> None:
    """Assert ``element`` and its descendants fit the junit-10 shape."""
    allowed, required, children = SHAPE[element.tag]
    assert set(element.attrib) <= allowed, (element.tag, element.attrib)
    assert required <= set(element.attrib), (element.tag, element.attrib)
    if element.tag in ("testsuites", "testsuite") and "time" in element.attrib:
        assert SUREFIRE_TIME.fullmatch(element.attrib["time"])
    for child in element:
        assert child.tag in children, (element.tag, child.tag)
        check_shape(child)
    if element.tag == "testsuite":  # junit-4 readers want properties first and system-out last
        tags = [child.tag for child in element]
        assert tags[0] == "properties" and tags[-1] == "system-out"


def parse(doc: dict[str, Any]) -> ET.Element:
    """JUnit XML of ``doc``, parsed and checked against the shape."""
    text = junit_xml(doc)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    check_shape(root)
    return root


def cases(root: ET.Element) -> dict[str, ET.Element]:
    """Test cases keyed by ``classname/name``."""
    return {f"{c.get('classname')}/{c.get('name')}": c for c in root.iter("testcase")}


def test_passing_run() -> None:
    """A passing run: one suite, a case per scenario and per server counter, no failure."""
    root = parse(good_doc())
    assert root.tag == "testsuites"
    assert root.attrib == {"name": "wsrace", "tests": "4", "failures": "0", "errors": "0", "time": "47.000"}
    (suite,) = root
    assert suite.attrib == {"name": "wsrace", "tests": "4", "failures": "0", "errors": "0", "time": "47.000",
                            "skipped": "0", "timestamp": "2025-03-04T05:06:07"}
    assert list(cases(root)) == ["wsrace.fast_halt/fast_halt", "wsrace.steady/steady",
                                 "wsrace.server/unhandled_errors", "wsrace.server/dropped_messages"]
    for case in root.iter("testcase"):
        assert case.find("failure") is None and case.find("error") is None
        assert case.get("time") == "0.000"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["host"] == "ws://127.0.0.1:8765" and props["interrupted"] == "false"
    assert "RESULT: PASS" in (suite.find("system-out").text or "")


def test_failing_run() -> None:
    """Each failed case has one <failure type="threshold"> naming limit, value and kinds; details in the body."""
    root = parse(failing_doc())
    (suite,) = root
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "6", "0")
    got = cases(root)
    failure = got["wsrace.fast_halt/fast_halt"].find("failure")
    assert failure is not None and failure.get("type") == "threshold"
    assert failure.get("message") == (
        f"error rate 1.67% > limit 0.00%: 2 of 120 iterations failed; top kinds: missed_event{X}2"
    )
    body = (failure.text or "").splitlines()
    assert body[0] == "PASS min_iterations: 120 iterations >= min_iterations 20"
    assert body[1].startswith("FAIL error_rate: error rate 1.67%")
    assert len(body) == 4  # every check of the scenario, passed or failed
    assert "did not run" in got["wsrace.rapid_connect/rapid_connect"].find("failure").get("message")
    assert "unreachable" in got["wsrace.server/unhandled_errors"].find("failure").get("message")
    shutdown = got["wsrace.run/target_shutdown"].find("failure")
    assert shutdown.get("type") == "run_check"
    assert shutdown.get("message") == "bundled target did not exit within its shutdown timeout"
    assert "RESULT: FAIL" in (suite.find("system-out").text or "")


def test_several_failed_thresholds_join_in_one_failure() -> None:
    """A scenario with two failed thresholds has one <failure> whose message carries both."""
    doc = good_doc(tallies={"fast_halt": ScenarioTally(successes=5, failures=1, failures_by_kind={"timeout": 1}),
                            "steady": ScenarioTally(successes=40)})
    case = cases(parse(doc))["wsrace.fast_halt/fast_halt"]
    (failure,) = case.findall("failure")
    assert failure.get("message").count("; ") >= 1
    assert "min_iterations 20" in failure.get("message") and "error rate" in failure.get("message")


def test_run_error_is_an_error_not_a_failure() -> None:
    """A broken run is reported as <error type="run_error">, counted in errors."""
    root = parse(good_doc(run_error="locust crashed: boom"))
    (suite,) = root
    assert (suite.get("failures"), suite.get("errors")) == ("0", "1")
    error = cases(root)["wsrace.run/run_error"].find("error")
    assert error.get("type") == "run_error" and error.get("message") == "the run broke: locust crashed: boom"


def test_control_characters_do_not_break_the_xml() -> None:
    """Text XML 1.0 cannot carry (e.g. an escape sequence in an error) is replaced, so the file parses."""
    bad = run_check("target_shutdown", False, "exit \x1b[31mred\x00 and <tags> & \"quotes\"")
    root = parse(good_doc(run_checks=[bad]))
    message = cases(root)["wsrace.run/target_shutdown"].find("failure").get("message")
    assert message == 'exit \ufffd[31mred\ufffd and <tags> & "quotes"'


@pytest.mark.parametrize("started", [None, "not a date", "2025-03-04T05:06:07Z"])
def test_timestamp(started: str | None) -> None:
    """The timestamp is ISO-8601 without zone or fraction, or left out when the start is unknown."""
    doc = good_doc()
    doc["run"]["started"] = started
    (suite,) = parse(doc)
    expected = "2025-03-04T05:06:07" if started and started[0] == "2" else None
    assert suite.get("timestamp") == expected


def test_write_junit_atomically(tmp_path: Path) -> None:
    """write_junit writes the same text, and leaves no temporary file."""
    path = tmp_path / "wsrace.junit.xml"
    doc = failing_doc()
    write_junit(path, doc)
    assert path.read_text(encoding="utf-8") == junit_xml(doc)
    assert os.listdir(tmp_path) == ["wsrace.junit.xml"]

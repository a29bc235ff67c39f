"""JUnit XML for CI test reporters (GitLab, Jenkins, GitHub), in the common junit-10 shape::

    <testsuites name="wsrace" tests failures errors time>
      <testsuite name="wsrace" tests failures errors skipped time timestamp>
        <properties><property name value/>...</properties>
        <testcase classname="wsrace.<scenario>" name="<scenario>" time>
          <failure type="threshold" message="...">details</failure>
        </testcase>
        <testcase classname="wsrace.server" name="<counter>" .../>
        <testcase classname="wsrace.run" name="<run check>" .../>
        <system-out>the verdict table</system-out>
      </testsuite>
    </testsuites>

A scenario is one test case however many thresholds it has: one ``<failure>`` whose message joins
the failed checks' messages (some reporters show only the first failure element), and a body with
every check, passed or failed. A broken run (``run_error``) is an ``<error>``, not a failure; a
run stopped early (a signal, Ctrl-C) fails its ``interrupted`` case with ``type="interrupted"``,
and the suite's properties carry ``interrupted``, ``signal`` and ``stop_reason``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from loadgen.judge.atomic import atomic_write_text
from loadgen.judge.evaluate import Verdict
from loadgen.judge.table import render_table

__all__ = ["junit_xml", "write_junit"]

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    """Text that XML 1.0 can carry (control characters would make the whole file unreadable)."""
    return _NOT_XML.sub("\ufffd", str(value))


def _timestamp(started: object) -> str | None:
    """ISO-8601 without zone or fraction (``2025-01-02T03:04:05``), as junit-4 readers expect."""
    if not isinstance(started, str):
        return None
    try:
        moment = datetime.fromisoformat(started.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


def _seconds(value: object) -> str:
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
    return f"{max(float(number), 0.0):.3f}"


def _cases(verdicts: Sequence[Verdict]) -> list[tuple[str, str, list[Verdict]]]:
    """(classname, name, verdicts) per test case, in order of first appearance."""
    cases: dict[tuple[str, str], list[Verdict]] = {}
    for verdict in verdicts:
        if verdict.category == "scenario":
            key = (f"wsrace.{verdict.check}", verdict.check)
        else:
            key = (f"wsrace.{verdict.category}", verdict.check)
        cases.setdefault(key, []).append(verdict)
    return [(classname, name, group) for (classname, name), group in cases.items()]


def _testcase(parent: ET.Element, classname: str, name: str, group: list[Verdict]) -> str | None:
    """Add one testcase; return "failure", "error" or None."""
    case = ET.SubElement(
        parent, "testcase", {"classname": _text(classname), "name": _text(name), "time": "0.000"}
    )
    body = "\n".join(f"{'PASS' if v.passed else 'FAIL'} {v.metric}: {v.message}" for v in group)
    failed = [v for v in group if not v.passed]
    if not failed:
        ET.SubElement(case, "system-out").text = _text(body)
        return None
    broke = any(v.category == "run" and v.check == "run_error" for v in failed)
    if broke:
        tag, kind = "error", "run_error"
    elif failed[0].category != "run":
        tag, kind = "failure", "threshold"
    else:
        tag, kind = "failure", "interrupted" if failed[0].check == "interrupted" else "run_check"
    message = "; ".join(v.message for v in failed)
    ET.SubElement(case, tag, {"message": _text(message), "type": kind}).text = _text(body)
    return tag


def junit_xml(doc: Mapping[str, Any]) -> str:
    """The JUnit XML text of a results document (its stored verdicts)."""
    verdicts = [Verdict.from_dict(v) for v in doc.get("verdicts") or []]
    run: Mapping[str, Any] = doc.get("run") or {}
    suites = ET.Element("testsuites", {"name": "wsrace"})
    suite = ET.SubElement(suites, "testsuite", {"name": "wsrace"})
    properties = ET.SubElement(suite, "properties")
    for key in ("host", "profile", "faults", "schedule", "thresholds", "processes",
                "locust_version", "wsrace_version", "interrupted", "signal", "stop_reason"):
        value = run.get(key)
        if value is None:
            continue
        if isinstance(value, list):
            shown = ",".join(map(str, value))
        elif isinstance(value, bool):
            shown = "true" if value else "false"
        else:
            shown = str(value)
        ET.SubElement(properties, "property", {"name": key, "value": _text(shown)})
    outcomes = [_testcase(suite, *case) for case in _cases(verdicts)]
    ET.SubElement(suite, "system-out").text = _text(render_table(verdicts, doc))

    counts = {
        "tests": str(len(outcomes)),
        "failures": str(outcomes.count("failure")),
        "errors": str(outcomes.count("error")),
        "time": _seconds(run.get("duration_s")),
    }
    suites.attrib.update(counts)
    suite.attrib.update(counts)
    suite.set("skipped", "0")
    stamp = _timestamp(run.get("started"))
    if stamp:
        suite.set("timestamp", stamp)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(path: str | Path, doc: Mapping[str, Any]) -> None:
    """Write :func:`junit_xml` of ``doc`` to ``path`` atomically."""
    atomic_write_text(path, junit_xml(doc))

"""End to end: a real run's timeline, its PNG beside the results and the verdict in Locust's --html report.

Reads the session's one quick-profile run (``quick_run``, tests/support/quick_run.py: real target,
real Locust with ``--processes 2``, so the samples are the master's merged view).
"""

from __future__ import annotations

import itertools

import pytest

from loadgen.judge.schedule import parse_schedule
from loadgen.paths import default_schedule
from loadgen.report.html import SECTION_ID
from tests.support.quick_run import QUICK_RUN_TIMEOUT_S, QuickRun

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(QUICK_RUN_TIMEOUT_S + 60)]


def test_the_timeline_adds_up_to_the_results_and_has_the_stages_as_they_ran(quick_run: QuickRun) -> None:
    """Per scenario, the samples' attempts and step counts add up to the run's; the stages are the
    schedule's, in order, back to back (all of them if the run was not cut short); the samples are
    in time order and within the bound. Holds whatever the verdict."""
    doc = quick_run.finished.results()
    timeline = doc["timeline"]
    samples = timeline["samples"]
    assert 0 < len(samples) <= timeline["max_samples"]
    assert all(a["end_s"] <= b["start_s"] + 1e-9 for a, b in itertools.pairwise(samples))
    for name, entry in doc["scenarios"].items():
        mine = [s["scenarios"][name] for s in samples if name in s["scenarios"]]
        assert sum(m["attempts"] for m in mine) == entry["attempts"], name
        assert sum(m["successes"] for m in mine) == entry["successes"], name
        for step, stats in entry["steps"].items():
            assert sum(m["steps"].get(step, {}).get("count", 0) for m in mine) == stats["count"], (name, step)
    schedule = parse_schedule(default_schedule("quick"))
    stages = timeline["stages"]
    names = [stage.name for stage in schedule.stages]
    assert [s["name"] for s in stages] == (names if not doc["run"]["interrupted"] else names[:len(stages)])
    assert all(a["end_s"] == b["start_s"] for a, b in itertools.pairwise(stages))


def test_the_png_is_beside_the_results_and_the_verdict_is_in_the_html_report(quick_run: QuickRun) -> None:
    """r.json -> r.png; report.html has wsrace's section once, at the top of its body, with a row
    per scheduled scenario and the plot inline; the run said where both went."""
    assert quick_run.png.read_bytes().startswith(b"\x89PNG")
    html = quick_run.html.read_text(encoding="utf-8")
    assert html.count(f'<section id="{SECTION_ID}"') == 1
    assert html.index(f'<section id="{SECTION_ID}"') < html.index('<div id="root">')
    result = "PASS" if quick_run.finished.results()["passed"] else "FAIL"
    assert f'data-result="{result}"' in html and "data:image/png;base64," in html
    for name in parse_schedule(default_schedule("quick")).scenarios:
        assert f'<tr data-key="{name}">' in html, name
    output = quick_run.finished.output
    assert f"plot: {quick_run.png}" in output and f"report: {quick_run.html} (verdict and plot added)" in output

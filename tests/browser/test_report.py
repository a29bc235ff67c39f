"""The HTML report of a real quick run, opened in Chromium: the verdict table and the plot are seen.

Reads the session's one quick-profile run (``quick_run``: ``wsrace run --profile quick --html``);
if this test is the first to ask for it, it waits for that run, hence its timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loadgen.judge.schedule import parse_schedule
from loadgen.paths import default_schedule
from loadgen.report.html import SECTION_ID
from tests.support.quick_run import QUICK_RUN_TIMEOUT_S, QuickRun

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(QUICK_RUN_TIMEOUT_S + 90)]


def test_the_report_shows_every_scenarios_verdict_and_the_plot(quick_run: QuickRun, page: Any,
                                                                artifacts: Path) -> None:
    """In Chromium, the report has a row per scheduled scenario with its PASS/FAIL as the results
    judged it, the plot image actually decoded and laid out, and Locust's own report still below."""
    assert quick_run.html.exists(), quick_run.finished.output[-5000:]
    doc = quick_run.finished.results()
    page.goto(quick_run.html.as_uri())
    section = page.locator(f"#{SECTION_ID}")
    section.wait_for(state="visible")
    for name in parse_schedule(default_schedule("quick")).scenarios:
        judged = [v["passed"] for v in doc["verdicts"] if v["category"] == "scenario" and v["check"] == name]
        row = section.locator(f'table.wsrace-scenarios tr[data-key="{name}"]')
        assert row.locator("td").first.inner_text() == name
        assert row.locator("td.pass, td.fail").inner_text() == ("PASS" if all(judged) else "FAIL")
    assert section.locator("h2 .result").inner_text() == ("PASS" if doc["passed"] else "FAIL")
    plot = section.locator("img.wsrace-plot")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=plot.element_handle())
    assert plot.bounding_box()["height"] > 100
    page.get_by_text("Request Statistics").first.wait_for(state="visible")  # Locust's app rendered too
    shot = artifacts / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0

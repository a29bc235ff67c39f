"""Locust's web UI driven by a person in a real browser: the Thresholds tab, two runs, a bad host.

``locust -f scenarios`` runs with its web UI on a port the OS picks (the plugin prints the bound URL
as a JSON line) and the bundled target; Chromium fills the start form and presses Start, opens
the Thresholds tab, and reads the cells the page renders from its 2 s poll.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadgen.children import Child
from loadgen.judge.schedule import parse_schedule

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent.parent / "scenarios"
SCHEDULE = HERE / "all_scenarios.toml"
SCENARIO_NAMES = parse_schedule(SCHEDULE).scenarios
START_S = 60.0
"""The deadline for Locust and the bundled target to be up (a loaded machine starts slowly)."""
RUN_S = parse_schedule(SCHEDULE).total_duration + 60.0
"""The deadline for a run to show what a test waits for: the schedule, and time to judge."""
TARGET = re.compile(r"bundled target listening on (ws://127\.0\.0\.1:\d+)")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(START_S + 3 * RUN_S)]


class WebUI:
    """One ``locust -f scenarios`` with its web UI, started in ``cwd``."""

    def __init__(self, child: Child, cwd: Path) -> None:
        self.child = child
        self.cwd = cwd
        deadline = time.monotonic() + START_S
        self.url = json.loads(self.wait_for(r'\{"event": "web_ui_listening".*\}', deadline).group(0))["url"]
        self.target = self.wait_for(TARGET.pattern, deadline).group(1)

    def log(self) -> str:
        return self.child.log_text()

    def wait_for(self, pattern: str, deadline: float) -> re.Match[str]:
        while True:
            found = re.search(pattern, self.log())
            if found:
                return found
            assert self.child.alive(), f"locust ended before {pattern!r}:\n{self.log()[-4000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r} in time:\n{self.log()[-4000:]}"
            time.sleep(0.05)  # the process gives no other sign than its output: look again


@pytest.fixture
def web_ui(tmp_path: Path) -> Iterator[WebUI]:
    cmd = [sys.executable, "-m", "locust", "-f", str(SCENARIOS), "--web-host", "127.0.0.1", "--web-port", "0",
           "--schedule", str(SCHEDULE), "--results", str(tmp_path / "r.json")]
    with Child.start(cmd, name="locust-web-ui", cwd=tmp_path, output="log") as child:  # stopped even on failure
        yield WebUI(child, tmp_path)


def tab_rows(page: Any) -> dict[str, dict[str, str]]:
    """The Thresholds table as the page renders it: row name -> {column title: cell text}."""
    titles = [t.strip() for t in page.locator("table thead th").all_inner_texts()]
    rows = {}
    for row in page.locator("table tbody tr").all():
        cells = [c.strip() for c in row.locator("td").all_inner_texts()]
        if cells:
            rows[cells[0]] = dict(zip(titles, cells, strict=False))
    return rows


def wait_for_rows(page: Any, web_ui: WebUI, ready: Any, deadline: float, what: str) -> dict[str, dict[str, str]]:
    """The tab's rows once ``ready(rows)`` holds (the page re-renders them every 2 s)."""
    while True:
        rows = tab_rows(page)
        if ready(rows):
            return rows
        assert time.monotonic() < deadline, (f"the Thresholds tab never showed {what}; last rows: {rows}\n"
                                             f"locust's output:\n{web_ui.log()[-6000:]}")
        page.wait_for_timeout(250)  # the page's own poll brings new rows: look again


def every_scenario_counted(rows: dict[str, dict[str, str]]) -> bool:
    return all(name in rows and rows[name]["Verdict"] and int(rows[name]["Iterations"].split()[0]) > 0
               for name in SCENARIO_NAMES)


def judged(run: int, verdict: str | None = None) -> Any:
    return lambda rows: any(r["Verdict"].startswith(f"run {run} judged: {verdict or ''}") for r in rows.values())


def check_cells(rows: dict[str, dict[str, str]]) -> None:
    for name in SCENARIO_NAMES:
        row = rows[name]
        assert int(row["Iterations"].split()[0]) > 0, row
        assert re.fullmatch(r"\d+\.\d\d% \(<= \d+\.\d\d%\)", row["Error rate (limit)"]), row
        assert re.search(r"p99 \d+(\.\d)? ms \(<= \d+", row["Latency per step (limit)"]), row


def start_from_the_form(page: Any, host: str) -> None:
    page.get_by_label(re.compile("^Host")).fill(host)
    page.get_by_role("button", name="Start").click()


@pytest.mark.timeout(START_S + 3 * RUN_S)
def test_two_runs_from_one_page_each_show_every_scenario_judged(web_ui: WebUI, page: Any, artifacts: Path) -> None:
    """Start from the form, watch every scenario's live cells, stop; start again: the second run
    counts afresh (its cells are its own results file's) and passes against the bundled target."""
    page.goto(web_ui.url)
    page.get_by_text("Custom parameters").click()
    schedule_field = page.get_by_label(re.compile("^Schedule"))
    assert schedule_field.input_value() == str(SCHEDULE)
    assert "drives the user count" in (schedule_field.get_attribute("aria-label") or page.content())
    for stage in parse_schedule(SCHEDULE).stages:
        assert page.locator(f"input[value^='{stage.name}: ']").count() == 1, f"stage {stage.name} not on the form"
    page.screenshot(path=str(artifacts / "webui-form.png"), full_page=True)
    start_from_the_form(page, web_ui.target)

    page.get_by_role("tab", name="Thresholds").click()
    first = wait_for_rows(page, web_ui, every_scenario_counted, time.monotonic() + RUN_S, "every scenario counted")
    check_cells(first)
    assert first["schedule"]["Verdict"].startswith("run 1:")
    page.screenshot(path=str(artifacts / "webui-run1.png"), full_page=True)

    page.get_by_role("button", name="Stop").click()
    wait_for_rows(page, web_ui, judged(1), time.monotonic() + RUN_S, "run 1 judged")
    page.get_by_role("button", name="New").click()
    page.get_by_role("button", name="Start").click()  # the form, in the dialog "New" opened

    second = wait_for_rows(page, web_ui, judged(2), time.monotonic() + RUN_S, "run 2 judged")
    page.screenshot(path=str(artifacts / "webui-run2.png"), full_page=True)
    check_cells(second)
    results = json.loads((web_ui.cwd / "r-run2.json").read_text())
    assert results["passed"], [v["message"] for v in results["verdicts"] if not v["passed"]]
    assert second["schedule"]["Verdict"].startswith("run 2 judged: PASS")
    for name in SCENARIO_NAMES:  # fresh numbers: this run's own counts, not run 1's added in
        assert int(second[name]["Iterations"].split()[0]) == results["scenarios"][name]["iterations"]
        assert second[name]["Verdict"] == "PASS"
    assert (web_ui.cwd / "r.json").exists(), "run 1's results were not written at its stop"


@pytest.mark.timeout(START_S + 60)
@pytest.mark.parametrize("host", ["ftp://127.0.0.1:21", "ws://127.0.0.1:1"])
def test_a_bad_host_typed_in_the_form_is_refused_on_the_page(web_ui: WebUI, page: Any, artifacts: Path,
                                                             host: str) -> None:
    """A host that is no ws(s)/http(s) URL, or does not answer /healthz, is refused with its reason
    shown on the form; nothing starts."""
    page.goto(web_ui.url)
    start_from_the_form(page, host)
    alert = page.get_by_role("alert").filter(has_text=host)
    alert.wait_for()
    assert re.search(r"not a base URL|unreachable", alert.inner_text()), alert.inner_text()
    page.screenshot(path=str(artifacts / f"webui-bad-host-{host.split(':')[0]}.png"), full_page=True)
    assert page.get_by_role("button", name="Start").is_visible()  # still the form: no run started
    assert "Shape test starting" not in web_ui.log()

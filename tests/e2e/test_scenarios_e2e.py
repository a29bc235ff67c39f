"""End to end: real headless Locust runs the scenarios against the real bundled target app.

The quick profile passes against the correct app with ``--processes 2``; for each fault the scenario
built for it fails its threshold with the expected error kind in the results file. Each run is
bounded in time and its whole process tree is killed afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.judge.schedule import parse_schedule
from loadgen.paths import default_schedule
from tests.support.quick_run import QuickRun
from tests.support.wsrace_cli import run_wsrace

HERE = Path(__file__).resolve().parent
RUN_TIMEOUT_S = 150

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(RUN_TIMEOUT_S + 30)]


def _explain(finished) -> str:
    return f"exit {finished.returncode}; output tail:\n{finished.output[-5000:]}"


def test_quick_profile_passes_on_the_correct_app_with_two_processes(quick_run: QuickRun) -> None:
    """The whole quick profile is green against the correct target, load spread over 2 processes."""
    finished = quick_run.finished
    assert finished.returncode == 0, _explain(finished)
    doc = finished.results()
    assert doc["passed"] is True
    assert doc["run"]["processes"] == 2
    assert set(doc["scenarios"]) == set(parse_schedule(default_schedule("quick")).scenarios)
    for name, entry in doc["scenarios"].items():
        assert entry["iterations"] > 0 and entry["failures"] == 0, (name, entry)
    assert quick_run.junit.read_text().startswith("<?xml")


FAULTS = [
    # fault, scenario built for it, error kinds any of which proves it was caught
    ("early-drop", "rapid_connect", {"timeout", "missed_event"}),
    ("unsafe-close", "send_after_close", {"abnormal_close"}),
    ("lost-snapshot", "fast_halt", {"missed_event", "bad_reply"}),
    ("cross-talk", "fast_halt", {"foreign_event", "missed_event"}),
    ("lossy-queue", "steady", {"missed_event", "seq_gap"}),
    ("volatile-state", "pressure", {"missed_event"}),
]


@pytest.mark.parametrize(("fault", "scenario", "kinds"), FAULTS, ids=[f[0] for f in FAULTS])
def test_each_fault_fails_the_scenario_built_for_it(tmp_path: Path, fault: str, scenario: str, kinds: set[str]) -> None:
    """With the bug injected, the scenario's threshold fails and the results name the expected kind."""
    finished = run_wsrace(
        "run", "--fault", fault, "--schedule", str(HERE / f"only_{scenario}.toml"), "--results", "r.json",
        timeout=RUN_TIMEOUT_S, cwd=tmp_path,
    )
    assert finished.returncode == 1, _explain(finished)
    doc = finished.results()
    assert doc["passed"] is False
    found = set(doc["scenarios"][scenario]["failures_by_kind"])
    assert found & kinds, f"{fault}: expected one of {kinds}, found {found}\n{_explain(finished)}"
    failed = {v["check"] for v in doc["verdicts"] if not v["passed"]}
    assert scenario in failed


def test_global_lock_fails_a_latency_or_error_threshold(tmp_path: Path) -> None:
    """One process-wide lock held across awaits shows as latency (or timeouts) past the thresholds."""
    finished = run_wsrace(
        "run", "--fault", "global-lock", "--schedule", str(HERE / "only_steady.toml"), "--results", "r.json",
        timeout=RUN_TIMEOUT_S, cwd=tmp_path,
    )
    assert finished.returncode == 1, _explain(finished)
    failed = [v for v in finished.results()["verdicts"] if not v["passed"]]
    assert any(v["scenario"] == "steady" and (v["metric"].startswith("latency") or v["metric"] == "error_rate")
               for v in failed), failed


def test_stuck_shutdown_fails_the_run_with_its_reason(tmp_path: Path) -> None:
    """A bundled target that does not exit within its shutdown timeout fails the run, saying so."""
    finished = run_wsrace(
        "run", "--fault", "stuck-shutdown", "--schedule", str(HERE / "only_steady.toml"), "--results", "r.json",
        timeout=RUN_TIMEOUT_S, cwd=tmp_path,
    )
    assert finished.returncode == 1, _explain(finished)
    shutdown = [v for v in finished.results()["verdicts"] if v["check"] == "target_shutdown"]
    assert shutdown and shutdown[0]["passed"] is False, shutdown

"""End to end: the latency baseline, the isolation scenario's causal check, and abort = true, on real runs.

Real ``wsrace run`` (bundled target, headless Locust), short schedules. The isolation runs use the
shipped thresholds; the abort run uses a threshold that breaches at once (a p99 of 1 µs) with
``abort = true`` on a schedule far longer than the run needs to reach it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.support.wsrace_cli import run_wsrace

HERE = Path(__file__).resolve().parent
ISOLATION = HERE / "only_isolation.toml"
RUN_S = 120.0

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(RUN_S + 30)]

ABORT_THRESHOLDS = """
[defaults]
min_iterations = 5
[scenarios.fast_halt.latency."start→halted"]
p99 = 0.001
abort = true
"""
LONG_SCHEDULE = """
[[stage]]
name = "long"
scenarios = ["fast_halt"]
users = 6
spawn_rate = 6
duration = 90
"""


def test_isolation_passes_on_the_correct_target_with_a_baseline(tmp_path: Path) -> None:
    """Correct target: B's steps stay under their limits, and the results carry the probe's baseline."""
    results = tmp_path / "r.json"
    finished = run_wsrace("run", "--schedule", str(ISOLATION), "--results", str(results), timeout=RUN_S)
    assert finished.returncode == 0, finished.output[-4000:]
    doc = finished.results()
    steps = doc["scenarios"]["isolation"]["steps"]
    assert steps["echo during a step"]["count"] > 0 and steps["job during a step"]["count"] > 0
    baseline = doc["baseline"]
    assert baseline["count"] > 0 and baseline["p99"] is not None
    assert len(baseline["samples"]) == baseline["count"]
    assert "latency baseline (probe echo" in finished.output


def test_isolation_catches_a_lock_across_job_steps(tmp_path: Path) -> None:
    """--fault global-lock-steps: B's short job waits for A's step, and its p99 limit fails."""
    results = tmp_path / "r.json"
    finished = run_wsrace("run", "--schedule", str(ISOLATION), "--fault", "global-lock-steps",
                          "--results", str(results), timeout=RUN_S)
    assert finished.returncode == 1, finished.output[-4000:]
    failed = {v["metric"] for v in finished.results()["verdicts"] if v["check"] == "isolation" and not v["passed"]}
    assert "latency.job during a step.p99" in failed


def test_abort_true_stops_the_run_at_the_first_breach(tmp_path: Path) -> None:
    """A breached abort = true limit ends the run before its schedule, says so, writes results, exits 1."""
    thresholds = tmp_path / "t.toml"
    thresholds.write_text(ABORT_THRESHOLDS, encoding="utf-8")
    schedule = tmp_path / "s.toml"
    schedule.write_text(LONG_SCHEDULE, encoding="utf-8")
    results = tmp_path / "r.json"
    finished = run_wsrace("run", "--schedule", str(schedule), "--thresholds", str(thresholds),
                          "--results", str(results), timeout=RUN_S)
    assert finished.returncode == 1, finished.output[-4000:]
    run = finished.results()["run"]
    aborted = run["aborted"]
    assert aborted is not None, finished.output[-4000:]
    assert (aborted["scenario"], aborted["metric"], aborted["limit"]) == ("fast_halt", "latency.start→halted.p99",
                                                                          0.001)
    assert aborted["reason"].startswith("aborted at +") and aborted["reason"] in finished.output
    assert run["interrupted"] and run["stop_reason"] == aborted["reason"] and run["signal"] is None
    stage_s = sum(stage["duration"] for stage in tomllib.loads(LONG_SCHEDULE)["stage"])
    assert run["duration_s"] < stage_s  # stopped early, not at the schedule's end
    assert "Traceback" not in finished.output

"""The reporting path the benchmark measures, ``RaceUser.step``: one Locust request event per
step, a scenario failure reported on the step and re-raised, anything else never reported.

Each check runs in a child process (:mod:`tests.bench.report_path_check`), where Locust is
imported and gevent patches everything first, as in a Locust run, and never in this one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# The names of report_path_check.CHECKS (importing it here would patch this process).
CHECKS = (
    "success_is_one_event",
    "failure_is_reported_and_propagates",
    "bug_propagates_unreported",
    "stop_propagates_unreported",
)


@pytest.mark.parametrize("check", CHECKS)
def test_step_reporting(check: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.report_path_check", check],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr

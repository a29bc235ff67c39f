"""The runner's bounds, with real (tiny) subprocesses: a run over its time is stopped, and what the
total deadline leaves no time for is not started."""

from __future__ import annotations

import sys
from pathlib import Path

from loadgen.selftest.runner import RunSpec, run_all

SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")
QUICK = (sys.executable, "-c", "print('done')")


def test_a_run_over_its_timeout_is_stopped_and_has_no_verdict(tmp_path: Path) -> None:
    (record,) = run_all([RunSpec("slow", SLEEPER, tmp_path / "slow.json", tmp_path / "slow.log")],
                        parallel=1, run_timeout=1, total_timeout=60)
    assert record.exit_code is None and record.results is None
    assert record.error is not None and "per-run timeout" in record.error


def test_the_total_deadline_stops_a_run_and_starts_nothing_more(tmp_path: Path) -> None:
    runs = [RunSpec(name, argv, tmp_path / f"{name}.json", tmp_path / f"{name}.log")
            for name, argv in (("first", SLEEPER), ("second", QUICK))]
    first, second = run_all(runs, parallel=1, run_timeout=60, total_timeout=1)
    assert first.error is not None and "total time limit" in first.error
    assert second.error == "not run: the total time limit passed" and not (tmp_path / "second.log").exists()


def test_a_finished_run_hands_over_its_exit_code_and_log(tmp_path: Path) -> None:
    (record,) = run_all([RunSpec("quick", QUICK, tmp_path / "q.json", tmp_path / "q.log")],
                        parallel=1, run_timeout=60, total_timeout=60)
    assert record.exit_code == 0 and record.error is None and record.results is None
    assert (tmp_path / "q.log").read_text() == "done\n"

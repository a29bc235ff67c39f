"""``wsrace selftest`` for real: one fault and the clean run, each a real ``wsrace run`` with its own
bundled target and real Locust, on a short schedule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadgen.protocol.faults import FAULTS

pytestmark = pytest.mark.e2e

SCHEDULE = Path(__file__).with_name("only_fast_halt.toml")


@pytest.mark.timeout(240)
def test_selftest_catches_lost_snapshot_with_fast_halt_and_passes_the_clean_run(tmp_path: Path) -> None:
    report = tmp_path / "selftest.json"
    proc = subprocess.run(
        [sys.executable, "-m", "loadgen.cli", "selftest", "--only", "lost-snapshot",
         "--schedule", str(SCHEDULE), "--json", str(report), "--results-dir", str(tmp_path / "runs"),
         "--parallel", "2", "--run-timeout", "100", "--total-timeout", "200"],
        capture_output=True, text=True, timeout=230,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(report.read_text())
    assert doc["clean"]["status"] == "pass"
    (fault,) = doc["faults"]
    assert fault["fault"] == "lost-snapshot" and fault["status"] == "caught"
    assert {d["source"] for d in fault["caught_by"]} == {"fast_halt"}
    assert doc["score"] == {"caught": 1, "total": 1, "missed": 0, "broken": 0}
    assert "score: 1/1 caught; clean run: PASS" in proc.stdout
    # every run's own results file is kept, and is the one the report read
    results = json.loads(Path(fault["results_path"]).read_text())
    assert results["run"]["faults"] == ["lost-snapshot"] and not results["passed"]
    assert len(FAULTS) >= 20  # the matrix this command exists for

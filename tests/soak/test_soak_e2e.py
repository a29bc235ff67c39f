"""``wsrace soak`` for real: a real target process, two real ``wsrace run``s against it, a verdict.

Slow (each run waits for the target to sweep the jobs it keeps 60 s after they halt): one test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.soak.report import FORMAT, VERSION
from tests.support.wsrace_cli import run_wsrace

pytestmark = pytest.mark.e2e

SCHEDULE = Path(__file__).with_name("short.toml")
RUNS = 2


@pytest.mark.timeout(600)
def test_two_short_runs_against_one_correct_target_pass(tmp_path: Path) -> None:
    """A correct target stays flat over two runs: exit 0, a JSON document with both runs' figures,
    jobs kept when the load stopped and swept by the time they were read, and each run's results."""
    out, doc_path = tmp_path / "soak", tmp_path / "soak.json"
    done = run_wsrace("soak", "--runs", str(RUNS), "--profile", "quick", "--schedule", str(SCHEDULE),
                      "--out", str(out), "--json", str(doc_path), timeout=560)
    assert done.returncode == 0, done.output[-4000:]
    doc = json.loads(doc_path.read_text())
    assert json.loads((out / "soak.json").read_text()) == doc
    assert (doc["format"], doc["version"], doc["verdict"], doc["passed"], doc["error"]) == (
        FORMAT, VERSION, "pass", True, None)
    assert [run["index"] for run in doc["runs"]] == list(range(1, RUNS + 1))
    before = doc["target"]["before"]
    for run in doc["runs"]:
        assert run["exit_code"] in (0, 1) and Path(run["results"]).is_file()
        target, load = run["target"], run["load"]
        assert target["pids"] == before["pids"] and target["rss_bytes"] > 0 and target["fds"] > 0
        assert target["kept_at_idle"] > 0 and target["jobs_kept"] == 0  # kept, then swept
        assert target["connections_open"] == 0 and target["background_tasks"] == before["background_tasks"]
        assert load["samples"] > 0 and load["rss_bytes"] > 0 and load["processes"] >= 2
    assert all(check["passed"] for check in doc["checks"])
    assert [d["run"] for d in doc["drift"]] == list(range(1, RUNS + 1))
    assert "soak: PASS" in done.output

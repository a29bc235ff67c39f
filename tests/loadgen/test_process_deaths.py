"""The load side's evidence of processes that died, with real processes: the bundled target's
supervisor reports a killed worker's exit and restart on stdout after its listening line, read
without waiting; ``wsrace run``'s subreaper adopts what a dead parent left and stops it; a
checkpoint is promoted to honest, re-judged results. (What needs gevent patched, the watch and the
checkpoint writer, is tested in tests/in_locust/test_process_watch.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadgen.bundled import BundledTarget
from loadgen.checkpoint import checkpoint_path
from loadgen.commands import salvage
from loadgen.judge.results import RunMeta, ScenarioTally, build_results, utc_now, write_results
from loadgen.judge.thresholds import Thresholds

pytestmark = pytest.mark.timeout(90)


def _worker_pids(supervisor: int) -> dict[int, int]:
    """The target's workers by index, from the supervisor's children's command lines."""
    out = {}
    for child in psutil.Process(supervisor).children():
        cmd = child.cmdline()
        if "target_app.worker" in cmd:
            out[int(cmd[cmd.index("--index") + 1])] = child.pid
    return out


def _events_until(target: BundledTarget, kinds: set[str], deadline: float) -> list[dict]:
    seen: list[dict] = []
    while not kinds <= {e["event"] for e in seen}:
        assert time.monotonic() < deadline, f"only {seen} by the deadline:\n{target._log_tail(40)}"
        seen += target.read_events()
        time.sleep(0.05)  # the supervisor gives no other signal: read again until the deadline
    return seen


def test_a_killed_target_worker_is_reported_exited_then_restarted() -> None:
    """SIGKILL to one worker: the supervisor says worker_exit (signal 9, that pid), then
    worker_restarted (a new pid, same index); read_events never waits for them."""
    target = BundledTarget(workers=2)
    try:
        target.start()
        assert target.proc is not None
        before = time.monotonic()
        assert target.read_events() == []  # nothing to say yet, and no wait for it
        assert time.monotonic() - before < 1.0
        workers = _worker_pids(target.proc.pid)
        assert sorted(workers) == [0, 1]
        os.kill(workers[1], signal.SIGKILL)
        events = _events_until(target, {"worker_exit", "worker_restarted"}, time.monotonic() + 60)
        outcome = target.stop()
    finally:
        target.kill()
    exit_, restart = (next(e for e in events if e["event"] == kind) for kind in ("worker_exit", "worker_restarted"))
    assert exit_["index"] == 1 and exit_["pid"] == workers[1] and exit_["code"] == -9 and exit_["signal"] == 9
    assert restart["index"] == 1 and restart["pid"] not in workers.values()
    assert restart["time"] >= exit_["time"]
    assert outcome.clean, outcome.reason


def test_stop_orphans_adopts_and_reaps_what_a_dead_parent_left() -> None:
    """As subreaper, a grandchild whose parent died becomes ours; stop_orphans kills and reaps it."""
    code = "import subprocess,sys,time; p=subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']); " \
           "print(p.pid, flush=True); time.sleep(60)"
    script = [sys.executable, "-c", code]
    salvage.adopt_orphans()
    parent = subprocess.Popen(script, stdout=subprocess.PIPE, text=True)
    grandchild = None
    try:
        assert parent.stdout is not None
        grandchild = int(parent.stdout.readline())
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while psutil.Process(grandchild).ppid() != os.getpid():
            assert time.monotonic() < deadline, "the orphan was not reparented to us"
            time.sleep(0.02)  # the kernel reparents at the parent's exit: look again
        killed = salvage.stop_orphans(grace_s=0.5)
        assert [line.split()[1] for line in killed] == [str(grandchild)]
        assert not psutil.pid_exists(grandchild)  # killed and reaped: not even a zombie is left
    finally:
        salvage.adopt_orphans(False)
        parent.kill()
        if grandchild is not None and psutil.pid_exists(grandchild):
            os.kill(grandchild, signal.SIGKILL)


def _checkpoint(path: Path, started: str) -> dict:
    meta = RunMeta(started=started, finished=utc_now(), duration_s=6.0, host="ws://127.0.0.1:1",
                   interrupted=True, stop_reason="a checkpoint: the run had not finished")
    doc = build_results(meta, {"steady": ScenarioTally(successes=30, failures=2, failures_by_kind={"timeout": 2})},
                        {"steady": {"iteration": {"count": 32, "failures": 2, "p95": 5.0}}}, {}, Thresholds(),
                        processes={"load": {"workers": 2, "lost_reports": []}})
    doc["checkpoint"] = {"t": 6.0, "at": utc_now(), "interval_s": 3.0}
    write_results(path, doc)
    return doc


def test_salvage_promotes_this_runs_checkpoint_to_broken_results(tmp_path: Path) -> None:
    """No results, a checkpoint of this run: results written with run_error naming the death and
    the checkpoint's time, counts as checkpointed, JUnit with an error, exit 3, checkpoint gone."""
    results = tmp_path / "r.json"
    launched = time.time()
    _checkpoint(Path(checkpoint_path(results)), utc_now())
    code = salvage.salvage(-9, results, str(tmp_path / "r.xml"), launched)
    assert code == 3
    doc = json.loads(results.read_text())
    assert doc["run_error"].startswith("the Locust master died (signal 9) at +")
    assert "results as of its last checkpoint at +6.0 s" in doc["run_error"]
    assert doc["passed"] is False and doc["run"]["interrupted"] is True
    assert doc["scenarios"]["steady"]["iterations"] == 32 and doc["checkpoint"]["t"] == 6.0
    assert any(v["check"] == "run_error" and not v["passed"] for v in doc["verdicts"])
    assert "<error" in (tmp_path / "r.xml").read_text()
    assert not Path(checkpoint_path(results)).exists()


def test_salvage_leaves_written_results_and_earlier_checkpoints_alone(tmp_path: Path) -> None:
    """Results written by Locust are never replaced; a checkpoint older than this launch is not promoted."""
    results = tmp_path / "r.json"
    _checkpoint(Path(checkpoint_path(results)), "2001-01-01T00:00:00.000+00:00")
    assert salvage.salvage(-9, results, None, time.time()) is None
    assert not results.exists()
    results.write_text("{}")
    _checkpoint(Path(checkpoint_path(results)), utc_now())
    assert salvage.salvage(-9, results, None, time.time() - 5) is None
    assert results.read_text() == "{}"

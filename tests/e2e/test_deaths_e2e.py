"""End to end, every kind of process killed mid-run: a target worker, the whole bundled target, a
Locust worker (``--processes 2``) and the Locust master. Each time the verdict names what died and
when, the results (and JUnit) are written, the exit code is the documented one, and the counts are
conserved: every iteration a process reported is counted once (the iteration step Locust timed
equals successes + failures). Real ``wsrace run``, real target, real Locust.

A process is killed only once the run is provably mid-stage: the target's /metrics shows open
connections of the steady scenario, and for the Locust kills the master's checkpoint shows every
worker reporting. Every process found is killed in a ``finally``, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from loadgen.children import Child
from loadgen.protocol.metrics import CONNECTIONS_OPEN

HERE = Path(__file__).resolve().parent
SCHEDULE = HERE / "deaths.toml"
RUN_TIMEOUT_S = 150
MID_STAGE_TIMEOUT_S = 60

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(RUN_TIMEOUT_S + 60)]


class Run:
    """A ``wsrace run`` in its own session, and what it started, found with psutil."""

    def __init__(self, child: Child, cwd: Path) -> None:
        self.child = child
        self.cwd = cwd
        self.seen: set[int] = set()

    def wait_for(self, what: str, found: Callable[[], Any], deadline: float) -> Any:
        """Poll ``found()`` until it returns something truthy, by ``deadline``."""
        while True:
            value = found()
            if value:
                return value
            assert self.child.alive(), f"wsrace exited (code {self.child.poll()}) before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {what} by the deadline:\n{self.output()}"
            time.sleep(0.1)  # nothing announces it: look again, until the deadline

    def output(self) -> str:
        return self.child.log_text()[-6000:]

    def processes(self) -> list[psutil.Process]:
        try:
            found = psutil.Process(self.child.pid).children(recursive=True)
        except psutil.Error:
            return []
        self.seen.update(p.pid for p in found)
        return found

    def matching(self, *words: str) -> list[psutil.Process]:
        out = []
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                cmd = proc.cmdline()
                if all(word in cmd for word in words):
                    out.append(proc)
        return out

    def master(self) -> psutil.Process | None:
        """The Locust master: wsrace's own child."""
        with contextlib.suppress(psutil.Error):
            kids = [p for p in psutil.Process(self.child.pid).children() if "locust" in p.cmdline()]
            return kids[0] if kids else None
        return None

    def target_url(self) -> str | None:
        match = re.search(r"bundled target listening on ws://127\.0\.0\.1:(\d+)", self.child.log_text())
        return f"http://127.0.0.1:{match.group(1)}" if match else None

    def open_connections(self) -> float:
        """The target's open connections, from its /metrics (0 while unknown)."""
        url = self.target_url()
        if url is None:
            return 0.0
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
                text = resp.read().decode()
        except OSError:
            return 0.0
        return sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith(CONNECTIONS_OPEN + " ") or line.startswith(CONNECTIONS_OPEN + "{"))

    def checkpoint(self) -> dict[str, Any] | None:
        with contextlib.suppress(OSError, ValueError):
            return json.loads((self.cwd / "r.json.partial").read_text())
        return None

    def finish(self) -> int:
        code = self.child.wait(time.monotonic() + RUN_TIMEOUT_S)
        assert code is not None, f"wsrace did not finish within {RUN_TIMEOUT_S} s:\n{self.output()}"
        return code

    def results(self) -> dict[str, Any]:
        return json.loads((self.cwd / "r.json").read_text())


@contextlib.contextmanager
def wsrace_run(tmp_path: Path, *flags: str) -> Iterator[Run]:
    cmd = [sys.executable, "-m", "loadgen.cli", "run", "--schedule", str(SCHEDULE), "--results", "r.json",
           "--junit", "r.xml", *flags]
    with Child.start(cmd, name="wsrace", cwd=tmp_path, output="log") as child:
        run = Run(child, tmp_path)
        try:
            yield run
        finally:
            run.processes()
            child.kill()  # wsrace and Locust: one group; the target leads its own
            for pid in run.seen:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


def mid_stage(run: Run, *, workers: int = 0) -> None:
    """Wait until the target holds users' open connections, more than the latency probe's own one
    (and, with workers, the master's checkpoint has every worker reporting and completed iterations)."""
    deadline = time.monotonic() + MID_STAGE_TIMEOUT_S
    run.wait_for("users' open connections on the target", lambda: run.open_connections() > 1, deadline)
    if workers:
        def all_reporting() -> bool:
            doc = run.checkpoint() or {}
            reports = ((doc.get("processes") or {}).get("load") or {}).get("reports") or {}
            counted = sum(entry.get("iterations", 0) for entry in (doc.get("scenarios") or {}).values())
            return counted > 0 and len([r for r in reports.values() if r.get("pid")]) >= workers
        run.wait_for(f"{workers} workers reporting iterations in the checkpoint", all_reporting, deadline)


def run_check(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(v for v in doc["verdicts"] if v["category"] == "run" and v["check"] == name)


def assert_conserved(doc: dict[str, Any]) -> None:
    """Every reported iteration counted once: Locust's timed iteration step and the tallies agree."""
    for name, entry in doc["scenarios"].items():
        timed = entry["steps"].get("iteration", {}).get("count", 0)
        assert entry["successes"] + entry["failures"] == entry["iterations"] == timed, (name, entry)
        assert entry["iterations"] > 0, (name, entry)


def test_a_killed_target_worker_is_named_and_fails_the_run(tmp_path: Path) -> None:
    """SIGKILL to target worker 1: the supervisor restarts it; the verdict names its pid, when it
    died (signal 9) and when it served again; results and JUnit written; exit 1."""
    with wsrace_run(tmp_path, "--target-workers", "2") as run:
        mid_stage(run)
        worker = run.wait_for("target worker 1", lambda: [p for p in run.matching("target_app.worker")
                                                           if p.cmdline()[p.cmdline().index("--index") + 1] == "1"],
                              time.monotonic() + 10)[0]
        victim = worker.pid
        os.kill(victim, signal.SIGKILL)
        code = run.finish()
        doc = run.results()
    assert code == 1, run.output()
    check = run_check(doc, "target_processes")
    assert not check["passed"]
    assert re.fullmatch(rf"target worker 1 \(pid {victim}\) died at \+\d+\.\d s \(signal 9\), "
                        rf"restarted at \+\d+\.\d s as pid \d+", check["message"]), check["message"]
    [event] = doc["processes"]["target"]["events"]
    assert event["pid"] == victim and event["restarted_t"] >= event["died_t"]
    assert doc["run_error"] is None and run_check(doc, "target_shutdown")["passed"]
    assert 'name="target_processes"' in (tmp_path / "r.xml").read_text()
    assert not (tmp_path / "r.json.partial").exists()
    assert_conserved(doc)


def test_the_whole_bundled_target_killed_breaks_the_run_naming_when(tmp_path: Path) -> None:
    """SIGKILL to the target's whole process group: run_error says it died, how and when; results
    and JUnit (an error) written; exit 3."""
    with wsrace_run(tmp_path) as run:
        mid_stage(run)
        [supervisor] = run.wait_for("the target's supervisor", lambda: run.matching("-m", "target_app"),
                                    time.monotonic() + 10)
        os.killpg(os.getpgid(supervisor.pid), signal.SIGKILL)
        code = run.finish()
        doc = run.results()
    assert code == 3, run.output()
    assert re.fullmatch(r"the bundled target died during the run \(killed by signal 9\) at \+\d+\.\d s",
                        doc["run_error"]), doc["run_error"]
    assert doc["passed"] is False and not run_check(doc, "target_shutdown")["passed"]
    assert "<error" in (tmp_path / "r.xml").read_text()
    assert_conserved(doc)


def test_a_killed_locust_worker_is_named_and_its_unreported_tallies_are_lost(tmp_path: Path) -> None:
    """--processes 2, SIGKILL to one Locust worker: the master marks it missing; the verdict names it
    and its last report, says its unreported tallies are lost (count unknown); exit 1."""
    with wsrace_run(tmp_path, "--processes", "2") as run:
        mid_stage(run, workers=2)
        master = run.master()
        assert master is not None
        workers = [p for p in master.children() if "locust" in p.cmdline()]
        assert len(workers) == 2, workers
        victim = workers[0].pid
        os.kill(victim, signal.SIGKILL)
        code = run.finish()
        doc = run.results()
    assert code == 1, run.output()
    check = run_check(doc, "load_processes")
    assert not check["passed"] and check["value"] >= 1
    assert f"(pid {victim}) stopped reporting at +" in check["message"]
    assert "what it counted after its last report is lost, count unknown" in check["message"]
    lost = [item for item in doc["processes"]["load"]["lost_reports"] if item["reported_again_t"] is None]
    [mine] = [item for item in lost if item["pid"] == victim]
    assert mine["unreported_iterations"] is None and mine["reports"] > 0
    # Locust's default master port is shared by every --processes run on the machine: a worker of
    # another run may join this master and vanish. Ours carry their pid; the survivor is not lost.
    survivor = workers[1].pid
    assert all(item["pid"] is None for item in lost if item is not mine), lost
    assert survivor not in [item["pid"] for item in lost]
    assert 'name="load_processes"' in (tmp_path / "r.xml").read_text()
    assert_conserved(doc)


def test_a_killed_locust_master_leaves_its_last_checkpoint_as_broken_results(tmp_path: Path) -> None:
    """--processes 2, SIGKILL to the master: its workers and the target stop, wsrace run promotes
    the last checkpoint to the results with run_error naming the death, writes JUnit, exits 3."""
    with wsrace_run(tmp_path, "--processes", "2") as run:
        mid_stage(run, workers=2)
        master = run.master()
        assert master is not None
        left = [p.pid for p in master.children(recursive=True)]
        assert len(left) >= 3, left  # two workers and the target's supervisor at least
        master.kill()
        code = run.finish()
        doc = run.results()
        still = [pid for pid in left if psutil.pid_exists(pid)]
    assert code == 3, run.output()
    assert still == [], f"left running after wsrace run exited: {still}"
    assert re.fullmatch(r"the Locust master died \(signal 9\) at \+\d+\.\d s without writing its results; "
                        r"results as of its last checkpoint at \+\d+\.\d s", doc["run_error"]), doc["run_error"]
    assert doc["checkpoint"]["t"] > 0 and doc["passed"] is False and doc["run"]["interrupted"] is True
    assert "<error" in (tmp_path / "r.xml").read_text()
    assert not (tmp_path / "r.json.partial").exists()
    assert_conserved(doc)

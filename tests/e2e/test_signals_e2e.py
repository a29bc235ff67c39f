"""End to end: stop signals sent the way a terminal and a CI runner send them, to a real run.

A terminal's Ctrl-C is SIGINT to the whole foreground process group; a CI runner cancels with
SIGINT, then SIGTERM a few seconds later; systemd and ``docker stop`` send SIGTERM. Each test starts
``wsrace run`` (or plain ``locust``) in a session of its own, waits until the run is provably where
the test says (a stage line in its log, and the bundled target's ``/metrics`` showing open
connections), signals the process group with ``os.killpg``, and then checks what a user relies on:
the documented exit code, the results file and JUnit written and marked interrupted by that
signal, every iteration accounted for (attempts = successes + failures + interrupted), no
traceback in the output, and no process of the tree left (the bundled target's port answers no
more). Real target, real Locust, two short stages (``short_stages.toml``); one standalone Locust
process, or ``--processes 1`` / ``2`` (a master and its worker processes).

``--processes`` makes Locust's master bind its fixed port 5557 before it forks the workers (they
must know it): two such runs at once on one machine collide ("Address already in use"), which no
test can avoid with an OS-given port.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from loadgen import exitcodes
from loadgen.children import Child

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE.parent.parent / "scenarios"
SCHEDULE = HERE / "short_stages.toml"
WAIT_S = 60.0
"""The deadline for the run to reach the moment a test signals at (a loaded machine starts slowly)."""
END_S = 60.0
"""The deadline for the run to end after the signal (it takes a few seconds)."""
LISTENING = re.compile(r"bundled target listening on (ws://127\.0\.0\.1:\d+)")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(WAIT_S + END_S + 60)]


@dataclass
class Run:
    child: Child
    results: Path
    junit: Path

    def log(self) -> str:
        return self.child.log_text()

    def wait_for_line(self, pattern: str, deadline: float) -> re.Match[str]:
        """The first match of ``pattern`` in the run's output, once it is there (by ``deadline``)."""
        while True:
            found = re.search(pattern, self.log())
            if found:
                return found
            assert self.child.alive(), f"the run ended before {pattern!r}:\n{self.log()[-4000:]}"
            assert time.monotonic() < deadline, f"no {pattern!r} in time:\n{self.log()[-4000:]}"
            time.sleep(0.05)  # the run gives no other sign of progress than its log: look again

    def target_url(self, deadline: float) -> str:
        return self.wait_for_line(LISTENING.pattern, deadline).group(1)

    def tree(self) -> list[psutil.Process]:
        """Every process of the run now: Locust, its workers, the bundled target and its workers."""
        root = psutil.Process(self.child.pid)
        return [root, *root.children(recursive=True)]

    def signal_group(self, signum: int) -> None:
        os.killpg(self.child.pid, signum)


def start_run(tmp_path: Path, *args: str, command: str = "wsrace", ignore_sigint: bool = False) -> Run:
    """``wsrace run`` (or ``locust -f scenarios --headless``) on the short schedule, in its own
    session. ``ignore_sigint``: started as a non-interactive shell starts a background job, with
    SIGINT ignored (SIG_IGN survives exec)."""
    results, junit = tmp_path / "r.json", tmp_path / "r.xml"
    common = ["--schedule", str(SCHEDULE), "--results", str(results), "--junit", str(junit), *args]
    if command == "wsrace":
        cmd = [sys.executable, "-m", "loadgen.cli", "run", *common]
    else:
        cmd = [sys.executable, "-m", "locust", "-f", str(SCENARIOS), "--headless", *common]
    if ignore_sigint:
        exec_it = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                   "os.execv(sys.executable, sys.argv[1:])")
        cmd = [sys.executable, "-c", exec_it, *cmd]
    return Run(Child.start(cmd, name=command, cwd=tmp_path, output="log"), results, junit)


def open_connections(url: str) -> float:
    """The bundled target's ``wsrace_connections_open`` gauge."""
    metrics = url.replace("ws://", "http://") + "/metrics"
    with urllib.request.urlopen(metrics, timeout=5) as resp:
        text = resp.read().decode()
    found = re.search(r"^wsrace_connections_open(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE)
    assert found, f"no wsrace_connections_open in {metrics}:\n{text[:2000]}"
    return float(found.group(1))


PROBE_CONNECTIONS = 1
"""The run's latency probe (loadgen.probe) holds one connection of its own from the start."""


def mid_stage(run: Run, deadline: float) -> str:
    """Wait until stage 1 runs with users' connections open on the target (more than the probe's
    own); return the target's URL."""
    url = run.target_url(deadline)
    run.wait_for_line(r"stage 1/2 'first'", deadline)
    while open_connections(url) <= PROBE_CONNECTIONS:
        assert time.monotonic() < deadline, f"no connection opened in time:\n{run.log()[-4000:]}"
        time.sleep(0.05)  # users are connecting: look again
    return url


def at_start(run: Run, deadline: float) -> str:
    """Wait only until the bundled target is up (Locust is still setting up or starting stage 1)."""
    return run.target_url(deadline)


def in_drain(run: Run, deadline: float) -> str:
    """Wait until the users of stage 1 are being stopped before stage 2."""
    url = run.target_url(deadline)
    run.wait_for_line(r"stopping the users of steady before the next stage", deadline)
    return url


def finish(run: Run) -> int:
    code = run.child.wait(time.monotonic() + END_S)
    assert code is not None, f"the run did not end within {END_S} s of the signal:\n{run.log()[-4000:]}"
    return code


def left_over(tree: list[psutil.Process]) -> list[str]:
    """The processes of ``tree`` still running (a pid reused since is another process: not counted)."""
    left = []
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
    return left


def answers_healthz(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.replace("ws://", "http://") + "/healthz", timeout=2):
            return True
    except (OSError, urllib.error.URLError):
        return False


def check_stopped_run(run: Run, code: int, url: str, tree: list[psutil.Process], *, signal_name: str,
                      processes: int, expect_code: int) -> dict[str, Any]:
    """What every signalled run must show; returns the results for the test's own checks."""
    output = run.log()
    assert code == expect_code, f"exit {code}, expected {expect_code}:\n{output[-5000:]}"
    assert "Traceback" not in output, output[-8000:]
    assert left_over(tree) == [], f"processes left after the run: {left_over(tree)}"
    assert not answers_healthz(url), f"the bundled target still answers at {url}"
    doc = json.loads(run.results.read_text())
    assert doc["run"]["interrupted"] is True and doc["run"]["signal"] == signal_name, doc["run"]
    assert doc["run"]["stop_reason"].startswith(f"interrupted by {signal_name}"), doc["run"]
    assert doc["passed"] is False and doc["run_error"] is None
    assert doc["run"]["processes"] == max(processes, 1), f"workers of another run joined?\n{output[-4000:]}"
    for name, entry in doc["scenarios"].items():
        outcomes = entry["successes"] + entry["failures"] + entry["interrupted"]
        assert entry["attempts"] == outcomes, (name, entry)
        assert "client_error" not in entry["failures_by_kind"], (name, entry)
    run_checks = {v["check"]: v for v in doc["verdicts"] if v["category"] == "run"}
    assert signal_name in run_checks["interrupted"]["message"]
    junit = run.junit.read_text()
    assert '<property name="interrupted" value="true"' in junit
    assert f'<property name="signal" value="{signal_name}"' in junit
    assert 'name="interrupted"' in junit and 'type="interrupted"' in junit
    return doc


def load_args(processes: int) -> tuple[str, ...]:
    """0: one standalone Locust process; N: ``--processes N`` (a master and N worker processes)."""
    return ("--processes", str(processes)) if processes else ()


def interrupted_iterations(doc: dict[str, Any]) -> int:
    return sum(entry["interrupted"] for entry in doc["scenarios"].values())


def signalled_run(tmp_path: Path, signals: list[tuple[int, float]], *args: str,
                  when: Callable[[Run, float], str] = mid_stage, **start: Any) -> tuple[Run, int, str, list]:
    """Start a run, wait for ``when``, send each signal to its process group (after the delay
    given with it, in seconds after the previous one), wait for its end."""
    run = start_run(tmp_path, *args, **start)
    with run.child:  # whatever happens, the whole group is killed at the end
        url = when(run, time.monotonic() + WAIT_S)
        tree = run.tree()
        for signum, delay in signals:
            if delay:
                time.sleep(delay)  # CI's cadence between its signals, not a wait for the run
            run.signal_group(signum)
        code = finish(run)
    return run, code, url, tree


@pytest.mark.parametrize("processes", [0, 1, 2])
def test_sigint_to_the_group_mid_stage(tmp_path: Path, processes: int) -> None:
    """Ctrl-C in a terminal mid-stage: exit 130, results and JUnit marked SIGINT, iterations cut
    short counted as interrupted, nothing left running."""
    run, code, url, tree = signalled_run(tmp_path, [(signal.SIGINT, 0)], *load_args(processes))
    doc = check_stopped_run(run, code, url, tree, signal_name="SIGINT", processes=processes,
                            expect_code=exitcodes.INTERRUPTED_SIGINT)
    assert interrupted_iterations(doc) > 0, doc["scenarios"]
    assert {v["check"]: v["passed"] for v in doc["verdicts"] if v["category"] == "run"} == {
        "interrupted": False, "target_shutdown": True, "target_processes": True, "load_processes": True}


@pytest.mark.parametrize("processes", [0, 1, 2])
def test_sigterm_to_the_group_mid_stage(tmp_path: Path, processes: int) -> None:
    """SIGTERM to the group (CI runner, systemd, docker stop): exit 143, results marked SIGTERM."""
    run, code, url, tree = signalled_run(tmp_path, [(signal.SIGTERM, 0)], *load_args(processes))
    doc = check_stopped_run(run, code, url, tree, signal_name="SIGTERM", processes=processes,
                            expect_code=exitcodes.INTERRUPTED_SIGTERM)
    assert interrupted_iterations(doc) > 0, doc["scenarios"]


@pytest.mark.parametrize("processes", [1, 2])
def test_sigint_then_sigterm_as_a_ci_runner_cancels(tmp_path: Path, processes: int) -> None:
    """SIGINT, then SIGTERM 1 s later: the second signal stops the run at once (the target is
    killed, not stopped), the results keep what was counted, the exit code is the first signal's."""
    run, code, url, tree = signalled_run(tmp_path, [(signal.SIGINT, 0), (signal.SIGTERM, 1.0)],
                                         *load_args(processes))
    doc = check_stopped_run(run, code, url, tree, signal_name="SIGINT", processes=processes,
                            expect_code=exitcodes.INTERRUPTED_SIGINT)
    assert "SIGTERM" in doc["run"]["stop_reason"], doc["run"]


@pytest.mark.parametrize("processes", [1, 2])
def test_sigint_works_when_the_parent_ignored_it(tmp_path: Path, processes: int) -> None:
    """Started with SIGINT ignored (a non-interactive shell's background job): SIGINT still stops it."""
    run, code, url, tree = signalled_run(tmp_path, [(signal.SIGINT, 0)], *load_args(processes),
                                         ignore_sigint=True)
    check_stopped_run(run, code, url, tree, signal_name="SIGINT", processes=processes,
                      expect_code=exitcodes.INTERRUPTED_SIGINT)


@pytest.mark.parametrize("processes", [1, 2])
def test_sigint_while_the_run_starts(tmp_path: Path, processes: int) -> None:
    """SIGINT as soon as the bundled target is up (Locust still starting, its workers connecting):
    the run ends as cleanly as mid-stage, with results that say it was interrupted."""
    run, code, url, tree = signalled_run(tmp_path, [(signal.SIGINT, 0)], *load_args(processes),
                                         when=at_start)
    check_stopped_run(run, code, url, tree, signal_name="SIGINT", processes=processes,
                      expect_code=exitcodes.INTERRUPTED_SIGINT)


def test_sigterm_in_the_drain_between_stages(tmp_path: Path) -> None:
    """SIGTERM while the users of one stage are being stopped before the next: the run ends there."""
    run, code, url, tree = signalled_run(tmp_path, [(signal.SIGTERM, 0)], when=in_drain)
    check_stopped_run(run, code, url, tree, signal_name="SIGTERM", processes=1,
                      expect_code=exitcodes.INTERRUPTED_SIGTERM)
    assert "stage 2/2" not in run.log()


@pytest.mark.parametrize("processes", [1, 2])
def test_plain_locust_sigint_mid_stage(tmp_path: Path, processes: int) -> None:
    """``locust -f scenarios --headless`` without the wsrace wrapper behaves the same on Ctrl-C."""
    run, code, url, tree = signalled_run(tmp_path, [(signal.SIGINT, 0)], *load_args(processes),
                                         command="locust")
    doc = check_stopped_run(run, code, url, tree, signal_name="SIGINT", processes=processes,
                            expect_code=exitcodes.INTERRUPTED_SIGINT)
    assert interrupted_iterations(doc) > 0, doc["scenarios"]

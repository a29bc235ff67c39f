"""End to end, many sessions: the hold profile over source addresses, and a capacity ramp.

Real target app, real Locust (one process: small N plans no --processes), short schedules of the
tests' own. The hold's source addresses are checked where they arrive: in the target's own TCP
connections (psutil), not in what the load side says it did.
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections import Counter
from pathlib import Path

import psutil
import pytest

from loadgen.capacity.levels import PROBE_CONNECTIONS
from loadgen.sessions_plan import address_loads, parse_addresses
from tests.support.target import running_target
from tests.support.wsrace_cli import run_wsrace

HERE = Path(__file__).resolve().parent
HOLD_SCHEDULE = HERE / "hold_short.toml"
RESTART_SCHEDULE = HERE / "hold_restart.toml"
ASKED = "127.0.0.2-127.0.0.3"
RUN_TIMEOUT_S = 90

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(RUN_TIMEOUT_S + 30)]


def _explain(finished) -> str:
    return f"exit {finished.returncode}; output tail:\n{finished.output[-4000:]}"


class PeerWatch:
    """Samples the target's established connections on its port (every process of its tree),
    keeping the most seen at once from each peer address."""

    def __init__(self, pid: int, port: int) -> None:
        self.pid, self.port = pid, port
        self.peak: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PeerWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        root = psutil.Process(self.pid)
        while not self._stop.is_set():
            now: Counter[str] = Counter()
            for proc in [root, *root.children(recursive=True)]:
                try:
                    conns = proc.net_connections(kind="tcp")
                except psutil.Error:
                    continue  # a worker that exited after being listed
                now.update(c.raddr.ip for c in conns
                           if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == self.port and c.raddr)
            for address, count in now.items():
                self.peak[address] = max(self.peak[address], count)
            self._stop.wait(0.3)


def test_hold_keeps_every_session_from_the_source_addresses_asked_for(tmp_path: Path) -> None:
    """--profile hold over two source addresses: every session connects once and is held at once
    with the others, every held period ends in a verified echo (seq and user checked), exit 0;
    the target sees exactly the addresses asked for, each with its share of the sessions."""
    sessions = tomllib.loads(HOLD_SCHEDULE.read_text())["stage"][0]["users"]
    with running_target() as target, PeerWatch(target.child.pid, target.port) as watch:
        finished = run_wsrace(
            "run", "--profile", "hold", "--host", target.url, "--schedule", str(HOLD_SCHEDULE),
            "--source-addresses", ASKED, "--hold-interval", "1", "--results", "r.json",
            timeout=RUN_TIMEOUT_S, cwd=tmp_path)
    assert finished.returncode == 0, _explain(finished)
    hold = finished.results()["scenarios"]["hold"]
    assert hold["failures"] == 0 and hold["failures_by_kind"] == {}
    assert hold["attempts"] == hold["successes"] + hold["failures"] + hold["interrupted"]
    assert hold["steps"]["connect"]["count"] == sessions, "a session reconnected or never connected"
    assert hold["steps"]["echo"]["count"] == hold["successes"] >= sessions
    expected = address_loads(sessions, 1, parse_addresses(ASKED))
    bound = {address: count for address, count in watch.peak.items() if address != "127.0.0.1"}
    assert bound == expected, f"the target saw {dict(watch.peak)}"  # the probe alone comes from 127.0.0.1
    assert watch.peak["127.0.0.1"] <= PROBE_CONNECTIONS + 1


def test_capacity_reports_the_last_level_that_passed(tmp_path: Path) -> None:
    """Two tiny levels and a threshold (the server's connections_total) that only the second one
    breaks: max_sessions_passed is the first level, the second is the first failed, each level has
    both sides' memory and the run exits 0 (a level held)."""
    levels = (40, 120)
    limit = (levels[0] + levels[1]) // 2  # above the first level plus its probe, below the second
    thresholds = tmp_path / "thresholds.toml"
    thresholds.write_text(f"[defaults]\nmax_error_rate = 0.0\nmin_iterations = 1\n\n[server]\n"
                          f"connections_total = {limit}\n")
    finished = run_wsrace(
        "run", "--profile", "capacity", "--levels", ",".join(map(str, levels)), "--hold", "3",
        "--hold-interval", "0.5", "--connect-rate", "200", "--thresholds", str(thresholds),
        "--results", "cap.json", timeout=RUN_TIMEOUT_S, cwd=tmp_path)
    assert finished.returncode == 0, _explain(finished)
    doc = finished.results()
    assert doc["format"] == "wsrace-capacity"
    capacity = doc["capacity"]
    assert capacity["max_sessions_passed"] == levels[0]
    assert capacity["first_failed"] == levels[1]
    first, second = capacity["levels"]
    assert (first["sessions"], first["passed"], second["sessions"], second["passed"]) == (*levels[:1], True,
                                                                                          levels[1], False)
    assert any("connections_total" in check for check in second["failed_checks"])
    for level in (first, second):
        assert level["target_kib_per_session"] > 0 and level["load_kib_per_session"] > 0
        assert level["target_processes"] >= 2 and level["load_processes"] >= 1  # supervisor + worker
        assert Path(level["results"]).exists()
    assert f"RESULT: capacity {levels[0]:,} sessions" in finished.output


def test_a_hold_survives_a_target_worker_restart(tmp_path: Path) -> None:
    """A target worker killed mid-hold: each session it held fails one period as abnormal_close
    (close code 1006 counted), then reconnects (to the other worker) and is held again; the run
    goes to its end and fails on the error rate it cost, exit 1. So connects = sessions + drops."""
    sessions = tomllib.loads(RESTART_SCHEDULE.read_text())["stage"][0]["users"]
    with running_target(workers=2) as target, PeerWatch(target.child.pid, target.port) as watch:
        supervisor = psutil.Process(target.child.pid)
        results: list = []
        run = threading.Thread(target=lambda: results.append(run_wsrace(
            "run", "--profile", "hold", "--host", target.url, "--schedule", str(RESTART_SCHEDULE),
            "--hold-interval", "1", "--results", "r.json", timeout=RUN_TIMEOUT_S, cwd=tmp_path)))
        run.start()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while sum(watch.peak.values()) < sessions and time.monotonic() < deadline and run.is_alive():
            time.sleep(0.2)  # until every session was seen held at once (the probe's too)
        held = {}
        for worker in supervisor.children():
            held[worker] = sum(1 for c in worker.net_connections(kind="tcp")
                               if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == target.port)
        victim = max(held, key=held.get)
        assert held[victim] > 0, f"no worker held a session: {held}"
        victim.kill()
        run.join(RUN_TIMEOUT_S + 10)
    (finished,) = results
    assert finished.returncode == 1, _explain(finished)
    hold = finished.results()["scenarios"]["hold"]
    assert hold["failures"] > 0 and set(hold["failures_by_kind"]) == {"abnormal_close"}, hold["failures_by_kind"]
    assert hold["close_codes"] == {"1006": hold["failures"]}
    assert hold["steps"]["connect"]["count"] == sessions + hold["failures"]
    assert hold["failures"] <= held[victim]  # only the sessions the killed worker held
    assert hold["successes"] > sessions  # the others held on, and the reconnected were held again

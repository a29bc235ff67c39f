"""The latency probe on real sockets: round trips against the real target, failures named when it cannot connect.

The probe runs as Locust runs it, under gevent monkey-patching, in a child process (the pytest
process stays unpatched); the child prints the probe's summary (the results file's ``baseline``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loadgen.judge.baseline import baseline_problem
from loadgen.judge.evaluate import evaluate
from loadgen.judge.thresholds import thresholds_from_dict
from tests.support.target import running_target

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 12
CHILD_TIMEOUT_S = 60.0

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(CHILD_TIMEOUT_S + 40)]

CHILD = """
from gevent import monkey; monkey.patch_all()
import json, sys, time
import gevent
from loadgen.probe import LatencyProbe
from loadgen.tokens_source import MintedTokens
host, rounds, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3]
probe = LatencyProbe(host, MintedTokens(secret).identity("probe-test"), interval_s=0.05, timeout_s=2.0)
probe.start()
deadline = time.monotonic() + 30.0
while len(probe.round_trips) + probe.failures < rounds and time.monotonic() < deadline:
    gevent.sleep(0.01)
print(json.dumps(probe.stop()))
"""


def run_probe(host: str, secret: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", CHILD, host, str(ROUNDS), secret], capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def hangs_up() -> Iterator[str]:
    """A TCP server on an OS-given port that accepts and closes at once: no WebSocket ever opens."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5.0)
        server.close()


def test_probe_measures_round_trips_on_the_real_target() -> None:
    """Against the real target every probe echo is a round trip, kept with its time: count = samples."""
    with running_target() as target:
        base = run_probe(target.url, target.secret)
    assert base["failures"] == 0 and base["error"] is None
    assert base["count"] >= ROUNDS and len(base["samples"]) == base["count"]
    assert 0 < base["p50"] <= base["p99"] <= base["max"]
    assert baseline_problem(base) is None


def test_probe_that_cannot_connect_fails_relative_limits_with_its_reason(hangs_up: str) -> None:
    """No WebSocket: every probe round trip fails, its error is kept, and a ratio limit fails naming it."""
    base = run_probe(hangs_up, "unused-secret")
    assert base["count"] == 0 and base["failures"] >= ROUNDS and base["error"]
    problem = baseline_problem(base)
    assert problem is not None and base["error"] in problem
    thresholds = thresholds_from_dict({"scenarios": {"s": {"min_iterations": 1,
                                                           "latency": {"echo": {"p99_vs_baseline": 5}}}}}, "t")
    doc = {"scenarios": {"s": {"successes": 5, "steps": {"echo": {"count": 5, "p99": 3.0}}}}, "baseline": base}
    ratio = next(v for v in evaluate(doc, thresholds) if v.metric == "latency.echo.p99_vs_baseline")
    assert not ratio.passed and ratio.value is None and base["error"] in ratio.message

"""The peers for real: Artillery and Tsung each run a short round-trip and connect-storm window
against the benchmark's echo server, and the sample has work counted at the server, no errors in
the peer's own report, and CPU measured. Nothing here judges a number.

``.ci/install-system-deps`` does not install the peers (each takes about 3 minutes and hundreds of
packages to install here: see docs/benchmark.md), so where one is missing its test skips and says
how to get it; the pure half of the peers (their scripts and reports) is tested in test_peers.py
on every machine."""

from __future__ import annotations

import pytest

from loadgen.bench import measure, peers
from loadgen.bench.peers import window
from loadgen.bench.workloads import PEERS, WORKLOADS

pytestmark = pytest.mark.e2e

CONNECTIONS, DURATION = 5, 2.0


@pytest.mark.timeout(int(2 * max(window.SETUP_S.values()) + DURATION + window.TAIL_S + window.EXIT_S + 60))
@pytest.mark.parametrize("workload", [name for name, w in WORKLOADS.items() if w.peers])
@pytest.mark.parametrize("peer", PEERS)
def test_peer_runs_a_measured_window(peer: str, workload: str) -> None:
    """A peer's window: every connection opened, work counted at the server, CPU spent, its own
    report free of errors."""
    why = peers.skip_reason(peer)
    if why is not None:
        pytest.skip(f"{peer}: {why}")
    sample = window.run_sample(measure.core_plan(), workload, peer, CONNECTIONS, DURATION)
    metrics = sample["metrics"]
    assert metrics["count"] > 0, sample
    assert metrics["failures"] == 0, sample
    assert metrics["gen_cpu_s"] > 0 and metrics["gen_cpu_per_unit"] > 0, sample
    assert metrics["gen_peak_rss_mib"] > 0, sample

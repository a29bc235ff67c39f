"""Tallies travel from workers to the master as deltas: draining and absorbing loses nothing."""

from __future__ import annotations

from loadgen.collector import Collector


def test_drained_reports_add_up_exactly_on_the_master() -> None:
    """Two workers' reports, drained at different times, sum to everything they counted."""
    worker_a, worker_b, master = Collector(), Collector(), Collector()
    worker_a.success("s")
    worker_a.failure("s", "seq_gap")
    master.absorb(worker_a.drain())
    worker_a.interrupted("s")
    worker_a.close_code("s", 1000)
    worker_b.failure("s", "seq_gap")
    worker_b.close_code("s", None)
    worker_b.success("t")
    master.absorb(worker_b.drain())
    master.absorb(worker_a.drain())
    master.absorb(worker_a.drain())  # an empty report changes nothing
    s = master.tallies()["s"]
    assert (s.successes, s.failures, s.interrupted) == (1, 2, 1)
    assert dict(s.failures_by_kind) == {"seq_gap": 2}
    assert dict(s.close_codes) == {"1000": 1, "1006": 1}
    assert master.tallies()["t"].successes == 1


def test_drain_starts_counting_again_from_zero() -> None:
    """After a drain, the next report holds only what happened since."""
    collector = Collector()
    collector.success("s")
    assert collector.drain()["s"]["successes"] == 1
    assert collector.drain() == {}

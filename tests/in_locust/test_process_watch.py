"""The judging process's watch of deaths and its checkpoint writer, under gevent as in Locust:
target events pair into one record per death, and the checkpoint is written at once, then every
interval until the run finishes, and removed only once the results exist."""

from __future__ import annotations

import json
import time
from pathlib import Path

import gevent

from loadgen.checkpoint import Checkpointer, checkpoint_path
from loadgen.process_watch import ProcessWatch


def test_target_events_pair_into_one_record_per_death() -> None:
    """An exit opens a record, the restart of that worker closes it; times are from the run's start."""
    watch = ProcessWatch(t0_unix=1000.0, t0_monotonic=time.monotonic())
    watch.target_event({"event": "worker_exit", "index": 1, "pid": 11, "code": -9, "signal": 9, "time": 1012.25})
    watch.target_event({"event": "worker_exit", "index": 0, "pid": 10, "code": 3, "signal": None, "time": 1013.0})
    watch.target_event({"event": "worker_restarted", "index": 1, "pid": 12, "time": 1012.75})
    assert "target" not in watch.section()  # nothing was said to be watched: no target section
    watch.target_watched = "bundled"
    events = watch.section()["target"]["events"]
    assert [(e["index"], e["pid"], e["died_t"], e["restarted_t"], e["restarted_pid"]) for e in events] == [
        (1, 11, 12.25, 12.75, 12), (0, 10, 13.0, None, None)]
    assert events[1]["exit_code"] == 3 and events[1]["signal"] is None


def test_worker_reports_carry_pid_and_time_and_a_return_clears_the_loss() -> None:
    """Each report counts, with the worker's pid; a worker marked lost that reports again is marked back."""
    watch = ProcessWatch(t0_unix=time.time(), t0_monotonic=time.monotonic())
    watch.worker_report("w1", {"wsrace_pid": 42})
    watch.worker_report("w1", {})
    assert watch.workers["w1"]["reports"] == 2 and watch.workers["w1"]["pid"] == 42
    watch.lost["w1"] = {"worker": "w1", "reported_again_t": None}
    watch.worker_report("w1", {})
    assert watch.lost["w1"]["reported_again_t"] is not None


def test_each_workers_reports_add_up_to_its_counted_iterations() -> None:
    """Reports carry deltas per scenario: a worker's ``counted`` is their sum over reports and
    scenarios, and the workers' counts together are the collector's totals."""
    from loadgen.collector import REPORT_KEY, Collector

    watch, master = ProcessWatch(t0_unix=time.time(), t0_monotonic=time.monotonic()), Collector()
    reports = {"w1": [{"steady": {"attempts": 3, "successes": 2, "failures": 1, "failures_by_kind": {"timeout": 1}}},
                      {"steady": {"attempts": 1, "interrupted": 1}, "pressure": {"attempts": 2, "successes": 2}}],
               "w2": [{"pressure": {"attempts": 5, "successes": 4, "interrupted": 1}}]}
    for worker, sent in reports.items():
        for data in sent:
            watch.worker_report(worker, {REPORT_KEY: data})
            master.absorb(data)
    totals = master.tallies().values()
    for name in ("attempts", "successes", "failures", "interrupted"):
        assert sum(watch.workers[w]["counted"][name] for w in reports) == sum(getattr(t, name) for t in totals)
    assert watch.workers["w1"]["counted"] == {"attempts": 6, "successes": 4, "failures": 1, "interrupted": 1}


def test_checkpoints_are_written_at_once_then_each_interval_until_finished(tmp_path: Path) -> None:
    """The first checkpoint at start, more while the run goes, none after it finished; each a whole
    document with its ``checkpoint`` time; discarded only once the results file exists."""
    results = tmp_path / "r.json"
    path = checkpoint_path(results)
    built = []
    finished = False

    def build() -> dict:
        built.append(len(built))
        return {"format": "wsrace-results", "n": len(built)}

    writer = Checkpointer(path, build, lambda: finished, clock=lambda: 1.5, interval_s=0.05)
    writer.start()
    assert writer.written == 1 and json.loads(Path(path).read_text())["checkpoint"]["t"] == 1.5
    with gevent.Timeout(10):
        while writer.written < 3:
            gevent.sleep(0.01)
    finished = True
    gevent.sleep(0.2)
    count = writer.written
    gevent.sleep(0.2)
    assert writer.written == count  # finished: no more writes
    assert json.loads(Path(path).read_text())["n"] == count
    writer.discard_if(results)
    assert Path(path).exists()  # no results yet: the checkpoint is all there is
    results.write_text("{}")
    writer.discard_if(results)
    assert not Path(path).exists()

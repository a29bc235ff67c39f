"""What a soak reads: a real process tree's memory and files, and gauges in exposition text."""

from __future__ import annotations

import sys
import time

import psutil

from loadgen.children import Child
from loadgen.protocol import metrics as names
from loadgen.soak.probe import PeakSampler, parse_gauges, tree_usage

PARENT = ("import subprocess, sys, time\n"
          "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
          "print(child.pid, flush=True)\n"
          "time.sleep(60)\n")


def test_a_tree_is_its_root_and_every_descendant() -> None:
    """tree_usage sums a parent and its child: their pids, their open files and their memory."""
    with Child.start([sys.executable, "-c", PARENT], name="tree") as parent:
        grandchild = int(parent.read_line(time.monotonic() + 30))
        usage = tree_usage(parent.pid)
        procs = [psutil.Process(pid) for pid in (parent.pid, grandchild)]
        assert usage.pids == tuple(sorted((parent.pid, grandchild)))
        assert usage.fds == sum(p.num_fds() for p in procs)  # both sleep: their files do not change
        assert usage.rss_bytes >= max(p.memory_info().rss for p in procs)


def test_the_sampler_keeps_the_peaks_until_its_root_is_gone() -> None:
    """Sampling a tree that exits: a peak was seen, and the sampler stops by itself."""
    with Child.start([sys.executable, "-c", "import time; time.sleep(1.5)"], name="short") as child:
        with PeakSampler(child.pid, interval=0.1) as sampler:
            assert child.wait(time.monotonic() + 30) == 0
        peak = sampler.peak()
    assert peak.samples >= 1 and peak.rss_bytes > 0 and peak.fds > 0 and peak.processes == 1


def test_gauges_are_summed_over_samples_and_missing_ones_are_none() -> None:
    """Per-worker samples of a gauge are summed; a gauge absent from the text is None, not 0."""
    text = (f"# TYPE {names.CONNECTIONS_OPEN} gauge\n"
            f'{names.CONNECTIONS_OPEN}{{pid="1"}} 2.0\n{names.CONNECTIONS_OPEN}{{pid="2"}} 3.0\n'
            f"# TYPE {names.BACKGROUND_TASKS} gauge\n{names.BACKGROUND_TASKS} 2.0\n"
            f"# TYPE {names.JOBS_RUNNING} gauge\n{names.JOBS_RUNNING} 0.0\n")
    gauges = parse_gauges(text)
    assert (gauges.connections_open, gauges.background_tasks, gauges.jobs_running) == (5.0, 2.0, 0.0)
    assert gauges.jobs_kept is None and not gauges.exposed

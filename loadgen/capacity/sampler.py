"""Both sides of one capacity level, sampled every second on a thread: memory, CPU, connections.

Each :class:`Sample` holds, at one moment, the RSS summed over the load side's process tree (``wsrace
run``, the Locust master and its worker processes) and over the target's (its supervisor and
workers), each side's CPU seconds so far (processes that exited keep the last figure read, so the
sum never goes back), the target's ``wsrace_connections_open`` (None when the scrape failed that
second) and the machine's available memory. The figures of a level are then a pure function of the
samples (:func:`loadgen.capacity.levels.figures`).

A process that exits between being listed and being read is skipped: a tree is a moving thing.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import psutil

from loadgen.capacity.levels import Sample
from loadgen.metrics_scrape import metrics_url
from loadgen.protocol import metrics as names

__all__ = ["LevelSampler", "connections_open"]

SCRAPE_TIMEOUT_S = 2.0


def connections_open(host: str) -> float | None:
    """The target's open connections (summed over its workers), None if ``/metrics`` did not answer."""
    try:
        with urllib.request.urlopen(metrics_url(host), timeout=SCRAPE_TIMEOUT_S) as resp:
            text = resp.read().decode()
    except (OSError, urllib.error.URLError, ValueError):
        return None  # busy or unreachable this second: the run's own poller judges that
    total = None
    for line in text.splitlines():
        if line.startswith(names.CONNECTIONS_OPEN) and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            if name.split("{")[0] == names.CONNECTIONS_OPEN:
                total = (total or 0.0) + float(value)
    return total


@dataclass
class _Side:
    """One process tree: the CPU seconds last read per pid (kept after a process exits)."""

    root: int
    cpu: dict[int, float] = field(default_factory=dict)

    def read(self) -> tuple[int, float, int]:
        """RSS bytes, CPU seconds so far, processes: summed over the tree (zeros once it is gone)."""
        try:
            rootproc = psutil.Process(self.root)
            procs = [rootproc, *rootproc.children(recursive=True)]
        except psutil.Error:
            return 0, sum(self.cpu.values()), 0
        rss = count = 0
        for proc in procs:
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
            except psutil.Error:
                continue  # exited after being listed
            self.cpu[proc.pid] = times.user + times.system
            count += 1
        return rss, sum(self.cpu.values()), count


class LevelSampler:
    """Samples the load tree (root ``load_pid``) and the target tree (root ``target_pid``, None
    when the target is not ours) every ``interval`` s until :meth:`stop`; a context manager."""

    def __init__(self, load_pid: int, target_pid: int | None, host: str, interval: float = 1.0) -> None:
        self.host = host
        self.interval = interval
        self._load = _Side(load_pid)
        self._target = _Side(target_pid) if target_pid is not None else None
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"capacity sampler {load_pid}", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> LevelSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.sample())
            self._stop.wait(self.interval)

    def sample(self) -> Sample:
        load_rss, load_cpu, load_procs = self._load.read()
        target_rss, target_cpu, target_procs = self._target.read() if self._target else (None, None, 0)
        return Sample(t=time.monotonic() - self._started, load_rss=load_rss, load_cpu_s=load_cpu,
                      load_processes=load_procs, target_rss=target_rss, target_cpu_s=target_cpu,
                      target_processes=target_procs, connections_open=connections_open(self.host),
                      available_bytes=psutil.virtual_memory().available)

    @property
    def last(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10 * self.interval + 2 * SCRAPE_TIMEOUT_S)

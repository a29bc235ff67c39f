"""What a soak reads: a process tree's memory and open files (psutil), and the target's gauges.

Every wait takes an absolute ``time.monotonic()`` deadline computed once by the caller. A process
that exits between being listed and being read is skipped: a tree is a moving thing.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

import psutil
from prometheus_client.parser import text_string_to_metric_families

from loadgen.metrics_scrape import metrics_url
from loadgen.protocol import metrics as names
from loadgen.soak.judge import LoadPeak, TargetPeak

__all__ = ["Gauges", "PeakSampler", "TargetSampler", "TreeUsage", "parse_gauges", "read_gauges", "tree_usage",
           "wait_for"]

POLL_S = 0.25
SCRAPE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class TreeUsage:
    rss_bytes: int
    fds: int
    pids: tuple[int, ...]


def tree_usage(pid: int) -> TreeUsage:
    """RSS and open file descriptors summed over ``pid`` and all its descendants (psutil).

    Raises psutil.NoSuchProcess if ``pid`` itself is gone."""
    root = psutil.Process(pid)
    rss = fds = 0
    pids = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            with proc.oneshot():
                rss += proc.memory_info().rss
                fds += proc.num_fds()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            if proc is root:
                raise
            continue  # exited after being listed
        pids.append(proc.pid)
    return TreeUsage(rss, fds, tuple(sorted(pids)))


class PeakSampler:
    """Samples a process tree every ``interval`` seconds on a thread, keeping the highest figures,
    until :meth:`stop`. Use as a context manager around the run."""

    def __init__(self, pid: int, interval: float = 1.0) -> None:
        self.pid = pid
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sample {pid}", daemon=True)
        self.rss_bytes = self.fds = self.processes = self.samples = 0

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                usage = tree_usage(self.pid)
            except psutil.Error:
                return  # the tree's root is gone: the run is over
            self.rss_bytes = max(self.rss_bytes, usage.rss_bytes)
            self.fds = max(self.fds, usage.fds)
            self.processes = max(self.processes, len(usage.pids))
            self.samples += 1
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10 * self.interval + 5)

    def peak(self) -> LoadPeak:
        return LoadPeak(self.rss_bytes, self.fds, self.processes, self.samples)


class TargetSampler(PeakSampler):
    """A :class:`PeakSampler` of the target's tree that also scrapes its gauges on each sample,
    keeping the most connections and kept jobs seen (a failed scrape skips that sample's gauges)."""

    def __init__(self, pid: int, host: str, interval: float = 1.0) -> None:
        super().__init__(pid, interval)
        self.host = host
        self.connections: float | None = None
        self.kept: float | None = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                usage = tree_usage(self.pid)
            except psutil.Error:
                return
            self.rss_bytes = max(self.rss_bytes, usage.rss_bytes)
            self.fds = max(self.fds, usage.fds)
            self.samples += 1
            try:
                gauges = read_gauges(self.host, time.monotonic() + self.interval)
            except (OSError, ValueError):
                gauges = None  # busy or unreachable this second: the run's own poller judges that
            if gauges is not None:
                self.connections = _max(self.connections, gauges.connections_open)
                self.kept = _max(self.kept, gauges.jobs_kept)
            self._stop.wait(self.interval)

    def target_peak(self) -> TargetPeak:
        return TargetPeak(self.rss_bytes, self.fds, self.connections, self.kept, self.samples)


def _max(old: float | None, new: float | None) -> float | None:
    return new if old is None else old if new is None else max(old, new)


@dataclass(frozen=True, slots=True)
class Gauges:
    """The target's gauges (None: not exposed), summed over its workers."""

    connections_open: float | None
    jobs_running: float | None
    jobs_kept: float | None
    background_tasks: float | None
    unhandled_errors: float | None

    @property
    def exposed(self) -> bool:
        return None not in (self.connections_open, self.jobs_running, self.jobs_kept, self.background_tasks)


_WANTED = {
    names.CONNECTIONS_OPEN: "connections_open",
    names.JOBS_RUNNING: "jobs_running",
    names.JOBS_KEPT: "jobs_kept",
    names.BACKGROUND_TASKS: "background_tasks",
    names.UNHANDLED_ERRORS: "unhandled_errors",
}


def parse_gauges(text: str) -> Gauges:
    """The gauges in a Prometheus exposition text (samples of one name are summed)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (key := _WANTED.get(sample.name)) is not None:
                found[key] = found.get(key, 0.0) + sample.value
    return Gauges(**{key: found.get(key) for key in _WANTED.values()})


def read_gauges(host: str, deadline: float) -> Gauges:
    """Scrape ``/metrics`` once, by ``deadline``; raises OSError when unreachable."""
    timeout = max(0.1, min(SCRAPE_TIMEOUT_S, deadline - time.monotonic()))
    with urllib.request.urlopen(metrics_url(host), timeout=timeout) as resp:
        return parse_gauges(resp.read().decode())


def wait_for(host: str, done: Callable[[Gauges], bool], deadline: float) -> tuple[Gauges, bool]:
    """Scrape until ``done(gauges)`` is true or ``deadline`` passes; the last gauges and whether
    ``done`` held. A scrape that fails is retried until the deadline; if none succeeded, raises
    OSError."""
    last: Gauges | None = None
    error: OSError | None = None
    while True:
        try:
            last = read_gauges(host, deadline)
            if done(last):
                return last, True
        except (OSError, urllib.error.URLError) as exc:
            error = exc
        if time.monotonic() + POLL_S >= deadline:
            if last is None:
                raise OSError(f"{metrics_url(host)} unreachable: {error}")
            return last, False
        time.sleep(POLL_S)

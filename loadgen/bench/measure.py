"""What a process tree cost, from the kernel's own accounting, read through psutil (Linux).

- CPU: user + system time of every live process in the tree, plus that of the children each
  already reaped (``children_user + children_system``), in seconds. Sample before and after a
  window and subtract: :func:`cpu_seconds`.
- Memory: resident set size (now), and its peak, in KiB, summed over the tree. psutil has no peak
  RSS on Linux, so that one figure is ``VmHWM`` from ``/proc/PID/status``.
- Cores: :func:`pin` sets the CPU affinity of every thread of every process in a tree, so a
  generator and a server can each have a core of their own.

Nothing here starts or stops a process; :mod:`loadgen.bench.processes` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["CorePlan", "Usage", "core_plan", "cpu_seconds", "pin", "process_tree", "usage"]

PROC = Path("/proc")


def _tree(pid: int) -> list[psutil.Process]:
    """``pid`` and its live descendants, parents first; empty if ``pid`` is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants, parents first."""
    return [member.pid for member in _tree(pid)]


def _cpu(member: psutil.Process) -> float:
    try:
        times = member.cpu_times()
    except psutil.Error:  # ended between the listing and here
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid``'s tree, reaped children included."""
    return sum(_cpu(member) for member in _tree(pid))


def _rss_kib(member: psutil.Process) -> int:
    try:
        return int(member.memory_info().rss) // 1024
    except psutil.Error:  # ended meanwhile (a zombie has no memory either)
        return 0


def _peak_rss_kib(pid: int) -> int:
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])  # "VmHWM:	  12345 kB"
    return 0


@dataclass(frozen=True, slots=True)
class Usage:
    """One sample of a process tree: CPU seconds so far, resident and peak resident KiB."""

    cpu_s: float
    rss_kib: int
    peak_rss_kib: int


def usage(pid: int) -> Usage:
    """Sample ``pid``'s tree now."""
    tree = _tree(pid)
    return Usage(
        cpu_s=sum(_cpu(member) for member in tree),
        rss_kib=sum(_rss_kib(member) for member in tree),
        peak_rss_kib=sum(_peak_rss_kib(member.pid) for member in tree),
    )


def pin(pid: int, cpus: frozenset[int] | None) -> None:
    """Let every thread of ``pid``'s tree run only on ``cpus`` (None: leave it alone). Threads
    started later inherit the mask of the thread that starts them."""
    if cpus is None:
        return
    for member in _tree(pid):
        try:
            threads = member.threads()
        except psutil.Error:  # ended meanwhile
            continue
        for thread in threads:
            try:
                os.sched_setaffinity(thread.id, cpus)
            except (ProcessLookupError, PermissionError):  # ended meanwhile / not ours
                continue


@dataclass(frozen=True, slots=True)
class CorePlan:
    """Which cores the generator and the server may use (None: no pinning)."""

    generator: frozenset[int] | None
    server: frozenset[int] | None
    note: str


def core_plan(available: set[int] | None = None) -> CorePlan:
    """A core of its own for the generator and one for the server, when there are two or more;
    with one core both share it (and the note says so)."""
    cores = sorted(os.sched_getaffinity(0) if available is None else available)
    if len(cores) < 2:
        return CorePlan(None, None, f"one core ({cores[0] if cores else '?'}): generator and server share it")
    return CorePlan(
        frozenset({cores[0]}), frozenset({cores[1]}), f"generator on core {cores[0]}, server on core {cores[1]}"
    )

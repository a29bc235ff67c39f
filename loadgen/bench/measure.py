"""What a process tree cost, from the kernel's own accounting in ``/proc`` (Linux only).

- CPU: ``utime + stime`` of every live process in the tree, plus ``cutime + cstime`` (children it
  already reaped), from ``/proc/PID/stat``, in seconds. Sample before and after a window and
  subtract: :func:`cpu_seconds`.
- Memory: ``VmRSS`` (now) and ``VmHWM`` (the peak) from ``/proc/PID/status``, in KiB, summed over
  the tree.
- Cores: :func:`pin` sets the CPU affinity of every thread of every process in a tree, so a
  generator and a server can each have a core of their own.

Nothing here starts or stops a process; :mod:`loadgen.bench.processes` does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CorePlan", "Usage", "core_plan", "cpu_seconds", "pin", "process_tree", "usage"]

PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (children of every thread), parents first."""
    tree = [pid]
    i = 0
    while i < len(tree):
        for task in _tasks(tree[i]):
            try:
                text = (PROC / str(tree[i]) / "task" / task / "children").read_text()
            except OSError:  # the task ended meanwhile
                continue
            tree.extend(int(child) for child in text.split())
        i += 1
    return tree


def _tasks(pid: int) -> list[str]:
    try:
        return os.listdir(PROC / str(pid) / "task")
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid``'s tree, reaped children included."""
    total = 0
    for member in process_tree(pid):
        try:
            stat = (PROC / str(member) / "stat").read_text()
        except OSError:  # ended between the listing and here
            continue
        # The command name (field 2) may hold spaces: split after its closing parenthesis.
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17.
        total += sum(int(value) for value in fields[11:15])
    return total / _TICK


def _status_kib(pid: int, key: str) -> int:
    try:
        text = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key):
            return int(line.split()[1])  # "VmRSS:	  12345 kB"
    return 0


@dataclass(frozen=True, slots=True)
class Usage:
    """One sample of a process tree: CPU seconds so far, resident and peak resident KiB."""

    cpu_s: float
    rss_kib: int
    peak_rss_kib: int


def usage(pid: int) -> Usage:
    """Sample ``pid``'s tree now."""
    tree = process_tree(pid)
    return Usage(
        cpu_s=cpu_seconds(pid),
        rss_kib=sum(_status_kib(member, "VmRSS:") for member in tree),
        peak_rss_kib=sum(_status_kib(member, "VmHWM:") for member in tree),
    )


def pin(pid: int, cpus: frozenset[int] | None) -> None:
    """Let every thread of ``pid``'s tree run only on ``cpus`` (None: leave it alone). Threads
    started later inherit the mask of the thread that starts them."""
    if cpus is None:
        return
    for member in process_tree(pid):
        for task in _tasks(member):
            try:
                os.sched_setaffinity(int(task), cpus)
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

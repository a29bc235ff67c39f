"""This machine's limits for holding sessions, read once: fd limit, ephemeral ports, cores, memory."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path
from typing import Any, Final

import psutil

from loadgen.sessions_plan import MachineLimits

__all__ = ["PORT_RANGE_FILE", "describe", "read_limits"]

PORT_RANGE_FILE: Final = Path("/proc/sys/net/ipv4/ip_local_port_range")
LINUX_DEFAULT_PORTS: Final = (32768, 60999)


def _port_range(path: Path = PORT_RANGE_FILE) -> tuple[int, int]:
    try:
        low, high = (int(part) for part in path.read_text().split())
    except (OSError, ValueError):
        return LINUX_DEFAULT_PORTS  # not Linux, or unreadable: Linux's default range
    return low, high


def read_limits() -> MachineLimits:
    """The limits a child process of this one inherits: the soft ``RLIMIT_NOFILE`` (what
    ``ulimit -n`` shows), the ephemeral port range, the cores, the total memory."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = soft if soft != resource.RLIM_INFINITY else 1 << 20
    return MachineLimits(nofile=nofile, port_range=_port_range(), cores=os.cpu_count() or 1,
                         memory_bytes=psutil.virtual_memory().total)


def describe(limits: MachineLimits) -> dict[str, Any]:
    """The machine as the results file records it."""
    return {
        "cores": limits.cores,
        "cpu": _cpu_model(),
        "memory_gib": round((limits.memory_bytes or 0) / 2**30, 1),
        "nofile": limits.nofile,
        "port_range": list(limits.port_range),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: the machine field says what platform does
    return platform.processor() or platform.machine()

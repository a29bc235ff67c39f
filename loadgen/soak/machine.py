"""The machine a soak ran on, for its report: cores, CPU model, load, Python and package versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "cpu_model", "describe"]

PACKAGES = ("wsrace", "locust", "gevent", "websockets", "uvloop", "orjson", "prometheus-client", "psutil")


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name as ``lscpu`` shows it (``model name`` in /proc/cpuinfo)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    """What the report says about the machine; the load average shows how shared it was."""
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "load_average": list(os.getloadavg()),
    }

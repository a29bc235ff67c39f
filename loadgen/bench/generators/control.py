"""The generator side of the parent's handshake, and the flags every generator takes.

A generator is a subprocess that talks JSON lines on stdout and reads one word per line on stdin::

    generator -> {"phase": "ready"}          set up (imports done; round trips: connections open)
    parent    <- go                          (the parent samples CPU and memory first)
    generator -> {"phase": "done", ...}      the measured window is over; its counts and latencies
    parent    <- exit                        (the parent samples again first)

On a failure it prints ``{"phase": "error", "message": ...}`` and exits non-zero. The parent
measures the window from outside (``/proc``), so what a generator costs between ``go`` and
``done`` is exactly what the table shows; imports and teardown are not in it.

Waiting for a word is the only blocking read, and each event loop does it its own way (gevent: a
cooperative wait on the fd; asyncio: ``add_reader``), so this module only parses.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Args", "LineBuffer", "check_ready", "identity_headers", "parse_args", "percentile", "raise_fd_limit", "say"]

STDIN = 0
WORKLOAD_NAMES = ("roundtrip", "storm", "idle", "idle-bare", "idle-target")


@dataclass(frozen=True, slots=True)
class Args:
    workload: str
    url: str
    connections: int
    duration: float
    headers: dict[str, str]
    timeout: float
    """Bound on any one wait (a connect, a reply); the idle hold is bounded by the parent's exit."""
    secret: str | None = None
    """Idle workloads: the server's HS256 secret. Each connection then carries a token of its own
    (``Authorization: Bearer``, user ``bench-<n>``) and reads ``ready`` before it holds."""


def parse_args(argv: Sequence[str] | None, prog: str) -> Args:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--workload", required=True, choices=WORKLOAD_NAMES)
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--secret", help="idle: authenticate each connection with a token of its own")
    ns = parser.parse_args(argv)
    headers = dict(item.split(":", 1) for item in ns.header)
    return Args(ns.workload, ns.url, ns.connections, ns.duration, headers, ns.timeout, ns.secret)


def say(phase: str, **data: Any) -> None:
    """One line to the parent (a blocking write of a few bytes to a pipe it reads)."""
    os.write(sys.stdout.fileno(), (json.dumps({"phase": phase, **data}) + "\n").encode())


class LineBuffer:
    """Bytes from stdin in, whole lines out."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[str]:
        if not data:
            raise EOFError("the parent closed our stdin")
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line.decode().strip() for line in lines]


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return float(sorted_values[rank - 1])


def raise_fd_limit() -> None:
    """Allow as many open files as the hard limit: an idle workload holds one per connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def identity_headers(secret: str, n: int) -> dict[str, str]:
    """The handshake headers of connection ``n`` of an authenticated idle workload: a token of its
    own for user ``bench-<n>``, as each wsrace user has its own identity."""
    from loadgen.protocol.tokens import mint  # only the idle workloads need jwt

    return {"Authorization": f"Bearer {mint(secret, f'bench-{n}', 6 * 3600.0)}"}


def check_ready(message: dict[str, object], n: int) -> None:
    """The first message of an authenticated connection: ``ready`` for our user."""
    if message.get("type") != "ready" or message.get("user") != f"bench-{n}":
        raise ValueError(f"connection {n}: expected ready for bench-{n} first, got {message!r}")

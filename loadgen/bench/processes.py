"""The benchmark's subprocesses: a server and a generator, each started, pinned, and always stopped.

Each child is a :class:`loadgen.children.Child`: its own process group (session), dying with this
process, and leaving its ``with`` block kills that group, whatever happened (an error, a timeout,
Ctrl-C). Waits are bounded: a child that does not say the expected thing in time is a
:class:`ChildFailed` quoting the tail of its stderr.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from loadgen.bench import measure
from loadgen.bench.generators import MODULES
from loadgen.children import Child, ChildFailed
from loadgen.protocol.wire import WS_PATH

__all__ = ["ChildFailed", "Generator", "Server", "generator", "server"]

STOP_TIMEOUT_S = 10.0
SERVER_START_TIMEOUT_S = 30.0


@dataclass
class Server:
    child: Child
    port: int
    path: str

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def count(self, timeout: float = 10.0) -> tuple[int, int]:
        """The echo server's messages echoed and handshakes completed so far."""
        self.child.write_line("count")
        line = self.child.read_json_line(time.monotonic() + timeout)
        if line.get("event") != "count":
            raise self.child.fail(f"said {line!r} where its counts were expected")
        return int(line["messages"]), int(line["connections"])


@contextlib.contextmanager
def server(kind: str, cpus: frozenset[int] | None, secret: str | None = None) -> Iterator[Server]:
    """A fresh ``echo`` server (:mod:`loadgen.bench.echo_server`; with ``secret``, authenticating
    each connection) or the ``target`` app (one worker, tokens signed with ``secret``), on
    127.0.0.1, a port the OS chose, pinned to ``cpus``. The echo server's stdin is a pipe:
    :meth:`Server.count` asks it for its counts."""
    if kind == "echo":
        cmd = [sys.executable, "-m", "loadgen.bench.echo_server", "--port", "0"]
        if secret:
            cmd += ["--secret", secret]
    elif kind == "target":
        cmd = [sys.executable, "-m", "target_app", "--host", "127.0.0.1", "--port", "0", "--workers", "1",
               "--log-level", "warning", "--secret", secret or "bench"]
    else:
        raise ValueError(f"unknown server kind {kind!r}")
    with Child.start(cmd, name=f"{kind} server", stdin=kind == "echo") as child:
        line = child.read_listening(time.monotonic() + SERVER_START_TIMEOUT_S)
        measure.pin(child.pid, cpus)
        yield Server(child, int(line["port"]), WS_PATH if kind == "target" else "/")
        child.stop(grace=STOP_TIMEOUT_S)


class Generator:
    """One generator subprocess, driven through the handshake of :mod:`.generators.control`."""

    def __init__(self, child: Child) -> None:
        self.child = child

    @property
    def pid(self) -> int:
        return self.child.pid

    def expect(self, phase: str, timeout: float) -> dict[str, Any]:
        line = self.child.read_json_line(time.monotonic() + timeout)
        if line.get("phase") == "error":
            raise self.child.fail(f"failed: {line.get('message')}")
        if line.get("phase") != phase:
            raise self.child.fail(f"said {line!r} where {phase!r} was expected")
        return line

    def send(self, word: str) -> None:
        self.child.write_line(word)

    def finish(self) -> None:
        """Say exit and wait for a clean exit (bounded); the caller's ``with`` kills it anyway."""
        self.send("exit")
        self.child.wait(time.monotonic() + STOP_TIMEOUT_S)


@contextlib.contextmanager
def generator(
    name: str,
    workload: str,
    url: str,
    connections: int,
    duration: float,
    cpus: frozenset[int] | None,
    secret: str | None = None,
    timeout: float = 30.0,
) -> Iterator[Generator]:
    """Generator ``name`` on ``workload``; with ``secret``, each of its connections authenticates
    with a token of its own signed with it."""
    cmd = [sys.executable, "-m", MODULES[name], "--workload", workload, "--url", url,
           "--connections", str(connections), "--duration", str(duration), "--timeout", str(timeout)]
    if secret:
        cmd += ["--secret", secret]
    with Child.start(cmd, name=f"{name} generator", env={"PYTHONUNBUFFERED": "1"}, stdin=True) as child:
        measure.pin(child.pid, cpus)  # early: threads it starts later inherit the mask
        yield Generator(child)
        child.stop(grace=STOP_TIMEOUT_S)

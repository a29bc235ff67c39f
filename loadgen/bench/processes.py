"""The benchmark's subprocesses: a server and a generator, each started, pinned, and always stopped.

Each child runs in its own process group (session), and leaving its ``with`` block kills that
group, whatever happened (an error, a timeout, Ctrl-C). Waits are bounded: a child that does not
say the expected thing in time is a :class:`ChildFailed` quoting the tail of its stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.bench import measure
from loadgen.bench.generators import MODULES
from loadgen.protocol.wire import WS_PATH

__all__ = ["ChildFailed", "Generator", "Server", "generator", "server"]

STOP_TIMEOUT_S = 10.0
SERVER_START_TIMEOUT_S = 30.0


class ChildFailed(RuntimeError):
    """A server or generator died, said something unexpected, or was too slow; the message says
    which, with the tail of its log."""


class _Child:
    def __init__(self, name: str, cmd: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        with tempfile.NamedTemporaryFile(prefix=f"wsrace-bench-{name}-", suffix=".log", delete=False) as log:
            self.log_path = Path(log.name)
            self.proc = subprocess.Popen(
                list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                env={**os.environ, **(env or {})}, start_new_session=True,
            )
        self._buffer = b""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, what: str) -> ChildFailed:
        tail = self.tail()
        return ChildFailed(f"{self.name}: {what}" + (f"\n--- its log (tail) ---\n{tail}" if tail else ""))

    def read_line(self, timeout: float) -> dict[str, Any]:
        """The next JSON line on the child's stdout, within ``timeout`` seconds."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.fail(f"said nothing within {timeout:.0f} s")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise self.fail(f"exited (code {self.proc.wait(STOP_TIMEOUT_S)}) before saying its line")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return dict(json.loads(line))
        except ValueError:
            raise self.fail(f"said {line[:200]!r}, not a JSON line") from None

    def write(self, word: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(word.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise self.fail(f"exited (code {self.proc.poll()}) before {word!r}") from None

    def stop(self) -> None:
        """SIGTERM the group, wait, SIGKILL if needed; close the pipes and remove the log."""
        for signum in (signal.SIGTERM, signal.SIGKILL):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_TIMEOUT_S)
        # The leader may be gone while others of its group live on: make sure.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self.log_path.unlink(missing_ok=True)


@dataclass
class Server:
    child: _Child
    port: int
    path: str

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"


@contextlib.contextmanager
def server(kind: str, cpus: frozenset[int] | None, secret: str = "") -> Iterator[Server]:
    """A fresh ``echo`` server (:mod:`loadgen.bench.echo_server`) or the ``target`` app (one
    worker, token ``secret``), on 127.0.0.1, a port the OS chose, pinned to ``cpus``."""
    if kind == "echo":
        cmd = [sys.executable, "-m", "loadgen.bench.echo_server", "--port", "0"]
    elif kind == "target":
        cmd = [sys.executable, "-m", "target_app", "--host", "127.0.0.1", "--port", "0", "--workers", "1",
               "--log-level", "warning", "--secret", secret or "bench"]
    else:
        raise ValueError(f"unknown server kind {kind!r}")
    child = _Child(f"{kind} server", cmd)
    try:
        line = child.read_line(SERVER_START_TIMEOUT_S)
        if line.get("event") != "listening":
            raise child.fail(f"first line {line!r} is not the listening line")
        measure.pin(child.pid, cpus)
        yield Server(child, int(line["port"]), WS_PATH if kind == "target" else "/")
    finally:
        child.stop()


class Generator:
    """One generator subprocess, driven through the handshake of :mod:`.generators.control`."""

    def __init__(self, child: _Child) -> None:
        self.child = child

    @property
    def pid(self) -> int:
        return self.child.pid

    def expect(self, phase: str, timeout: float) -> dict[str, Any]:
        line = self.child.read_line(timeout)
        if line.get("phase") == "error":
            raise self.child.fail(f"failed: {line.get('message')}")
        if line.get("phase") != phase:
            raise self.child.fail(f"said {line!r} where {phase!r} was expected")
        return line

    def send(self, word: str) -> None:
        self.child.write(word)

    def finish(self) -> None:
        """Say exit and wait for a clean exit (bounded); the caller's ``with`` kills it anyway."""
        self.send("exit")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.proc.wait(STOP_TIMEOUT_S)


@contextlib.contextmanager
def generator(
    name: str,
    workload: str,
    url: str,
    connections: int,
    duration: float,
    cpus: frozenset[int] | None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Iterator[Generator]:
    cmd = [sys.executable, "-m", MODULES[name], "--workload", workload, "--url", url,
           "--connections", str(connections), "--duration", str(duration), "--timeout", str(timeout)]
    for key, value in (headers or {}).items():
        cmd += ["--header", f"{key}:{value}"]
    child = _Child(f"{name} generator", cmd, env={"PYTHONUNBUFFERED": "1"})
    try:
        measure.pin(child.pid, cpus)  # early: threads it starts later inherit the mask
        yield Generator(child)
    finally:
        child.stop()

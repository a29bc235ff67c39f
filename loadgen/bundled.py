"""Start and stop the bundled target app for a run that was given no ``--host``.

The target always runs in its own process (``python -m target_app``), never inside the gevent
process of Locust: asyncio/uvloop and a monkey-patched interpreter do not mix. It binds port 0, and
we read the chosen port from its one machine-readable ``{"event": "listening", ...}`` line, then
wait for ``/healthz``. Stopping it is part of the verdict: a target that does not exit cleanly within
its shutdown timeout fails the run (that is how the ``stuck-shutdown`` fault is caught).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BundledTarget", "StartFailed", "StopOutcome", "default_workers", "read_listening"]

log = logging.getLogger(__name__)

LISTENING_PREFIX = '{"event": "listening"'
STOP_GRACE_S = 5.0
"""Extra time given to the target's own supervisor beyond its shutdown timeout: it escalates
(kills a stuck worker) at the timeout and needs a moment to report and exit."""


class StartFailed(Exception):
    """The bundled target did not come up; the message says why, with its log's tail."""


@dataclass(frozen=True, slots=True)
class StopOutcome:
    returncode: int | None
    clean: bool
    reason: str
    seconds: float


def default_workers() -> int:
    """Target worker processes for this machine: half the cores, at least 1 (the load needs the rest)."""
    return max(1, (os.cpu_count() or 2) // 2)


def read_listening(proc: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    """The target's one machine-readable ``{"event": "listening", ...}`` line, read by ``deadline``.

    Reads the raw pipe (no buffered readline that could block on half a line) and raises
    :class:`StartFailed` if the process ends first or prints something else.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffered = b""
    while b"\n" not in buffered:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StartFailed("no listening line in time")
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            raise StartFailed(f"exited (code {proc.wait(5)}) before listening")
        buffered += chunk
    line = buffered.split(b"\n", 1)[0].decode(errors="replace")
    if not line.startswith(LISTENING_PREFIX):
        raise StartFailed(f"unexpected first line on stdout: {line!r}")
    return dict(json.loads(line))


def _die_with_parent() -> None:
    # Linux: the target gets SIGTERM if the Locust process that started it dies without stopping it.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class BundledTarget:
    def __init__(
        self,
        *,
        workers: int,
        faults: Sequence[str] = (),
        secret: str | None = None,
        shutdown_timeout: float = 5.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.workers = workers
        self.faults = tuple(faults)
        self.secret = secret
        self.shutdown_timeout = shutdown_timeout
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="wsrace-target-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = self._log.name

    @property
    def host(self) -> str:
        if self.port is None:
            raise RuntimeError("bundled target not started")
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "target_app", "--host", "127.0.0.1", "--port", "0"]
        cmd += ["--workers", str(self.workers), "--shutdown-timeout", f"{self.shutdown_timeout:g}"]
        for fault in self.faults:
            cmd += ["--fault", fault]
        return cmd + list(self.extra_args)

    def start(self, timeout: float = 30.0) -> str:
        """Start the target, wait until it serves ``/healthz``; return its base URL."""
        env = dict(os.environ)
        if self.secret:
            env["WSRACE_SECRET"] = self.secret
        self.proc = subprocess.Popen(
            self.command(),
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: we stop it in order, and can kill the tree
            preexec_fn=_die_with_parent,  # only a prctl call: no locks taken in the child
        )
        deadline = time.monotonic() + timeout
        try:
            self.port = self._read_port(deadline)
            self._wait_healthy(deadline)
        except StartFailed:
            self.kill()
            raise
        log.info("bundled target listening on %s (%d workers, faults: %s)", self.host, self.workers,
                 ", ".join(self.faults) or "none")
        return self.host

    def _read_port(self, deadline: float) -> int:
        assert self.proc is not None
        try:
            return int(read_listening(self.proc, deadline)["port"])
        except StartFailed as exc:
            raise StartFailed(f"bundled target: {exc}{self._log_tail()}") from None

    def _wait_healthy(self, deadline: float) -> None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2.0) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass  # not up yet: retry until the deadline
            time.sleep(0.05)
        raise StartFailed(f"bundled target never answered {url}{self._log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> StopOutcome:
        """SIGTERM, then wait for the target's own deadline; kill the tree if it is passed."""
        if self.proc is None:
            return StopOutcome(None, True, "not started", 0.0)
        started = time.monotonic()
        if self.proc.poll() is not None:
            code = self.proc.returncode
            return StopOutcome(code, False, f"bundled target had already exited (code {code}){self._log_tail()}", 0.0)
        self.proc.send_signal(signal.SIGTERM)
        limit = self.shutdown_timeout + STOP_GRACE_S
        try:
            code = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.kill()
            took = time.monotonic() - started
            return StopOutcome(None, False, f"bundled target did not exit within {limit:g} s of SIGTERM; killed", took)
        took = time.monotonic() - started
        if code != 0:
            reason = f"bundled target exited with code {code} after SIGTERM{self._log_tail()}"
            return StopOutcome(code, False, reason, took)
        self._remove_log()  # nothing to look at after a clean run; a failing one keeps its log, named above
        return StopOutcome(0, True, f"bundled target stopped cleanly in {took:.2f} s", took)

    def _remove_log(self) -> None:
        self._log.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.log_path)

    def kill(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def _log_tail(self, lines: int = 12) -> str:
        try:
            with open(self.log_path, "rb") as fh:
                tail = fh.read()[-4000:].decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return ("\n  target log (" + self.log_path + "):\n    " + "\n    ".join(tail)) if tail else ""

"""Start and stop the bundled target app for a run that was given no ``--host``.

The target always runs in its own process (``python -m target_app``), never inside the gevent
process of Locust: asyncio/uvloop and a monkey-patched interpreter do not mix. It binds port 0, and
we read the chosen port from its one machine-readable ``{"event": "listening", ...}`` line, then
wait for ``/healthz``. Stopping it is part of the verdict: a target that does not exit cleanly within
its shutdown timeout fails the run (that is how the ``stuck-shutdown`` fault is caught).

After the listening line its supervisor says, one JSON line each, when a worker died and when it was
restarted (``worker_exit`` / ``worker_restarted``, see :mod:`target_app.supervisor`);
:meth:`BundledTarget.read_events` hands them over without ever waiting.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadgen.children import Child, ChildFailed

if TYPE_CHECKING:
    import subprocess

__all__ = ["WORKER_EVENTS", "BundledTarget", "StartFailed", "StopOutcome", "default_workers"]

log = logging.getLogger(__name__)

EXIT_BAD_INPUT = 2
"""The target's exit code for flags it refuses (e.g. an incompatible ``--fault`` combination), with
a one-line message on stderr."""
WORKER_EVENTS = frozenset({"worker_exit", "worker_restarted"})
"""The supervisor's event lines about its workers, after the listening line."""
STOP_GRACE_S = 5.0
"""Extra time given to the target's own supervisor beyond its shutdown timeout: it escalates
(kills a stuck worker) at the timeout and needs a moment to report and exit."""


SHUTDOWN_TIMEOUT_S = 5.0
"""The target's own default: every connection closed with 1001 and the worker gone within it."""
SESSIONS_PER_SHUTDOWN_S = 2000
"""Past this many sessions, the target gets a second more per this many to close them all."""


def shutdown_timeout_for(sessions: int) -> float:
    """The shutdown timeout the bundled target gets for a run of at most ``sessions`` users.

    Closing costs CPU per connection (a close frame each, then the handshake or the drop): tens of
    thousands of sessions on a 2-core machine, beside the load side stopping its own, take longer
    than 5 s, and a correct target would fail ``target_shutdown`` for that alone. A stuck worker is
    still caught: it never exits, at any timeout.
    """
    if sessions <= SESSIONS_PER_SHUTDOWN_S:
        return SHUTDOWN_TIMEOUT_S
    return SHUTDOWN_TIMEOUT_S + sessions / SESSIONS_PER_SHUTDOWN_S


class StartFailed(Exception):
    """The bundled target did not come up; the message says why.

    ``bad_input``: the target refused its flags (it exited with code 2 while starting); the
    message is then the target's own, without a log tail. Otherwise the message quotes the log's tail.
    """

    def __init__(self, message: str, *, bad_input: bool = False) -> None:
        super().__init__(message)
        self.bad_input = bad_input


def _refusal(log_tail: str) -> str:
    """The target's own reason for refusing its flags: argparse's last line, without its
    ``usage:`` block or its ``prog: error:`` prefix (wsrace names the flag itself)."""
    lines = [line for line in log_tail.strip().splitlines() if line.strip()]
    if not lines:
        return "the target refused its flags (exit 2)"
    return lines[-1].split(": error: ", 1)[-1]


@dataclass(frozen=True, slots=True)
class StopOutcome:
    returncode: int | None
    clean: bool
    reason: str
    seconds: float


DEFAULT_WORKERS = 1
"""Worker processes of the bundled target unless ``--target-workers`` says otherwise.

One, whatever the machine: the bundled target keeps jobs per worker process, so with several
workers a user's second connection that lands on another worker gets ``not_found`` for its own job
- which PROTOCOL.md 1.1 forbids, and which the ``pressure`` scenario (two connections of one user
subscribing to the same jobs) rightly fails. Without a broker to share jobs through, more workers
would turn a correct run into a false alarm on any machine with more than three cores. With
``--target-broker`` (a running redis-server) the target shares its jobs across workers, and
``--target-workers N`` runs every scenario correctly."""


def default_workers() -> int:
    """Target worker processes of the bundled target by default (see :data:`DEFAULT_WORKERS`)."""
    return DEFAULT_WORKERS


class BundledTarget:
    def __init__(
        self,
        *,
        workers: int,
        faults: Sequence[str] = (),
        secret: str | None = None,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT_S,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.workers = workers
        self.faults = tuple(faults)
        self.secret = secret
        self.shutdown_timeout = shutdown_timeout
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.child: Child | None = None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The supervisor's process (its ``returncode`` is set once :meth:`alive` saw it exit)."""
        return None if self.child is None else self.child.proc

    @property
    def log_path(self) -> str | None:
        return None if self.child is None else str(self.child.log_path)

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
        """Start the target, wait until it serves ``/healthz``; return its base URL.

        One deadline, ``timeout`` seconds from now, covers the listening line and ``/healthz``.
        """
        env = {"WSRACE_SECRET": self.secret} if self.secret else None
        # Its own process group (we stop it in order and can kill the tree); it gets SIGTERM if the
        # Locust process that started it dies without stopping it; its log is kept for a failed run.
        self.child = Child.start(self.command(), name="bundled target", env=env, keep_log=True)
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
        assert self.child is not None
        try:
            return int(self.child.read_listening(deadline)["port"])
        except ChildFailed as exc:
            if exc.returncode == EXIT_BAD_INPUT:
                self._remove_log()  # its whole content is the message
                raise StartFailed(_refusal(exc.tail), bad_input=True) from None
            raise StartFailed(f"{exc.name}: {exc.what}{self._log_tail()}") from None

    def _wait_healthy(self, deadline: float) -> None:
        url = f"http://127.0.0.1:{self.port}/healthz"
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                with urllib.request.urlopen(url, timeout=min(2.0, remaining)) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass  # not up yet: retry until the deadline
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        raise StartFailed(f"bundled target never answered {url}{self._log_tail()}")

    def read_events(self) -> list[dict[str, Any]]:
        """The worker events the supervisor printed since the last call, without waiting; other
        lines (none are expected) are logged and skipped."""
        if self.child is None:
            return []
        events = []
        for line in self.child.read_available_lines():
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and event.get("event") in WORKER_EVENTS:
                events.append(event)
            elif line.strip():
                log.warning("bundled target said %r on stdout: not a worker event, skipped", line[:200])
        return events

    def alive(self) -> bool:
        """Whether the target still runs; once it has exited, it is reaped (``proc.returncode``)."""
        return self.child is not None and self.child.poll() is None

    def stop(self) -> StopOutcome:
        """SIGTERM, then wait for the target's own deadline; kill the tree if it is passed."""
        if self.child is None:
            return StopOutcome(None, True, "not started", 0.0)
        started = time.monotonic()
        if not self.child.alive():
            code = self.child.wait(started)
            return StopOutcome(code, False, f"bundled target had already exited (code {code}){self._log_tail()}", 0.0)
        limit = self.shutdown_timeout + STOP_GRACE_S
        code = self.child.stop(grace=limit)
        took = time.monotonic() - started
        if code is None:
            return StopOutcome(None, False, f"bundled target did not exit within {limit:g} s of SIGTERM; killed", took)
        if code != 0:
            reason = f"bundled target exited with code {code} after SIGTERM{self._log_tail()}"
            return StopOutcome(code, False, reason, took)
        self._remove_log()  # nothing to look at after a clean run; a failing one keeps its log, named above
        return StopOutcome(0, True, f"bundled target stopped cleanly in {took:.2f} s", took)

    def _remove_log(self) -> None:
        if self.child is not None:
            self.child.keep_log = False
            self.child.close()

    def kill(self) -> None:
        """SIGKILL the target's whole process group now (supervisor and workers) and reap it."""
        if self.child is not None:
            self.child.close()  # its log stays unless the run was clean: a failed start names it

    def _log_tail(self, lines: int = 12) -> str:
        if self.child is None:
            return ""
        tail = self.child.tail(lines)
        if not tail:
            return ""
        return "\n  target log (" + str(self.child.log_path) + "):\n    " + "\n    ".join(tail.splitlines())

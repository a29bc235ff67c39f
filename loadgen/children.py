"""Child processes that are started, heard from, and stopped without ever outliving their parent.

One helper for every process wsrace starts: the bundled target (:mod:`loadgen.bundled`), the
benchmark's servers and generators (:mod:`loadgen.bench.processes`) and the test suite's runs::

    with Child.start([sys.executable, "-m", "target_app", "--port", "0"], name="target") as child:
        port = child.read_listening(time.monotonic() + 30)["port"]
        ...
        code = child.stop(grace=10)            # SIGTERM, wait; SIGKILL the group if needed

What it promises:

- **Own process group**: the child leads a new session, so :meth:`Child.kill` reaches it and every
  process it started (a supervisor's workers, Locust's worker processes) with one ``killpg``.
- **It dies with its parent**: ``PR_SET_PDEATHSIG`` (Linux) sends it ``death_signal`` when the thread
  that started it dies, however it dies (SIGKILL included); a child whose parent died before the
  ``prctl`` took effect exits at once. The child handles the signal (the target's supervisor stops
  its workers on SIGTERM).
- **Waits end at a deadline that never restarts**: reads and waits take an absolute
  ``time.monotonic()`` deadline, computed once by the caller; a child that trickles bytes without
  a newline does not extend it.
- **A log tail for error messages**: stderr (or all output, ``output="log"``) goes to a file;
  :class:`ChildFailed` quotes its last lines.
- **Always reaped**: stopping waits for the exit with a pidfd (the leader stays a zombie, so its
  group id cannot be reused), SIGKILLs whatever is left of the group, then reaps.

Linux only, like the rest of wsrace's process handling.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

__all__ = ["LISTENING_EVENT", "Child", "ChildFailed"]

LISTENING_EVENT = "listening"
"""The ``event`` of the one machine-readable line a server child prints once it accepts
connections, e.g. ``{"event": "listening", "host": "127.0.0.1", "port": 43125, ...}``."""
REAP_TIMEOUT_S = 10.0
"""How long a SIGKILLed group may take to be reaped (the kernel, not the child, decides)."""
TAIL_LINES = 15
_PR_SET_PDEATHSIG = 1


class ChildFailed(RuntimeError):
    """A child died, said something unexpected, or was too slow. The message names the child and
    what happened, then quotes the tail of its log; the parts are kept as attributes."""

    def __init__(self, name: str, what: str, *, returncode: int | None = None, tail: str = "") -> None:
        self.name = name
        self.what = what
        self.returncode = returncode
        """The child's exit code when it had exited, else None."""
        self.tail = tail
        super().__init__(f"{name}: {what}" + (f"\n--- its log (tail) ---\n{tail}" if tail else ""))


def _die_with_parent(signum: int, parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec: only a prctl, no locks taken
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)
        if os.getppid() != parent:  # the parent died before the prctl took effect
            os._exit(1)

    return preexec


class Child:
    """One started child process. Use :meth:`start`; leave the ``with`` block (or call
    :meth:`close`) to kill whatever is left of its group and remove its log."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], log_path: Path, keep_log: bool) -> None:
        self.name = name
        self.proc = proc
        self.log_path = log_path
        self.keep_log = keep_log
        self._buffer = b""
        try:
            self._pidfd: int | None = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # no pidfd (old kernel): waits poll the zombie instead
            self._pidfd = None

    @classmethod
    def start(
        cls,
        cmd: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        output: Literal["pipe", "log"] = "pipe",
        stdin: bool = False,
        death_signal: int = signal.SIGTERM,
        keep_log: bool = False,
    ) -> Child:
        """Start ``cmd`` in a new session with ``env`` added to this process's environment.

        ``output="pipe"``: stdout is a pipe (for :meth:`read_line`), stderr goes to the log file;
        ``"log"``: both go to the log file. ``stdin=True`` gives it a pipe for :meth:`write_line`,
        else ``/dev/null``. ``keep_log``: :meth:`close` leaves the log file in place.
        """
        with tempfile.NamedTemporaryFile(prefix=f"wsrace-{name.replace(' ', '-')}-", suffix=".log",
                                         delete=False) as log:
            log_path = Path(log.name)
            try:
                proc = subprocess.Popen(
                    list(cmd),
                    stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                    stdout=subprocess.PIPE if output == "pipe" else log,
                    stderr=log,
                    cwd=cwd,
                    env={**os.environ, **(env or {})},
                    start_new_session=True,
                    preexec_fn=_die_with_parent(death_signal, os.getpid()),
                )
            except BaseException:  # nothing started (no such program, a bad cwd): no log to keep
                log_path.unlink(missing_ok=True)
                raise
        return cls(name, proc, log_path, keep_log)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    # ------------------------------------------------------------------ its log

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = TAIL_LINES) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def fail(self, what: str) -> ChildFailed:
        """A :class:`ChildFailed` saying ``what``, with the child's exit code if it has exited
        (without waiting) and its log's tail."""
        return ChildFailed(self.name, what, returncode=self.proc.poll(), tail=self.tail())

    # ------------------------------------------------------------------ talking to it

    def read_line(self, deadline: float) -> str:
        """The next line on the child's stdout, read by ``deadline`` (``time.monotonic()``).

        Reads the raw pipe: no buffered readline that could block on half a line. Raises
        :class:`ChildFailed` when the deadline passes or the child closes its stdout first.
        """
        assert self.proc.stdout is not None, "started with output='log': nothing to read"
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = f" (got {self._buffer[:200]!r} without a newline)" if self._buffer else ""
                raise self.fail(f"said nothing by its deadline{got}")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue  # select woke early: the loop recomputes what is left of the same deadline
            chunk = os.read(fd, 65536)
            if not chunk:
                code = self.wait(min(deadline, time.monotonic() + REAP_TIMEOUT_S))
                raise ChildFailed(self.name, f"exited (code {code}) before saying its line",
                                  returncode=code, tail=self.tail())
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace")

    def read_json_line(self, deadline: float) -> dict[str, Any]:
        """The next stdout line as a JSON object, by ``deadline``."""
        line = self.read_line(deadline)
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise self.fail(f"said {line[:200]!r}, not a JSON object line")
        return value

    def read_listening(self, deadline: float) -> dict[str, Any]:
        """The server's ``{"event": "listening", ..., "port": N}`` line, by ``deadline``; it must be
        the first thing the child says on stdout."""
        line = self.read_json_line(deadline)
        if line.get("event") != LISTENING_EVENT or not isinstance(line.get("port"), int):
            raise self.fail(f"first line {line!r} is not a listening line with a port")
        return line

    def read_available_lines(self) -> list[str]:
        """The complete stdout lines the child has written so far, without waiting (a line cut
        short stays buffered for the next call); ``[]`` once stdout is closed and drained."""
        stdout = self.proc.stdout
        if stdout is None or stdout.closed:
            return []
        fd = stdout.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line.decode(errors="replace") for line in lines]

    def write_line(self, text: str) -> None:
        """Send one line on the child's stdin (started with ``stdin=True``)."""
        assert self.proc.stdin is not None, "started without stdin=True"
        try:
            self.proc.stdin.write(text.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise self.fail(f"exited (code {self.proc.poll()}) before {text!r}") from None

    # ------------------------------------------------------------------ its end

    def alive(self) -> bool:
        """True while the leader runs (a zombie it left is not alive); never reaps."""
        if self.proc.returncode is not None:
            return False
        return not self._exited_by(time.monotonic())

    def poll(self) -> int | None:
        """The exit code if the leader has exited (then it is reaped, its group killed), else None."""
        return self.wait(time.monotonic())

    def wait(self, deadline: float) -> int | None:
        """The leader's exit code once it exits, by ``deadline``; None if it still runs then.

        Once it has exited, whatever is left of its group is SIGKILLed before the leader is reaped.
        """
        if self.proc.returncode is not None:
            return self.proc.returncode
        if not self._exited_by(deadline):
            return None
        self._kill_group()  # the zombie leader still holds the group id: no other group can have it
        return self.proc.wait(REAP_TIMEOUT_S)

    def stop(self, grace: float, signum: int = signal.SIGTERM) -> int | None:
        """Send ``signum`` to the leader, wait up to ``grace`` seconds for it to exit, then SIGKILL
        the whole group. Returns the exit code, or None if it had to be killed. Always reaps."""
        if self.proc.returncode is None and self.alive():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signum)
        code = self.wait(time.monotonic() + grace)
        if code is None:
            self.kill()
        return code

    def kill(self) -> None:
        """SIGKILL the whole group now and reap the leader."""
        self._kill_group()
        if self.proc.returncode is None:
            self.proc.wait(REAP_TIMEOUT_S)
        self._close_pidfd()

    def close(self) -> None:
        """Kill whatever is left of the group, close the pipes, remove the log (unless kept)."""
        self.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        if not self.keep_log:
            self.log_path.unlink(missing_ok=True)

    def _kill_group(self) -> None:
        # ProcessLookupError: the group is empty already. PermissionError: macOS-style EPERM for a
        # group whose only member is a zombie.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def _exited_by(self, deadline: float) -> bool:
        """Whether the leader has exited by ``deadline``, without reaping it."""
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            if self._pidfd is not None:
                readable, _, _ = select.select([self._pidfd], [], [], remaining)
                if readable:
                    return True
            else:
                try:
                    info = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                except ChildProcessError:  # reaped already (gevent's SIGCHLD handler reaps for Popen)
                    return True
                if info is not None:
                    return True
                time.sleep(min(0.01, remaining))
            if time.monotonic() >= deadline:
                return False

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

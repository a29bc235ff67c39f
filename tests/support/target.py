"""Start the bundled target app as a real subprocess on port 0, for any test suite.

    with running_target("--fault", "lost-snapshot", workers=2) as target:
        connect(target.url + "/ws", ...)          # ws://127.0.0.1:PORT
        urlopen(target.http_url + "/metrics")     # http://127.0.0.1:PORT
        assert target.stop(timeout=10) == 0       # SIGTERM, wait; optional

The app runs in its own process group (session); leaving the ``with`` block always kills that whole
group (supervisor and workers), even when the test failed or :meth:`Target.stop` was never called.
Its stderr goes to a file, readable with :meth:`Target.logs` (startup failures quote its tail).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen import bundled
from loadgen.bundled import read_listening
from loadgen.protocol.tokens import DEV_SECRET, SECRET_ENV

__all__ = ["StartFailed", "Target", "running_target"]


class StartFailed(AssertionError):
    """The target did not print its listening line in time; the message has its log's tail."""


@dataclass
class Target:
    proc: subprocess.Popen[bytes]
    port: int
    listening: dict[str, Any]
    """The parsed listening line: event, host, port, workers, pid."""
    secret: str
    """The token secret the app uses (mint tokens with loadgen.protocol.tokens.mint)."""
    log_path: Path

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT`` (the WebSocket itself is at ``url + "/ws"``)."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` (SIGTERM), wait up to ``timeout`` s for the exit code; kill if needed.

        Raises AssertionError if it had to be killed, so a hung shutdown fails the test.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.proc)
            raise AssertionError(
                f"target did not exit within {timeout} s of signal {signum}; killed it.\n"
                f"{tail(self.logs())}"
            ) from None


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the target's whole process group and reap the supervisor."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def _read_listening(proc: subprocess.Popen[bytes], deadline: float, log_path: Path) -> dict[str, Any]:
    try:
        return read_listening(proc, deadline)
    except bundled.StartFailed as exc:
        raise StartFailed(f"target: {exc}.\n{tail(log_path.read_text(errors='replace'))}") from None


@contextlib.contextmanager
def running_target(
    *extra_args: str,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 20.0,
) -> Iterator[Target]:
    """Run ``python -m target_app --host 127.0.0.1 --port 0 --workers N EXTRA_ARGS``.

    ``env`` is added to this process's environment (e.g. ``{"WSRACE_SECRET": ...}``).
    """
    full_env = {**os.environ, **(env or {})}
    secret = full_env.get(SECRET_ENV) or DEV_SECRET
    if "--secret" in extra_args:
        secret = extra_args[extra_args.index("--secret") + 1]
    cmd = [sys.executable, "-m", "target_app", "--host", "127.0.0.1", "--port", "0",
           "--workers", str(workers), *extra_args]
    with tempfile.NamedTemporaryFile(prefix="wsrace-target-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, env=full_env,
            start_new_session=True,
        )
    try:
        listening = _read_listening(proc, time.monotonic() + startup_timeout, log_path)
        yield Target(proc, int(listening["port"]), listening, secret, log_path)
    except BaseException:
        sys.stderr.write(f"--- target log (tail) ---\n{tail(log_path.read_text(errors='replace'), 80)}\n")
        raise
    finally:
        kill_group(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        log_path.unlink(missing_ok=True)

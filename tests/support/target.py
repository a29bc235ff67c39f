"""Start the bundled target app as a real subprocess on port 0, for any test suite.

    with running_target("--fault", "lost-snapshot", workers=2) as target:
        connect(target.url + "/ws", ...)          # ws://127.0.0.1:PORT
        urlopen(target.http_url + "/metrics")     # http://127.0.0.1:PORT
        assert target.stop(timeout=10) == 0       # SIGTERM, wait; optional

The app is a :class:`loadgen.children.Child`: its own process group (session), dying with the test
process; leaving the ``with`` block always kills that whole group (supervisor and workers), even
when the test failed or :meth:`Target.stop` was never called.
Its stderr goes to a file, readable with :meth:`Target.logs` (startup failures quote its tail).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.children import Child, ChildFailed
from loadgen.protocol.tokens import DEV_SECRET, SECRET_ENV

__all__ = ["StartFailed", "Target", "running_target"]


class StartFailed(AssertionError):
    """The target did not print its listening line in time; the message has its log's tail."""


@dataclass
class Target:
    child: Child
    port: int
    listening: dict[str, Any]
    """The parsed listening line: event, host, port, workers, pid."""
    secret: str
    """The token secret the app uses (mint tokens with loadgen.protocol.tokens.mint)."""

    @property
    def proc(self) -> subprocess.Popen[bytes]:
        return self.child.proc

    @property
    def log_path(self) -> Path:
        return self.child.log_path

    @property
    def url(self) -> str:
        """``ws://127.0.0.1:PORT`` (the WebSocket itself is at ``url + "/ws"``)."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return self.child.log_text()

    def stop(self, timeout: float = 15.0, signum: int = signal.SIGTERM) -> int:
        """Send ``signum`` (SIGTERM), wait up to ``timeout`` s for the exit code; kill if needed.

        Raises AssertionError if it had to be killed, so a hung shutdown fails the test.
        """
        code = self.child.stop(grace=timeout, signum=signum)
        if code is None:
            raise AssertionError(
                f"target did not exit within {timeout} s of signal {signum}; killed it.\n"
                f"{tail(self.logs())}"
            )
        return code


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


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
    secret = {**os.environ, **(env or {})}.get(SECRET_ENV) or DEV_SECRET
    if "--secret" in extra_args:
        secret = extra_args[extra_args.index("--secret") + 1]
    cmd = [sys.executable, "-m", "target_app", "--host", "127.0.0.1", "--port", "0",
           "--workers", str(workers), *extra_args]
    with Child.start(cmd, name="target", env=env) as child:
        try:
            try:
                listening = child.read_listening(time.monotonic() + startup_timeout)
            except ChildFailed as exc:
                raise StartFailed(str(exc)) from None
            yield Target(child, int(listening["port"]), listening, secret)
        except BaseException:
            sys.stderr.write(f"--- target log (tail) ---\n{tail(child.log_text(), 80)}\n")
            raise

"""The interop server as a real process: ``python -m tests.interop.serve`` on a port it picks itself.

Started on :class:`loadgen.children.Child` (its own process group, dies with the test process).
Leaving :func:`running_server` always stops it (SIGTERM, a grace, then SIGKILL of the group), even
when the test failed; its log is printed to stderr when the test failed.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadgen.children import Child, ChildFailed

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


@dataclass
class ServerProcess:
    child: Child
    port: int
    ws: str

    @property
    def host(self) -> str:
        """The base URL, as given to ``wsrace run --host``."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.host}/ws"

    def logs(self) -> str:
        return self.child.log_text()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and the exit code; an AssertionError (after SIGKILL) if it did not exit in time."""
        code = self.child.stop(timeout)
        if code is None:
            raise AssertionError(f"interop server ({self.ws}) did not exit within {timeout} s of SIGTERM")
        return code


@contextlib.contextmanager
def running_server(ws: str, *extra: str) -> Iterator[ServerProcess]:
    """The interop server on ``ws`` (uvicorn's WebSocket implementation), stopped on the way out."""
    child = Child.start([sys.executable, "-m", "tests.interop.serve", "--ws", ws, *extra],
                        name=f"interop server ({ws})", cwd=REPO_ROOT)
    with child:
        try:
            try:
                listening = child.read_listening(time.monotonic() + STARTUP_TIMEOUT_S)
            except ChildFailed as exc:
                raise AssertionError(str(exc)) from None
            assert listening["host"] == "127.0.0.1", listening
            yield ServerProcess(child, int(listening["port"]), ws)
        except BaseException:
            sys.stderr.write(f"--- interop server ({ws}) log ---\n{child.log_text()[-6000:]}\n")
            raise
        finally:
            child.stop(STOP_TIMEOUT_S)

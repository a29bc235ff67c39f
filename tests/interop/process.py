"""The interop server as a real process: ``python -m tests.interop.serve`` on a port it picks itself.

Leaving :func:`running_server` always stops it (SIGTERM, wait, SIGKILL), even when the test failed;
its log is printed to stderr when the test failed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from loadgen.bundled import StartFailed, read_listening

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    port: int
    ws: str
    log_path: Path

    @property
    def host(self) -> str:
        """The base URL, as given to ``wsrace run --host``."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.host}/ws"

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and the exit code; an AssertionError (after SIGKILL) if it did not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _kill(self.proc)
            raise AssertionError(f"interop server ({self.ws}) did not exit within {timeout} s of SIGTERM") from None


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(STOP_TIMEOUT_S)


@contextlib.contextmanager
def running_server(ws: str, *extra: str) -> Iterator[ServerProcess]:
    """The interop server on ``ws`` (uvicorn's WebSocket implementation), stopped on the way out."""
    with tempfile.NamedTemporaryFile(prefix=f"interop-{ws}-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.interop.serve", "--ws", ws, *extra],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        try:
            listening = read_listening(proc, time.monotonic() + STARTUP_TIMEOUT_S)
        except StartFailed as exc:
            raise AssertionError(f"interop server ({ws}): {exc}\n{log_path.read_text(errors='replace')}") from None
        assert listening["host"] == "127.0.0.1", listening
        yield ServerProcess(proc, int(listening["port"]), ws, log_path)
    except BaseException:
        sys.stderr.write(f"--- interop server ({ws}) log ---\n{log_path.read_text(errors='replace')[-6000:]}\n")
        raise
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _kill(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        log_path.unlink(missing_ok=True)

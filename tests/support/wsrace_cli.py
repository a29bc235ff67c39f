"""Run the real ``wsrace`` CLI in a subprocess, bounded in time, and always clean up its process tree.

The command runs in its own session (process group); on timeout or test failure the whole group —
Locust master, its worker processes, the bundled target — is killed, so nothing outlives the test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Finished", "run_wsrace"]


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str
    results_path: Path | None

    def results(self) -> dict[str, Any]:
        assert self.results_path is not None, "no --results path was given"
        return json.loads(self.results_path.read_text())

    def failures_by_kind(self, scenario: str) -> dict[str, int]:
        return self.results()["scenarios"][scenario]["failures_by_kind"]


def run_wsrace(*args: str, timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None) -> Finished:
    """Run ``wsrace ARGS`` and return its exit code and combined output (kept for failure messages)."""
    cmd = [sys.executable, "-m", "loadgen.cli", *args]
    results_path = None
    if "--results" in args:
        results_path = Path(args[args.index("--results") + 1])
        if cwd is not None and not results_path.is_absolute():
            results_path = cwd / results_path
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        start_new_session=True,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=30)
        raise AssertionError(f"wsrace {' '.join(args)} did not finish within {timeout} s:\n{output[-6000:]}") from None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stray grandchildren of a run that failed
    return Finished(proc.returncode, output, results_path)

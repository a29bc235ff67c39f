"""Run the real ``wsrace`` CLI in a subprocess, bounded in time, and always clean up its process tree.

The command is a :class:`loadgen.children.Child`: its own session (process group), dying with the
test process. On timeout or test failure the whole group — Locust master, its worker processes —
is killed, so nothing outlives the test (a bundled target, in a session of its own, dies with the
Locust process that started it). Its output (stdout and stderr) goes to a file, read back at the end.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadgen.children import Child

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
    with Child.start(cmd, name="wsrace", env=env, cwd=cwd, output="log") as child:
        returncode = child.wait(time.monotonic() + timeout)
        if returncode is None:
            child.kill()
            raise AssertionError(f"wsrace {' '.join(args)} did not finish within {timeout} s:\n"
                                 f"{child.log_text()[-6000:]}")
        return Finished(returncode, child.log_text(), results_path)

"""Run ``wsrace run`` once per fault (and once clean) as subprocesses, several at once, bounded.

Each run is exactly what a user would type - ``wsrace run --profile quick --fault NAME --results
DIR/NAME.json`` - so each starts its own bundled target on its own free port and the runs do not
share anything but the machine. Bounds: a per-run timeout, and a total deadline after which nothing
new starts and what still runs is stopped. A run is stopped as a user would stop it: SIGINT to its
process group (Locust writes its results and stops the target), then SIGKILL if it does not exit.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from loadgen.selftest.matrix import RunRecord

__all__ = ["RunSpec", "run_all", "spec"]

STOP_GRACE_S: Final = 20.0
"""How long a run stopped with SIGINT gets to write its results and stop its target."""


@dataclass(frozen=True)
class RunSpec:
    fault: str | None
    argv: tuple[str, ...]
    results: Path
    log: Path


def spec(fault: str | None, directory: Path, run_args: Sequence[str]) -> RunSpec:
    """The ``wsrace run`` of ``fault`` (None: clean), its results and log in ``directory``."""
    stem = fault or "clean"
    results = directory / f"{stem}.json"
    argv = [sys.executable, "-m", "loadgen.cli", "run", *run_args, "--results", str(results)]
    if fault is not None:
        argv += ["--fault", fault]
    return RunSpec(fault, tuple(argv), results, directory / f"{stem}.log")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


class _Pool:
    """The running processes, so that all of them are stopped on the way out, whatever happens."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.closing = False

    def start(self, argv: Sequence[str], log: Path) -> subprocess.Popen[bytes] | None:
        with self._lock:
            if self.closing:
                return None
            with log.open("wb") as out:
                proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
            self._procs.add(proc)
            return proc

    def forget(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def stop_all(self) -> None:
        with self._lock:
            self.closing = True
            procs = list(self._procs)
        for proc in procs:
            stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop one run's process group (it leads its own): SIGINT, then SIGKILL after the grace."""
    for signum, wait in ((signal.SIGINT, STOP_GRACE_S), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signum)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _run_one(pool: _Pool, run: RunSpec, run_timeout: float, deadline: float) -> RunRecord:
    common: dict[str, Any] = {"fault": run.fault, "results_path": str(run.results),
                              "log_path": str(run.log)}
    budget = min(run_timeout, deadline - time.monotonic())
    if budget <= 0:
        return RunRecord(exit_code=None, results=None, error="not run: the total time limit passed",
                         **common)
    started = time.monotonic()
    proc = pool.start(run.argv, run.log)
    if proc is None:
        return RunRecord(exit_code=None, results=None, error="not run: the self-test was stopped",
                         **common)
    error: str | None = None
    try:
        code: int | None = proc.wait(budget)
    except subprocess.TimeoutExpired:
        limit = "per-run timeout" if budget == run_timeout else "total time limit"
        error = f"stopped after {budget:.0f} s (the {limit})"
        stop(proc)
        code = None
    finally:
        pool.forget(proc)
    return RunRecord(exit_code=code, results=_read(run.results), error=error,
                     seconds=time.monotonic() - started, **common)


def run_all(runs: Sequence[RunSpec], *, parallel: int, run_timeout: float, total_timeout: float,
            on_done: Callable[[RunRecord], None] = lambda record: None) -> list[RunRecord]:
    """Run every spec, ``parallel`` at a time, in the order given; a record for each, in that order."""
    deadline = time.monotonic() + total_timeout
    pool = _Pool()

    def one(run: RunSpec) -> RunRecord:
        record = _run_one(pool, run, run_timeout, deadline)
        on_done(record)
        return record

    executor = ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="selftest")
    try:
        futures = [executor.submit(one, run) for run in runs]
        return [future.result() for future in futures]
    except BaseException:  # Ctrl-C: stop what runs (each in its own session, out of the terminal's reach)
        pool.stop_all()
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)

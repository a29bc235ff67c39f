"""``wsrace run`` after a Locust master that died: stop what it left, and keep what it had counted.

A master killed outright (SIGKILL) writes no results, stops neither its worker processes nor the
bundled target. ``wsrace run`` therefore:

1. becomes a *child subreaper* before starting Locust (:func:`adopt_orphans`, Linux): processes
   the master leaves behind (its ``--processes`` workers, the target's supervisor) become
   ``wsrace run``'s children instead of init's, so it can wait for them and reap them;
2. once Locust has exited, waits up to :data:`ORPHAN_GRACE_S` for those to exit on their own (a
   worker stops when its master is gone, the target on SIGTERM when the master that started it
   dies), then SIGKILLs what is left (:func:`stop_orphans`);
3. if Locust left no results but a checkpoint of this run (:mod:`loadgen.checkpoint`), promotes the
   checkpoint to the results file with ``run_error`` naming the death and the checkpoint's time,
   re-judged, with JUnit if asked, and the run exits 3 (:func:`salvage`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import psutil

from loadgen import exitcodes
from loadgen.checkpoint import checkpoint_path
from loadgen.judge.evaluate import JUDGE_RUN_CHECKS, Verdict, evaluate
from loadgen.judge.junit import write_junit
from loadgen.judge.results import with_verdicts, write_results
from loadgen.judge.thresholds import thresholds_from_dict

__all__ = ["ORPHAN_GRACE_S", "adopt_orphans", "after_locust", "before_locust", "died_message", "promote", "salvage",
           "stop_orphans"]

ORPHAN_GRACE_S: Final = 20.0
"""How long what a dead master left may take to exit by itself: a worker notices within a few
seconds, the bundled target takes up to its shutdown timeout (5 s) plus its own grace."""
_PR_SET_CHILD_SUBREAPER: Final = 36


def adopt_orphans(enabled: bool = True) -> None:
    """Make this process the subreaper of its descendants, or (``enabled=False``) no longer
    (Linux; elsewhere nothing happens)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, int(enabled))


def stop_orphans(grace_s: float = ORPHAN_GRACE_S) -> list[str]:
    """Wait for this process's children to exit, up to ``grace_s`` seconds from now, then SIGKILL
    the rest and reap them all; returns a line per child that had to be killed."""
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return []
    if not children:
        return []
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    killed = []
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            killed.append(f"pid {proc.pid} ({' '.join(proc.cmdline()[:4])})")
            proc.kill()
    psutil.wait_procs(alive, timeout=5.0)
    return killed


def died_message(locust_code: int, died_t: float, checkpoint_t: float | None) -> str:
    """``the Locust master died (signal 9) at +31.2 s; results as of its last checkpoint at +30.0 s``."""
    how = f"signal {-locust_code}" if locust_code < 0 else f"exit code {locust_code}"
    text = f"the Locust master died ({how}) at +{died_t:.1f} s without writing its results"
    if checkpoint_t is not None:
        text += f"; results as of its last checkpoint at +{checkpoint_t:.1f} s"
    return text


def promote(doc: dict[str, Any], run_error: str, path: str) -> dict[str, Any]:
    """The checkpoint ``doc`` as a broken run's results: ``run_error`` set, judged again (the runner's
    own run checks it recorded are kept)."""
    out = dict(doc)
    out["run"] = {**(doc.get("run") or {}), "interrupted": True, "stop_reason": run_error}
    out["run_error"] = run_error
    thresholds = thresholds_from_dict(doc.get("thresholds") or {}, path, dicts="an object")
    kept = [Verdict.from_dict(v) for v in doc.get("verdicts") or []
            if v.get("category") == "run" and v.get("check") not in JUDGE_RUN_CHECKS]
    return with_verdicts(out, thresholds, evaluate(out, thresholds, kept))


def _started_unix(doc: dict[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str((doc.get("run") or {}).get("started"))).timestamp()
    except ValueError:
        return None


def salvage(locust_code: int, results: Path, junit: str | None, launched_unix: float) -> int | None:
    """If Locust left no results but a checkpoint written by this run (started after
    ``launched_unix``), write the promoted results (and JUnit) and return exit code 3; else None."""
    partial = Path(checkpoint_path(results))
    if results.exists() or not partial.exists():
        return None
    died_unix = time.time()
    try:
        doc = json.loads(partial.read_text())
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"wsrace run: the checkpoint {partial} is unreadable ({exc}): not promoted\n")
        return None
    started = _started_unix(doc)
    if started is None or started < launched_unix - 1.0:
        return None  # an earlier run's: it says nothing about this one
    run_error = died_message(locust_code, died_unix - started, (doc.get("checkpoint") or {}).get("t"))
    promoted = promote(doc, run_error, str(partial))
    write_results(results, promoted)
    partial.unlink(missing_ok=True)
    sys.stderr.write(f"wsrace run: the run broke: {run_error}\nresults: {results.resolve()}\n")
    if junit:
        write_junit(junit, promoted)
        sys.stderr.write(f"junit: {Path(junit).resolve()}\n")
    return exitcodes.BROKEN


def before_locust() -> float:
    """Call just before starting Locust: adopt what it may orphan; returns the launch time (Unix)."""
    adopt_orphans()
    return time.time()


def after_locust(locust_code: int, results: Path, junit: str | None, launched_unix: float) -> int | None:
    """Call once Locust exited: stop what it left behind, then :func:`salvage` its checkpoint.
    Returns the exit code when the checkpoint was promoted, else None (judge Locust's own exit)."""
    for line in stop_orphans():
        sys.stderr.write(f"wsrace run: killed {line}, left running by Locust\n")
    return salvage(locust_code, results, junit, launched_unix)

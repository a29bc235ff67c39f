"""The master's checkpoint: the results as of now, every few seconds, for a master that dies.

A master killed with SIGKILL (the OOM killer, a CI runner's last resort) runs no handler and writes no
results. So while the run goes, the judging process writes the results document *as of now* beside
the results path, ``<results>.partial``, every :data:`CHECKPOINT_INTERVAL_S` seconds, atomically
(:func:`~loadgen.judge.results.write_results`): the tallies reported so far, Locust's step stats,
the server's counters as of its last read, and what was seen of processes dying, with a
``checkpoint`` object saying when (``t``: seconds into the run, ``at``: UTC).

When the run ends and its results are written, the checkpoint is removed. ``wsrace run``, seeing
Locust end without results, promotes the last checkpoint to the results file
(:mod:`loadgen.commands.salvage`). Documented in docs/results-format.md ("The checkpoint").
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any, Final

import gevent

from loadgen.judge.results import utc_now, write_results

__all__ = ["CHECKPOINT_INTERVAL_S", "CHECKPOINT_SUFFIX", "Checkpointer", "checkpoint_path"]

log = logging.getLogger(__name__)

CHECKPOINT_INTERVAL_S: Final = 3.0
"""As often as Locust's workers report: a checkpoint more often would hold nothing new."""
CHECKPOINT_SUFFIX: Final = ".partial"


def checkpoint_path(results: str | os.PathLike[str]) -> str:
    """Where the checkpoint of the run writing ``results`` goes: ``<results>.partial``."""
    return os.fspath(results) + CHECKPOINT_SUFFIX


class Checkpointer:
    """Writes ``build()`` (plus its ``checkpoint`` object) to ``path`` at the start and every
    ``interval_s`` seconds, until ``finished()``; ``clock()`` gives the seconds into the run."""

    def __init__(self, path: str, build: Callable[[], dict[str, Any]], finished: Callable[[], bool], *,
                 clock: Callable[[], float], interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self.path = path
        self._build = build
        self._finished = finished
        self._clock = clock
        self.interval_s = interval_s
        self.written = 0
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        """Replace any checkpoint an earlier run left with this run's first, then keep writing."""
        self.write()
        self._greenlet = gevent.spawn(self._loop)

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.interval_s)
            if self._finished():
                return
            self.write()

    def write(self) -> None:
        """One checkpoint now. A failure is logged, never raised: the run goes on without it."""
        try:
            doc = self._build()
            doc["checkpoint"] = {"t": round(self._clock(), 3), "at": utc_now(), "interval_s": self.interval_s}
            write_results(self.path, doc)
        except (OSError, ValueError) as exc:
            log.warning("could not write the checkpoint %s: %s", self.path, exc)
            return
        self.written += 1

    def discard_if(self, results: str | os.PathLike[str]) -> None:
        """Once ``results`` is written, the checkpoint is stale: remove it (a run whose results could
        not be written keeps it)."""
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        if os.path.exists(results):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)

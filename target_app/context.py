"""What every part of one worker shares: its settings, metrics, ids, background tasks, how it reports
an unexpected exception, and whether it is shutting down.

One :class:`WorkerContext` per worker process, made by :func:`~target_app.server.run_worker` and
handed explicitly to the job service and to every connection (nothing reaches for a global or for
the app). A leaf: it imports only the other leaves (:mod:`.config`, :mod:`.ids`, :mod:`.metrics`,
:mod:`.tasks`), never the connection, the jobs, the routes or the faults.
"""

from __future__ import annotations

import logging

from target_app.config import Config
from target_app.ids import Ids
from target_app.metrics import Metrics
from target_app.tasks import TaskSet

log = logging.getLogger(__name__)


class WorkerContext:
    """Fixed once made, except for one flag that only ever goes one way (:meth:`begin_shutdown`)."""

    __slots__ = ("_config", "_ids", "_metrics", "_shutting_down", "_tasks")

    def __init__(self, config: Config, metrics: Metrics, ids: Ids) -> None:
        self._config = config
        self._metrics = metrics
        self._ids = ids
        self._tasks = TaskSet(self.report_failure, metrics.background_tasks.set)
        self._shutting_down = False

    @classmethod
    def for_worker(cls, config: Config, index: int) -> WorkerContext:
        """The context of worker ``index`` (its ids name it; see :mod:`.ids`)."""
        return cls(config, Metrics(), Ids(index))

    @property
    def config(self) -> Config:
        return self._config

    @property
    def metrics(self) -> Metrics:
        return self._metrics

    @property
    def ids(self) -> Ids:
        return self._ids

    @property
    def tasks(self) -> TaskSet:
        """The worker's background tasks (job tickers, the sweeper, a fault's notifier)."""
        return self._tasks

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def begin_shutdown(self) -> None:
        """From now on a connection whose handshake just finished is closed with 1001 at once."""
        self._shutting_down = True

    def report_failure(self, exc: BaseException, what: str) -> None:
        """An unexpected exception: counted (the scenarios watch this counter) and logged."""
        self._metrics.unhandled_errors.inc()
        log.error("unhandled error in %s", what, exc_info=exc)

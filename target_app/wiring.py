"""The parts of a worker that a fault may replace, chosen once at startup.

The correct app uses the defaults. A fault module's ``install(wiring)`` replaces one part: it adds a
subclass of :class:`~target_app.connection.Connection` or of :class:`~target_app.jobs.JobService`
that overrides a method or two (several such subclasses compose through the MRO), or it replaces
the outbox class or the sweeper. Faults that would override the same method are declared
incompatible in :mod:`target_app.faults`, so that none is ever silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from target_app.connection import Connection
from target_app.jobs import JobService, sweep_expired_jobs
from target_app.outbox import Outbox

Sweeper = Callable[[JobService], Coroutine[Any, Any, None]]


@dataclass
class Wiring:
    connection_classes: list[type[Connection]] = field(default_factory=list)
    jobs_classes: list[type[JobService]] = field(default_factory=list)
    outbox_class: type[Outbox] = Outbox
    sweeper: Sweeper = sweep_expired_jobs

    def connection_class(self) -> type[Connection]:
        """Connection with every fault's overrides applied."""
        if not self.connection_classes:
            return Connection
        return type("FaultyConnection", tuple(self.connection_classes), {"__slots__": ()})

    def jobs_class(self) -> type[JobService]:
        """JobService with every fault's overrides applied."""
        if not self.jobs_classes:
            return JobService
        return type("FaultyJobService", tuple(self.jobs_classes), {})


def build(fault_names: tuple[str, ...]) -> Wiring:
    from target_app import faults

    wiring = Wiring()
    faults.install(fault_names, wiring)
    return wiring

"""The parts of a worker that a fault may replace, chosen once at startup.

The correct app uses the defaults. A fault module's ``install(wiring)`` replaces exactly one part:
a subclass of :class:`~target_app.connection.Connection` overriding one method (several such
subclasses compose through the MRO), the outbox class, the job service class, or the sweeper.
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
    outbox_class: type[Outbox] = Outbox
    jobs_class: type[JobService] = JobService
    sweeper: Sweeper = sweep_expired_jobs

    def connection_class(self) -> type[Connection]:
        """Connection with every fault's override applied (each subclass changes one method)."""
        if not self.connection_classes:
            return Connection
        return type("FaultyConnection", tuple(self.connection_classes), {"__slots__": ()})


def build(fault_names: tuple[str, ...]) -> Wiring:
    from target_app import faults

    wiring = Wiring()
    faults.install(fault_names, wiring)
    return wiring

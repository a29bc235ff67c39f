"""The parts of a worker that a fault may replace, and how several faults' replacements compose.

A fault module declares its :class:`Parts`: a subclass of :class:`~target_app.connection.Connection`,
of :class:`~target_app.jobs.JobService`, of :class:`~target_app.outbox.Outbox` or of the broker's
:class:`~target_app.broker.RedisJobBus` that overrides a method or two, or a replacement for the
job sweeper. :func:`compose` builds one worker's
:class:`Wiring` from the parts of every chosen fault: the subclasses of one part compose through
the MRO, so faults that override *different* methods all take effect.

Two faults that replace the same member (the same method or class attribute of the same part, or
the sweeper) cannot both take effect: one would silently hide the other. :func:`clash` finds that
from the classes themselves - nothing is declared by hand - and :func:`compose` refuses it.
Constructors are the one exception: each fault's ``__init__`` calls ``super().__init__`` and adds
its own attributes, so they chain rather than hide one another.

The correct app is :func:`compose` of nothing. This module imports the parts, never the faults.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Final

from target_app.broker import RedisJobBus
from target_app.connection import Connection
from target_app.jobs import JobService, sweep_expired_jobs
from target_app.outbox import Outbox

__all__ = ["CLASS_PARTS", "Parts", "Sweeper", "Wiring", "clash", "compose", "needs_broker", "replaced"]

Sweeper = Callable[[JobService], Coroutine[Any, Any, None]]

CLASS_PARTS: Final[dict[str, type]] = {"connection": Connection, "jobs": JobService,
                                       "outbox": Outbox, "bus": RedisJobBus}
"""The parts a fault changes by subclassing: field of :class:`Parts` -> the correct class."""

SWEEPER: Final = "the job sweeper"

_BOOKKEEPING: Final = frozenset({
    "__module__", "__qualname__", "__doc__", "__slots__", "__annotations__", "__dict__",
    "__weakref__", "__firstlineno__", "__static_attributes__", "__orig_bases__", "__parameters__",
})
"""What Python itself puts in a class body's namespace: not a member a fault replaces."""

_CHAINED: Final = frozenset({"__init__"})
"""Members that chain through ``super()`` by this package's convention instead of hiding."""


@dataclass(frozen=True)
class Parts:
    """What one fault replaces (None: that part stays the correct one)."""

    connection: type[Connection] | None = None
    jobs: type[JobService] | None = None
    outbox: type[Outbox] | None = None
    sweeper: Sweeper | None = None
    bus: type[RedisJobBus] | None = None
    """The broker's side of a worker (only with ``--broker``: see :func:`needs_broker`)."""


@dataclass(frozen=True)
class Wiring:
    """The parts one worker runs with."""

    connection_class: type[Connection] = Connection
    jobs_class: type[JobService] = JobService
    outbox_class: type[Outbox] = Outbox
    sweeper: Sweeper = sweep_expired_jobs
    bus_class: type[RedisJobBus] = RedisJobBus


def needs_broker(parts: Parts) -> bool:
    """A fault in the bus between workers shows only when there is one (``--broker``)."""
    return parts.bus is not None


def members(cls: type, base: type) -> frozenset[str]:
    """The names ``cls`` defines between itself and ``base`` (overrides and additions alike)."""
    names: set[str] = set()
    for klass in cls.__mro__[: cls.__mro__.index(base)]:
        names.update(vars(klass))
    return frozenset(names - _BOOKKEEPING - _CHAINED)


def replaced(parts: Parts) -> frozenset[str]:
    """Every member these parts replace, as ``Class.member`` (or "the job sweeper")."""
    out: set[str] = set()
    for field, base in CLASS_PARTS.items():
        cls = getattr(parts, field)
        if cls is not None:
            out.update(f"{base.__name__}.{name}" for name in members(cls, base))
    if parts.sweeper is not None:
        out.add(SWEEPER)
    return frozenset(out)


def clash(first: Parts, second: Parts) -> list[str]:
    """The members both replace, sorted (empty: they compose)."""
    return sorted(replaced(first) & replaced(second))


def compose(chosen: Iterable[Parts]) -> Wiring:
    """One worker's parts: every fault's subclasses through the MRO, in the order given.

    Raises ValueError if two of them replace the same member (see the module docstring).
    """
    chosen = list(chosen)
    for i, first in enumerate(chosen):
        for second in chosen[i + 1:]:
            if common := clash(first, second):
                raise ValueError(f"two faults both replace {', '.join(common)}")
    classes: dict[str, type] = {}
    for field, base in CLASS_PARTS.items():
        subclasses = tuple(cls for parts in chosen if (cls := getattr(parts, field)) is not None)
        if subclasses:
            body = {"__slots__": ()} if "__slots__" in vars(base) else {}
            classes[f"{field}_class"] = type(f"Faulty{base.__name__}", subclasses, body)
    sweepers = [parts.sweeper for parts in chosen if parts.sweeper is not None]
    return Wiring(**classes, **({"sweeper": sweepers[0]} if sweepers else {}))

"""The injectable bugs: each ``--fault NAME`` swaps in a faithful copy of one real race-condition bug.

Every fault lives in its own module here, ``target_app/faults/<name>.py``, whose docstring names the
bug, and changes the worker only by declaring its :class:`~target_app.wiring.Parts` (``PARTS``):
a subclass of the connection, the job service or the outbox that overrides a method or two, or a
replacement sweeper. The correct code path never tests for a fault. To add one: a module here
exporting ``PARTS``, and its name and description in :mod:`loadgen.protocol.faults`.

Which faults combine is derived, never listed: two faults that replace the same member of the same
part (:func:`target_app.wiring.clash`) are refused with a message naming both and the member; any
others compose. The names come from the pure catalogue :mod:`loadgen.protocol.faults`; this
package's ``__init__`` imports nothing heavy at import time (the fault modules, and the server code
they need, are loaded only to compare two faults or to build a worker), so a command line can check
names cheaply.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from loadgen.protocol.faults import FAULTS, describe, unknown_problem

if TYPE_CHECKING:
    from target_app.wiring import Parts, Wiring

__all__ = ["FAULTS", "broker_problem", "build", "check", "describe", "parts"]


def parts(name: str) -> Parts:
    """What fault ``name`` replaces (imports its module)."""
    module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
    found: Parts = module.PARTS
    return found


def check(names: Iterable[str]) -> str | None:
    """Return what is wrong with a set of fault names, or None if they can be used together."""
    chosen = list(dict.fromkeys(names))
    unknown = unknown_problem(chosen)
    if unknown:
        return unknown
    if len(chosen) < 2:
        return None
    from target_app.wiring import clash  # only now: comparing faults needs the parts themselves

    for first, second in itertools.combinations(sorted(chosen), 2):
        common = clash(parts(first), parts(second))
        if common:
            what = ", ".join(common)
            return (f"--fault {first} and --fault {second} cannot be combined: both replace "
                    f"{what}, and one would hide the other")
    return None


def broker_problem(names: Iterable[str], broker: str | None) -> str | None:
    """What is wrong with these (valid) faults on a server with or without a broker, or None: a
    fault in the bus between workers would silently never happen without one."""
    if broker:
        return None
    from target_app.wiring import needs_broker

    for name in dict.fromkeys(names):
        if needs_broker(parts(name)):
            return (f"--fault {name} lives in the bus between workers: give --broker redis://HOST:PORT "
                    f"(or unix:///PATH) and --workers 2 or more")
    return None


def build(names: Iterable[str]) -> Wiring:
    """The parts of a worker with these faults (names already checked; none: the correct app)."""
    from target_app.wiring import compose

    return compose(parts(name) for name in dict.fromkeys(names))

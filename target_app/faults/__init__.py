"""The injectable bugs: each ``--fault NAME`` swaps in a faithful copy of one real race-condition bug.

Every fault lives in its own module here, ``target_app/faults/<name>.py``, and changes the worker
only through :class:`~target_app.wiring.Wiring` at startup, by replacing one part (a connection
method, the outbox, the job service, a background task). The correct code path never tests for a
fault. This package's ``__init__`` imports nothing heavy, so the CLI can validate names cheaply.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from loadgen.protocol.faults import FAULTS, describe, unknown_problem

__all__ = ["FAULTS", "check", "describe", "install"]

if TYPE_CHECKING:
    from target_app.wiring import Wiring

_INCOMPATIBLE: Final[dict[frozenset[str], str]] = {
    frozenset({"cross-talk", "unsafe-close"}): "both replace how state events are delivered",

}


def check(names: Iterable[str]) -> str | None:
    """Return what is wrong with a set of fault names, or None if they can be used together."""
    chosen = list(names)
    unknown = unknown_problem(chosen)
    if unknown:
        return unknown
    for pair, why in _INCOMPATIBLE.items():
        if pair <= set(chosen):
            first, second = sorted(pair)
            return f"--fault {first} and --fault {second} cannot be combined: {why}"
    return None


def install(names: Iterable[str], wiring: Wiring) -> None:
    """Apply each named fault to ``wiring`` (names already checked)."""
    for name in dict.fromkeys(names):
        module = importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
        module.install(wiring)

"""The injectable bugs: each ``--fault NAME`` swaps in a faithful copy of one real race-condition bug.

Every fault lives in its own module here, ``target_app/faults/<name>.py``, and changes the worker
only through :class:`~target_app.wiring.Wiring` at startup, by replacing one part (a connection
method, the outbox, the job service, a background task). The correct code path never tests for a
fault. This package's ``__init__`` imports nothing heavy, so the CLI can validate names cheaply.
"""

from __future__ import annotations

import importlib
import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from target_app.wiring import Wiring

FAULTS: Final[dict[str, str]] = {
    "lost-snapshot": "subscribe answers from a status cached at job start: the snapshot is stale "
    "and changes before the subscription are lost (a fast-halt job never shows 'halted')",
    "lossy-queue": "each connection's outbound queue is bounded and drops a message that waits "
    "100 ms for room (slow readers miss burst items)",
    "early-drop": "messages that arrive while the user is still being verified and loaded are "
    "discarded (ops pipelined behind the handshake or the auth message get no reply)",
    "cross-talk": "state events pass through one shared slot across an await (users see each "
    "other's events and miss their own)",
    "unsafe-close": "sends racing a close are unguarded: the handler and a shared notifier task "
    "crash (unhandled errors, 1011, and every user stops getting state events)",
    "global-lock": "one process-wide lock is held across every await of handling a message "
    "(all connections of a worker are serialised)",
    "stuck-shutdown": "the job sweeper swallows cancellation: SIGTERM never finishes the worker, "
    "the supervisor kills it after the shutdown timeout and exits non-zero",
}

_INCOMPATIBLE: Final[dict[frozenset[str], str]] = {
    frozenset({"cross-talk", "unsafe-close"}): "both replace how state events are delivered",

}


def describe() -> str:
    """The fault list for ``--help`` and error messages."""
    return "\n".join(
        textwrap.fill(text, width=96, initial_indent=f"  {name:<15} ", subsequent_indent=" " * 18)
        for name, text in FAULTS.items()
    ) + "\n"


def check(names: Iterable[str]) -> str | None:
    """Return what is wrong with a set of fault names, or None if they can be used together."""
    chosen = list(names)
    unknown = [name for name in chosen if name not in FAULTS]
    if unknown:
        return f"unknown fault {unknown[0]!r}; valid faults: {', '.join(FAULTS)}"
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

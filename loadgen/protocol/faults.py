"""The catalogue of race bugs the bundled target can inject: names and what each bug does.

Pure data, shared by the target app (which implements each fault in ``target_app/faults/``) and by
the load side's command line (which refuses an unknown ``--fault`` before any load). Which faults can
be combined is not declared here: the target app derives it from the parts each fault replaces, and
refuses a combination at start-up (exit 2) with the reason.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from typing import Final

__all__ = ["FAULTS", "describe", "unknown_problem"]

FAULTS: Final[dict[str, str]] = {
    "lost-snapshot": "subscribe answers from a status cached at job start: the snapshot is stale "
    "and changes before the subscription are lost (a fast-halt job never shows 'halted')",
    "lossy-queue": "each connection's outbound queue is bounded and drops a message that waits "
    "100 ms for room (slow readers miss burst items)",
    "early-drop": "messages that arrive while the user is still being verified and loaded are "
    "discarded (ops sent right after the 101 or behind the auth message get no reply)",
    "cross-talk": "state events pass through one shared slot across an await (users see each "
    "other's events and miss their own)",
    "unsafe-close": "sends racing a close are unguarded: the handler and a shared notifier task "
    "crash (unhandled errors, 1011, and every user stops getting state events)",
    "global-lock": "one process-wide lock is held across every await of handling a message "
    "(all connections of a worker are serialised)",
    "stuck-shutdown": "the job sweeper swallows cancellation: SIGTERM never finishes the worker, "
    "the supervisor kills it after the shutdown timeout and exits non-zero",
    "volatile-state": "state events are skipped while the connection's writer waits for a slow "
    "reader; seq is stamped at write time, so there is no gap (changes silently go missing)",
}


def describe() -> str:
    """The fault list for ``--help`` and error messages."""
    return "\n".join(
        textwrap.fill(text, width=96, initial_indent=f"  {name:<15} ", subsequent_indent=" " * 18)
        for name, text in FAULTS.items()
    ) + "\n"


def unknown_problem(names: Iterable[str]) -> str | None:
    """What is wrong with these names as faults of the catalogue, or None if each is one."""
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        return f"unknown fault {unknown[0]!r}; valid faults: {', '.join(FAULTS)}"
    return None

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

__all__ = ["BROKER_FAULTS", "FAULTS", "describe", "unknown_problem"]

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
    "lossy-queue-ring": "each connection's outbound queue is a ring (deque(maxlen=64)) that pushes its "
    "oldest message out when full, with no backpressure (slow readers miss burst items; no seq gap)",
    "lossy-queue-stamped": "messages are numbered when created and a burst item that waits 50 ms for room "
    "in the queue is dropped (slow readers see a seq gap)",
    "lossy-queue-buffered": "burst items are skipped while the socket's write buffer is over 16 KiB, "
    "Node's bufferedAmount check (slow readers miss burst items; no seq gap)",
    "lost-snapshot-await": "subscribe reads the job's state, awaits a permission check, then registers: "
    "the changes in between are lost (steps missing, halted never seen)",
    "lost-snapshot-wrong-key": "subscribe registers on the user's latest job instead of the one asked "
    "(subscribing to an earlier job: no more of its events)",
    "cross-talk-global": "the connection being served is kept in a module global that burst items and "
    "replies are sent to (after an await they go to another user)",
    "cross-talk-buffer": "every state event is written into one reused dict queued on each outbox "
    "(a backed-up subscriber gets whatever event was published last)",
    "global-lock-steps": "one process-wide lock is held across each job step's wait (a worker's jobs "
    "run one at a time)",
    "global-lock-echo": "echo replies are written under one process-wide lock, awaiting the socket "
    "(one slow reader's echo holds every other echo)",
    "unsafe-close-handler": "handlers write replies to the socket themselves, unguarded: a reply to an "
    "op read with the client's close frame raises out of the handler",
    "unsafe-close-ticker": "job tickers write events to the subscribers' sockets and nobody unsubscribes "
    "on close: the ticker dies sending to a closed connection, the job never halts",
    "early-drop-anonymous": "messages that arrive while the user is loaded are answered as an anonymous "
    "client's (unauthorized, before ready)",
    "early-drop-ready-late": "ready is sent by a background task after the profile loads, while ops are "
    "already being answered (replies before ready)",
    "stuck-shutdown-journal": "the event journal's task, cancelled, waits on queue.join() with no "
    "task_done(): SIGTERM never finishes the worker",
    "stuck-shutdown-keepalive": "each connection's close waits for a keepalive task that swallows its "
    "cancellation: SIGTERM never finishes the worker in time",
    "volatile-state": "state events are skipped while the connection's writer waits for a slow "
    "reader; seq is stamped at write time, so there is no gap (changes silently go missing)",
    "bus-write-behind": "(needs --broker) job changes reach the broker from a flusher every 200 ms and "
    "start replies before its job is there (the user's connection on another worker: not_found)",
    "bus-check-then-subscribe": "(needs --broker) on another worker, subscribe reads and checks the job "
    "on the broker, then subscribes to its channel: changes published in between are lost",
}

BROKER_FAULTS: Final = frozenset({"bus-write-behind", "bus-check-then-subscribe"})
"""Faults in the bus between target workers: they show only with ``--broker`` and two or more
workers (the target app refuses them without a broker, deriving it from the parts they replace;
a test checks that this list and the target agree)."""


def describe() -> str:
    """The fault list for ``--help`` and error messages."""
    return "\n".join(
        textwrap.fill(text, width=96, initial_indent=f"  {name:<24} ", subsequent_indent=" " * 27)
        for name, text in FAULTS.items()
    ) + "\n"


def unknown_problem(names: Iterable[str]) -> str | None:
    """What is wrong with these names as faults of the catalogue, or None if each is one."""
    unknown = [name for name in names if name not in FAULTS]
    if unknown:
        return f"unknown fault {unknown[0]!r}; valid faults: {', '.join(FAULTS)}"
    return None

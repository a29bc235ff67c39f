"""wsrace's error kinds, under the name scenarios import them by.

The tree itself lives in the pure protocol core, :mod:`loadgen.protocol.errors` (the conversation rules
raise it there without loading gevent or Locust); this module re-exports it unchanged.
"""

from __future__ import annotations

from loadgen.protocol.errors import (
    KINDS,
    AbnormalClose,
    AuthRejected,
    BadReply,
    ForeignEvent,
    HandshakeFailed,
    MissedEvent,
    OutOfOrder,
    ScenarioFailure,
    SeqGap,
    SessionClosedError,
    StepTimeout,
    UnexpectedClose,
)

__all__ = [
    "KINDS",
    "AbnormalClose",
    "AuthRejected",
    "BadReply",
    "ForeignEvent",
    "HandshakeFailed",
    "MissedEvent",
    "OutOfOrder",
    "ScenarioFailure",
    "SeqGap",
    "SessionClosedError",
    "StepTimeout",
    "UnexpectedClose",
]

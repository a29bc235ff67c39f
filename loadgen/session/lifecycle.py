"""The client session's lifecycle as a transition table (h11 style): states, events, one table.

Pure: no socket, no lock. The session makes each move under its protocol lock and reads
:attr:`Lifecycle.state` without one (one attribute read on the hot path).

::

    NEW --connect--> CONNECTING --opened (101 read)--> OPEN
    OPEN --close--> CLOSING ----------------end------> CLOSED     ended by this side
    OPEN --peer_closing--> DRAINING ---------end-----> ENDED      ended by the peer or the network
    OPEN --abort--> CLOSED;   OPEN --end (EOF, reset)--> ENDED
    NEW/CONNECTING --close/abort--> CLOSED;   CONNECTING --end (refused, timed out)--> ENDED

``peer_closing``: the protocol left OPEN while reading (the peer's close frame, or a protocol error
such as a message over ``max_size``); the session then reads to the peer's EOF. ``end``: the socket
is closed (EOF, a socket error, a failed handshake, a finished close). Once CLOSED or ENDED, every
event leaves the state as it is: who ended the session first is what ``recv*`` reports.

An event the table does not allow raises :class:`IllegalTransition`, which records the state and
the event: a misuse (a second ``connect``) or a bug in the session, never a peer's doing.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = ["TRANSITIONS", "Event", "IllegalTransition", "Lifecycle", "SessionState"]


class SessionState(enum.Enum):
    NEW = "new"
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSING = "closing"  # this side's close() is under way
    DRAINING = "draining"  # the peer's close (or a protocol error): reading to its EOF
    CLOSED = "closed"  # ended by this side (close, abort)
    ENDED = "ended"  # ended by the peer or the network

    @property
    def public(self) -> str:
        """The name :attr:`loadgen.session.Session.state` shows."""
        return _PUBLIC[self]


class Event(enum.Enum):
    CONNECT = "connect"
    OPENED = "opened"
    CLOSE = "close"
    ABORT = "abort"
    PEER_CLOSING = "peer_closing"
    END = "end"


S, E = SessionState, Event

_PUBLIC: Final = {
    S.NEW: "connecting",
    S.CONNECTING: "connecting",
    S.OPEN: "open",
    S.CLOSING: "closing",
    S.DRAINING: "closing",
    S.CLOSED: "closed",
    S.ENDED: "closed",
}

TRANSITIONS: Final[dict[SessionState, dict[Event, SessionState]]] = {
    S.NEW: {E.CONNECT: S.CONNECTING, E.CLOSE: S.CLOSED, E.ABORT: S.CLOSED},
    S.CONNECTING: {E.OPENED: S.OPEN, E.END: S.ENDED, E.CLOSE: S.CLOSED, E.ABORT: S.CLOSED},
    S.OPEN: {E.CLOSE: S.CLOSING, E.ABORT: S.CLOSED, E.PEER_CLOSING: S.DRAINING, E.END: S.ENDED},
    # A second close() waits for the first; the protocol leaves OPEN on our own close frame too.
    S.CLOSING: {E.CLOSE: S.CLOSING, E.PEER_CLOSING: S.CLOSING, E.ABORT: S.CLOSED, E.END: S.CLOSED},
    # The peer closed first: a close() waits for the end, an abort() only ends it sooner.
    S.DRAINING: {E.CLOSE: S.DRAINING, E.PEER_CLOSING: S.DRAINING, E.ABORT: S.ENDED, E.END: S.ENDED},
    S.CLOSED: {event: S.CLOSED for event in Event if event is not E.CONNECT and event is not E.OPENED},
    S.ENDED: {event: S.ENDED for event in Event if event is not E.CONNECT and event is not E.OPENED},
}
"""``TRANSITIONS[state][event]`` is the next state; a missing entry is an illegal move."""


class IllegalTransition(RuntimeError):
    """An event the lifecycle table does not allow in the current state (a bug, or a misuse such
    as a second ``connect``). ``state`` and ``event`` record the move that was refused."""

    def __init__(self, state: SessionState, event: Event) -> None:
        self.state = state
        self.event = event
        super().__init__(f"can't handle event {event.value!r} in session state {state.value!r}")


class Lifecycle:
    """The current :class:`SessionState`, moved only through :data:`TRANSITIONS`."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = S.NEW

    def move(self, event: Event) -> SessionState:
        """Apply ``event``; return the state it was applied in (the caller can tell a first move
        from a repeated one). :class:`IllegalTransition` if the table has no such move."""
        before = self.state
        try:
            self.state = TRANSITIONS[before][event]
        except KeyError:
            raise IllegalTransition(before, event) from None
        return before

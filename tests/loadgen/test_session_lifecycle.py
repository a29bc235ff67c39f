"""loadgen.session.lifecycle: the transition table, with no socket; and the Session following it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from loadgen.session import ConnectionEnded, Session
from loadgen.session.lifecycle import TRANSITIONS, Event, IllegalTransition, Lifecycle, SessionState

S, E = SessionState, Event
ALL_MOVES = [(state, event) for state in S for event in E]


def at(state: SessionState) -> Lifecycle:
    life = Lifecycle()
    life.state = state
    return life


@pytest.mark.parametrize(("state", "event"), ALL_MOVES, ids=[f"{s.value}-{e.value}" for s, e in ALL_MOVES])
def test_every_move_is_in_the_table_or_refused_by_name(state: SessionState, event: Event) -> None:
    """A move the table has goes where it says; any other raises IllegalTransition recording the
    state and event, and leaves the state as it was."""
    life = at(state)
    if event in TRANSITIONS[state]:
        assert life.move(event) is state
        assert life.state is TRANSITIONS[state][event]
    else:
        with pytest.raises(IllegalTransition) as info:
            life.move(event)
        assert (info.value.state, info.value.event) == (state, event)
        assert repr(event.value) in str(info.value) and repr(state.value) in str(info.value)
        assert life.state is state


@pytest.mark.parametrize("final", [S.CLOSED, S.ENDED])
def test_who_ended_it_first_stays(final: SessionState) -> None:
    """Once CLOSED (by this side) or ENDED (by the peer), every later end leaves it so."""
    for event in (E.CLOSE, E.ABORT, E.END, E.PEER_CLOSING):
        life = at(final)
        life.move(event)
        assert life.state is final


@pytest.mark.parametrize(
    ("events", "final"),
    [
        ([E.CONNECT, E.OPENED, E.CLOSE, E.PEER_CLOSING, E.END], S.CLOSED),  # our close, answered
        ([E.CONNECT, E.OPENED, E.PEER_CLOSING, E.CLOSE, E.END], S.ENDED),  # theirs, then ours
        ([E.CONNECT, E.OPENED, E.END], S.ENDED),  # EOF, no close frame
        ([E.CONNECT, E.OPENED, E.ABORT], S.CLOSED),
        ([E.CONNECT, E.END], S.ENDED),  # refused, timed out
        ([E.CONNECT, E.CLOSE], S.CLOSED),  # closed before the 101
        ([E.CLOSE], S.CLOSED),  # before connect
    ],
)
def test_paths(events: list[Event], final: SessionState) -> None:
    """The ways a session goes end where who ended it says."""
    life = Lifecycle()
    for event in events:
        life.move(event)
    assert life.state is final


def test_connect_only_once() -> None:
    """A second connect is refused by name, whatever the first one ended in."""
    for state in S:
        if state is not S.NEW:
            with pytest.raises(IllegalTransition):
                at(state).move(E.CONNECT)


def test_public_names() -> None:
    """Every state shows as one of the four names Session.state has always had."""
    assert {state.public for state in S} == {"connecting", "open", "closing", "closed"}


def test_session_follows_the_table(peer: Callable[..., Any]) -> None:
    """A Session goes NEW, OPEN, CLOSED through its own close; a second connect is refused by name."""
    p = peer()
    session = Session("ws://test.invalid/ws", socket_factory=p.factory)
    assert session.lifecycle is S.NEW
    session.connect()
    assert session.lifecycle is S.OPEN
    assert session.close() == 1000
    assert session.lifecycle is S.CLOSED
    with pytest.raises(IllegalTransition) as info:
        session.connect()
    assert info.value.state is S.CLOSED


def test_session_ended_by_the_peer(peer: Callable[..., Any]) -> None:
    """The peer's close makes the session ENDED, and a close() after it keeps it so."""
    p = peer(auto=False)
    session = Session("ws://test.invalid/ws", socket_factory=p.factory)
    session.connect()
    p.close_with(4001)
    with pytest.raises(ConnectionEnded, match="4001"):
        session.recv(5)
    assert session.lifecycle is S.ENDED
    assert session.close() == 4001
    assert session.lifecycle is S.ENDED

"""RaceUser.iteration: every iteration ends in exactly one counted outcome, whatever escapes it."""

from __future__ import annotations

import contextlib
from typing import Any

import gevent
import pytest
from gevent import GreenletExit

from loadgen.errors import SeqGap
from loadgen.user import ITERATION, RaceUser
from tests.in_locust.users import user_with_events


@pytest.fixture
def user_and_events() -> tuple[RaceUser, list[dict[str, Any]]]:
    return user_with_events("unit")


def _tally(user: RaceUser):
    return user.ctx.collector.tallies()["unit"]


def test_a_finished_block_is_one_success(user_and_events) -> None:
    """No exception: one success, one iteration event without exception."""
    user, events = user_and_events
    with user.iteration():
        pass
    assert _tally(user).successes == 1
    assert [(e["name"], e["exception"]) for e in events] == [(ITERATION, None)]


def test_a_scenario_failure_is_counted_by_kind_and_ends_the_iteration(user_and_events) -> None:
    """A ScenarioFailure fails the iteration with its kind and does not propagate."""
    user, events = user_and_events
    with user.iteration():
        raise SeqGap(3, 5)
    assert dict(_tally(user).failures_by_kind) == {"seq_gap": 1}
    assert isinstance(events[-1]["exception"], SeqGap)


def test_a_stray_gevent_timeout_is_a_timeout_failure(user_and_events) -> None:
    """gevent.Timeout is a BaseException: it must still be counted, not end the user."""
    user, _ = user_and_events
    with user.iteration():
        raise gevent.Timeout(2.0)
    assert dict(_tally(user).failures_by_kind) == {"timeout": 1}


def test_a_stopped_user_is_interrupted_never_a_success(user_and_events) -> None:
    """GreenletExit (Locust stopping the user) counts as interrupted and propagates."""
    user, events = user_and_events
    with pytest.raises(GreenletExit), user.iteration():
        raise GreenletExit()
    tally = _tally(user)
    assert (tally.interrupted, tally.successes, tally.failures) == (1, 0, 0)
    assert events == []


def test_a_bug_in_scenario_code_is_counted_and_propagates(user_and_events) -> None:
    """Any other exception is a client_error failure (results never lost) and reaches Locust's log."""
    user, _ = user_and_events
    with pytest.raises(ZeroDivisionError), user.iteration():
        1 / 0  # noqa: B018
    assert dict(_tally(user).failures_by_kind) == {"client_error": 1}


def test_a_keyboard_interrupt_is_interrupted_and_propagates(user_and_events) -> None:
    """Any other BaseException that ends the user mid-iteration (KeyboardInterrupt) counts as interrupted."""
    user, events = user_and_events
    with pytest.raises(KeyboardInterrupt), user.iteration():
        raise KeyboardInterrupt
    tally = _tally(user)
    assert (tally.interrupted, tally.successes, tally.failures) == (1, 0, 0)
    assert events == []


def test_every_iteration_started_is_an_attempt_with_exactly_one_outcome(user_and_events) -> None:
    """attempts = successes + failures + interrupted, whatever ended each iteration."""
    user, _ = user_and_events
    endings: list[BaseException | None] = [None, SeqGap(1, 2), GreenletExit(), None, ZeroDivisionError(),
                                            gevent.Timeout(1.0), KeyboardInterrupt()]
    for ending in endings:
        escapes = isinstance(ending, GreenletExit | ZeroDivisionError | KeyboardInterrupt)
        with pytest.raises(type(ending)) if escapes else contextlib.nullcontext(), user.iteration():
            if ending is not None:
                raise ending
    tally = _tally(user)
    assert tally.attempts == len(endings)
    assert tally.attempts == tally.successes + tally.failures + tally.interrupted
    assert (tally.successes, tally.failures, tally.interrupted) == (2, 3, 2)

"""The reporting path the benchmark measures, ``RaceUser.step``: one Locust request event per
step, a scenario failure reported on the step and re-raised, anything else never reported."""

from __future__ import annotations

from typing import Any

import pytest
from gevent import GreenletExit

from loadgen.errors import StepTimeout
from loadgen.user import RaceUser
from tests.in_locust.users import user_with_events


@pytest.fixture
def user_and_events() -> tuple[RaceUser, list[dict[str, Any]]]:
    return user_with_events("bench")


def test_success_is_one_event(user_and_events) -> None:
    """A step that finishes fires exactly one request event, named by scenario and step, no exception."""
    user, events = user_and_events
    with user.step("echo"):
        pass
    (event,) = events
    assert (event["request_type"], event["name"], event["exception"]) == ("bench", "echo", None), event
    assert event["response_time"] >= 0


def test_failure_is_reported_and_propagates(user_and_events) -> None:
    """A ScenarioFailure in a step is the step's one event, and the same exception is re-raised."""
    user, events = user_and_events
    failure = StepTimeout("echo", 1.0)
    with pytest.raises(StepTimeout) as raised, user.step("echo"):
        raise failure
    assert raised.value is failure
    assert [e["exception"] for e in events] == [failure], events


@pytest.mark.parametrize("exc", [ValueError("a bug"), GreenletExit()], ids=["bug", "stop"])
def test_anything_else_propagates_unreported(user_and_events, exc: BaseException) -> None:
    """A bug (ValueError) or Locust stopping the user (GreenletExit) passes through with no event."""
    user, events = user_and_events
    with pytest.raises(type(exc)) as raised, user.step("echo"):
        raise exc
    assert raised.value is exc
    assert events == [], events

"""The reporting path the benchmark measures, ``RaceUser.step``: one Locust request event per
step, a scenario failure reported on the step and re-raised, anything else never reported."""

from __future__ import annotations

from typing import Any

import pytest
from gevent import GreenletExit
from locust import task
from locust.env import Environment

from loadgen.errors import StepTimeout
from loadgen.user import RaceUser


class _User(RaceUser):
    scenario = "bench"

    @task
    def nothing(self) -> None:
        pass


@pytest.fixture
def fired() -> tuple[_User, list[dict[str, Any]]]:
    env = Environment(user_classes=[_User], host="ws://127.0.0.1:1")
    events: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kwargs: events.append(kwargs))
    return _User(env), events


def test_a_step_that_succeeds_is_one_event(fired: tuple[_User, list[dict[str, Any]]]) -> None:
    user, events = fired
    with user.step("echo"):
        pass
    (event,) = events
    assert (event["request_type"], event["name"], event["exception"]) == ("bench", "echo", None)
    assert event["response_time"] >= 0


def test_a_failure_is_reported_on_the_step_and_propagates(fired: tuple[_User, list[dict[str, Any]]]) -> None:
    user, events = fired
    failure = StepTimeout("echo", 1.0)
    with pytest.raises(StepTimeout) as raised, user.step("echo"):
        raise failure
    assert raised.value is failure
    assert [e["exception"] for e in events] == [failure]


@pytest.mark.parametrize("exc", [ValueError("a bug"), GreenletExit()])
def test_other_exceptions_propagate_unreported(exc: BaseException, fired: tuple[_User, list[dict[str, Any]]]) -> None:
    user, events = fired
    with pytest.raises(type(exc)), user.step("echo"):
        raise exc
    assert events == []

"""A bare RaceUser on a real Locust Environment, with every request event it fires recorded."""

from __future__ import annotations

from typing import Any

from locust import task
from locust.env import Environment

from loadgen.user import RaceUser


def user_with_events(scenario: str) -> tuple[RaceUser, list[dict[str, Any]]]:
    """A RaceUser of ``scenario`` whose only task does nothing (tests drive its iterations and steps
    by hand), and the list its Environment's ``request`` events are appended to."""

    class _User(RaceUser):
        @task
        def nothing(self) -> None:
            pass

    _User.scenario = scenario
    env = Environment(user_classes=[_User], host="ws://127.0.0.1:1")
    events: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kwargs: events.append(kwargs))
    return _User(env), events

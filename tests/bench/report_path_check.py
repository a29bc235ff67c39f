"""The checks of ``test_report_path.py``, run in a child process: importing Locust patches the
whole interpreter with gevent, so they never run inside the main pytest process.

``python -m tests.bench.report_path_check NAME`` runs one check; exit 0 and ``ok`` if it held.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

# isort: split
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from gevent import GreenletExit  # noqa: E402
from locust import task  # noqa: E402
from locust.env import Environment  # noqa: E402

from loadgen.errors import StepTimeout  # noqa: E402
from loadgen.user import RaceUser  # noqa: E402


class _User(RaceUser):
    scenario = "bench"

    @task
    def nothing(self) -> None:
        pass


def _fired() -> tuple[_User, list[dict[str, Any]]]:
    env = Environment(user_classes=[_User], host="ws://127.0.0.1:1")
    events: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kwargs: events.append(kwargs))
    return _User(env), events


def success_is_one_event() -> None:
    user, events = _fired()
    with user.step("echo"):
        pass
    (event,) = events
    assert (event["request_type"], event["name"], event["exception"]) == ("bench", "echo", None), event
    assert event["response_time"] >= 0


def failure_is_reported_and_propagates() -> None:
    user, events = _fired()
    failure = StepTimeout("echo", 1.0)
    try:
        with user.step("echo"):
            raise failure
    except StepTimeout as exc:
        assert exc is failure
    else:
        raise AssertionError("the failure did not propagate")
    assert [e["exception"] for e in events] == [failure], events


def _unreported(exc: BaseException) -> None:
    user, events = _fired()
    try:
        with user.step("echo"):
            raise exc
    except type(exc) as caught:
        assert caught is exc
    else:
        raise AssertionError("the exception did not propagate")
    assert events == [], events


def bug_propagates_unreported() -> None:
    _unreported(ValueError("a bug"))


def stop_propagates_unreported() -> None:
    _unreported(GreenletExit())


CHECKS: dict[str, Callable[[], None]] = {
    f.__name__: f
    for f in (success_is_one_event, failure_is_reported_and_propagates, bug_propagates_unreported,
              stop_propagates_unreported)
}

if __name__ == "__main__":
    CHECKS[sys.argv[1]]()
    print("ok")

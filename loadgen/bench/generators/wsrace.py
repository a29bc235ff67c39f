"""The subject: Locust users built on wsrace's own parts, as a race scenario is.

Users are :class:`loadgen.user.RaceUser` subclasses on :class:`loadgen.session.Session`, timing
each unit with ``RaceUser.step`` (so every round trip, or every storm connection, is one Locust
request event through ``RaceUser.report``). Run with
``python -m loadgen.bench.generators.wsrace --workload roundtrip --url ws://... --connections N``.
"""

# ruff: noqa: E402 - gevent patches the standard library before anything else imports it
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

# isort: split

import sys
from collections.abc import Sequence
from time import perf_counter

from locust import task

from loadgen.bench.generators.locust_harness import main, window_of
from loadgen.bench.workloads import echo_message
from loadgen.errors import BadReply
from loadgen.session import Session
from loadgen.user import RaceUser

MESSAGE = echo_message()


class _BenchUser(RaceUser):
    abstract = True
    scenario = "bench"

    def on_start(self) -> None:
        self.window = window_of(self.environment)
        args = self.window.args
        self.timeout = args.timeout
        self.headers = args.headers

    def _session(self) -> Session:
        return Session(self.host or "", headers=self.headers, connect_timeout=self.timeout)


def _echo(session: Session, timeout: float) -> None:
    session.send(MESSAGE)
    if session.recv(timeout, "echo") != MESSAGE:
        raise BadReply("echo: the reply is not the message sent")


class RoundTripUser(_BenchUser):
    """One connection; each task call is one echo round trip, reported as one ``echo`` request."""

    def on_start(self) -> None:
        super().on_start()
        self.session = self._session()
        self.session.connect()
        self.window.user_ready()

    @task
    def round_trip(self) -> None:
        if perf_counter() >= self.window.deadline:
            self.window.park()
        with self.step("echo"):
            _echo(self.session, self.timeout)


class StormUser(_BenchUser):
    """Each task call: connect, one echo, close, reported as one ``cycle`` request."""

    def on_start(self) -> None:
        super().on_start()
        self.window.user_ready()

    @task
    def cycle(self) -> None:
        if perf_counter() >= self.window.deadline:
            self.window.park()
        with self.step("cycle"), self._session() as session:
            session.connect()
            _echo(session, self.timeout)


class IdleUser(_BenchUser):
    """Opens its connection after ``go``, then waits for a message that never comes."""

    def on_start(self) -> None:
        super().on_start()
        self.window.user_ready()
        self.session = self._session()
        self.session.connect()
        self.window.user_opened()

    @task
    def wait(self) -> None:
        self.session.recv(self.window.args.duration + 3600, "idle")


USERS = {"roundtrip": RoundTripUser, "storm": StormUser, "idle": IdleUser, "idle-target": IdleUser}


def run(argv: Sequence[str] | None = None) -> int:
    return main(USERS, argv, "python -m loadgen.bench.generators.wsrace")


if __name__ == "__main__":
    sys.exit(run())

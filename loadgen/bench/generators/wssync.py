"""Baseline: Locust users on ``websockets.sync.client``, in the same harness as wsrace's users.

The usual way to load-test WebSockets with Locust: plain :class:`locust.User` subclasses, a
``websockets.sync`` connection each (under gevent its background reader thread is a greenlet),
and one ``events.request.fire`` per round trip (per connection in the storm), timed with
``perf_counter`` as Locust's own clients do. Configured to do no more work than wsrace's session:
no compression offered, no keepalive pings, no proxy lookup in the environment per connect
(``proxy=None``), the message sent as pre-encoded text and the reply decoded straight from bytes.
Idle (``--secret``): each user connects with a token of its own and reads ``ready`` first.
"""

# ruff: noqa: E402 - gevent patches the standard library before anything else imports it
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

# isort: split

import sys
from collections.abc import Sequence
from time import perf_counter

import orjson
from locust import User, constant, task
from websockets.sync.client import ClientConnection, connect

from loadgen.bench.generators.control import check_ready, identity_headers
from loadgen.bench.generators.locust_harness import main, window_of
from loadgen.bench.workloads import echo_message

MESSAGE = echo_message()
ENCODED = orjson.dumps(MESSAGE)


class _BenchUser(User):
    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        self.window = window_of(self.environment)
        args = self.window.args
        self.timeout = args.timeout
        self.headers = args.headers

    def _connect(self, headers: dict[str, str] | None = None) -> ClientConnection:
        return connect(
            self.host or "",
            additional_headers=self.headers if headers is None else headers,
            compression=None,
            ping_interval=None,
            proxy=None,
            open_timeout=self.timeout,
        )

    def _report(self, name: str, started: float, exc: BaseException | None) -> None:
        self.environment.events.request.fire(
            request_type="bench",
            name=name,
            response_time=(perf_counter() - started) * 1000.0,
            response_length=0,
            exception=exc,
            context={},
        )


def _echo(ws: ClientConnection, timeout: float) -> None:
    ws.send(ENCODED, text=True)
    if orjson.loads(ws.recv(timeout, decode=False)) != MESSAGE:
        raise ValueError("echo: the reply is not the message sent")


class RoundTripUser(_BenchUser):
    def on_start(self) -> None:
        super().on_start()
        self.ws = self._connect()
        self.window.user_ready()

    @task
    def round_trip(self) -> None:
        if perf_counter() >= self.window.deadline:
            self.window.park()
        started = perf_counter()
        try:
            _echo(self.ws, self.timeout)
        except Exception as exc:
            self._report("echo", started, exc)
        else:
            self._report("echo", started, None)


class StormUser(_BenchUser):
    def on_start(self) -> None:
        super().on_start()
        self.window.user_ready()

    @task
    def cycle(self) -> None:
        if perf_counter() >= self.window.deadline:
            self.window.park()
        started = perf_counter()
        try:
            with self._connect() as ws:
                _echo(ws, self.timeout)
        except Exception as exc:
            self._report("cycle", started, exc)
        else:
            self._report("cycle", started, None)


class IdleUser(_BenchUser):
    def on_start(self) -> None:
        super().on_start()
        n = self.window.ready  # this user's number, 0..N-1, before it counts itself ready
        self.window.user_ready()
        secret = self.window.args.secret
        if secret is None:
            self.ws = self._connect()
        else:
            self.ws = self._connect(identity_headers(secret, n))
            check_ready(orjson.loads(self.ws.recv(self.timeout, decode=False)), n)
        self.window.user_opened()

    @task
    def wait(self) -> None:
        self.ws.recv(self.window.args.duration + 3600)


USERS = {"roundtrip": lambda: RoundTripUser, "storm": lambda: StormUser, "idle": lambda: IdleUser,
         "idle-bare": lambda: IdleUser, "idle-target": lambda: IdleUser}


def run(argv: Sequence[str] | None = None) -> int:
    return main(USERS, argv, "python -m loadgen.bench.generators.wssync")


if __name__ == "__main__":
    sys.exit(run())

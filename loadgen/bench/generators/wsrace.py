"""The subject: Locust users built on wsrace's own parts, as a race scenario is.

Users are :class:`loadgen.user.RaceUser` subclasses on :class:`loadgen.session.Session`, timing
each unit with ``RaceUser.step`` (so every round trip, or every storm connection, is one Locust
request event through ``RaceUser.report``). Run with
``python -m loadgen.bench.generators.wsrace --workload roundtrip --url ws://... --connections N``.

Idle (``idle``, ``idle-target``) runs **the hold scenario's own user** (``scenarios/hold.py``,
``HoldUser``, loaded from its file as Locust loads a locustfile): a RaceUser with its identity and
token, an authenticated :class:`~loadgen.client.ProtocolClient` that read ``ready``, holding it in
``client.read`` inside an iteration, exactly what ``wsrace run --profile hold`` holds per session.
Only two hooks are added (counted ready before ``go``, counted open after its first connect), and
the hold interval is set past the window so that no keep-alive echo falls in it. ``idle-bare`` is
the old idle workload: a bare :class:`~loadgen.session.Session` per user, no token, no client.
"""

# ruff: noqa: E402 - gevent patches the standard library before anything else imports it
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

# isort: split

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from time import perf_counter
from typing import Any

from locust import task

from loadgen.bench.generators.control import Args
from loadgen.bench.generators.locust_harness import main, window_of
from loadgen.bench.workloads import echo_message
from loadgen.errors import BadReply
from loadgen.paths import SCENARIOS_DIR
from loadgen.protocol.wire import WS_PATH
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


class BareIdleUser(_BenchUser):
    """``idle-bare``: opens a bare session after ``go`` (no token, no client), then waits."""

    def on_start(self) -> None:
        super().on_start()
        self.window.user_ready()
        self.session = self._session()
        self.session.connect()
        self.window.user_opened()

    @task
    def wait(self) -> None:
        self.session.recv(self.window.args.duration + 3600, "idle")


HOLD_INTERVAL_S = 24 * 3600.0
"""The idle hold's keep-alive period: far past any window, so the window holds, never echoes."""


def hold_user() -> type[RaceUser]:
    """The hold scenario's ``HoldUser`` with the window's two hooks, nothing else changed."""
    spec = importlib.util.spec_from_file_location("wsrace_bench_hold", SCENARIOS_DIR / "hold.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {SCENARIOS_DIR / 'hold.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class HoldIdleUser(module.HoldUser):  # type: ignore[name-defined,misc]
        def on_start(self) -> None:
            # A scenario's host is the target's base URL (``--host``), to which the client adds
            # the protocol's path; the benchmark hands every generator the WebSocket URL itself.
            if self.host and self.host.endswith(WS_PATH):
                self.host = self.host[: -len(WS_PATH)]
            super().on_start()
            self.window = window_of(self.environment)
            self._counted = False
            self.window.user_ready()

        def _session(self) -> Any:
            client = super()._session()
            if not self._counted:
                self._counted = True
                self.window.user_opened()
            return client

    return HoldIdleUser


def options(args: Args) -> argparse.Namespace:
    """What ``locust`` would parse for the hold scenario: the secret its tokens are minted with,
    and a hold interval past the window."""
    return argparse.Namespace(secret=args.secret, hold_interval=HOLD_INTERVAL_S)


USERS = {"roundtrip": lambda: RoundTripUser, "storm": lambda: StormUser, "idle": hold_user,
         "idle-bare": lambda: BareIdleUser, "idle-target": hold_user}


def run(argv: Sequence[str] | None = None) -> int:
    return main(USERS, argv, "python -m loadgen.bench.generators.wsrace", options)


if __name__ == "__main__":
    sys.exit(run())

"""Run one workload's Locust users for one measured window, the way ``locust --headless`` runs them.

Both Locust generators (``wsrace`` and ``wssync``) go through here, so the only difference between
them is the user class: a gevent-patched process, a real :class:`locust.env.Environment` with a
:class:`~locust.runners.LocalRunner` (whose ``events.request`` listener feeds the real
``RequestStats``, and whose CPU/memory monitor runs as usual), ``wait_time = constant(0)`` and one
task call per unit of work. Not started: the web UI and the console stats printer.

Users meet at a :class:`Window`: each is spawned before ``ready`` (round trips: already connected),
waits for ``go``, then works until the deadline, when it parks. Counts and latencies come from
Locust's own stats, i.e. from the request events the users fired.
"""

# ruff: noqa: E402 - gevent patches the standard library before anything else imports it
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

# isort: split

import gc
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any, NoReturn

import gevent
from gevent.event import Event
from gevent.socket import wait_read
from locust import User
from locust.env import Environment
from locust.exception import StopUser

from loadgen.bench.generators.control import STDIN, Args, LineBuffer, parse_args, raise_fd_limit, say

__all__ = ["Window", "main", "window_of"]

WINDOW_ATTR = "wsrace_bench_window"
SETTLE_S = 1.0
"""Idle: how long to let both sides settle after the last connection opened, before sampling."""


class Window:
    """What one generator's users share: the go signal, the deadline, and who got where."""

    def __init__(self, args: Args) -> None:
        self.args = args
        self.expected = args.connections
        self.started = 0.0
        self.deadline = math.inf
        self.last_park = 0.0
        self.ready = 0
        self.opened = 0
        self.parked = 0
        self._go = Event()
        self._exit = Event()
        self.all_ready = Event()
        self.all_opened = Event()
        self.all_parked = Event()

    def user_ready(self) -> None:
        """A user is set up (spawned; round trips: connected) and waits for ``go``."""
        self.ready += 1
        if self.ready >= self.expected:
            self.all_ready.set()
        self._go.wait()

    def user_opened(self) -> None:
        """Idle: a user's connection is open."""
        self.opened += 1
        if self.opened >= self.expected:
            self.all_opened.set()

    def open(self) -> None:
        self.started = perf_counter()
        self.deadline = self.started + self.args.duration
        self._go.set()

    def park(self) -> NoReturn:
        """The deadline passed: count this user as done, and stop it once the parent says exit."""
        self.parked += 1
        self.last_park = perf_counter()
        if self.parked >= self.expected:
            self.all_parked.set()
        self._exit.wait()
        raise StopUser()

    def close(self) -> None:
        self._exit.set()


def window_of(environment: Any) -> Window:
    return getattr(environment, WINDOW_ATTR)  # type: ignore[no-any-return]


class _Commands:
    """The parent's words on stdin, read without blocking the hub."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._buffer = LineBuffer()

    def expect(self, word: str, timeout: float) -> None:
        while not self._lines:
            wait_read(STDIN, timeout, timeout_exc=TimeoutError(f"no {word!r} from the parent in {timeout} s"))
            self._lines += self._buffer.feed(os.read(STDIN, 4096))
        got = self._lines.pop(0)
        if got != word:
            raise RuntimeError(f"expected {word!r} from the parent, got {got!r}")


def _wait(event: Event, timeout: float, what: Callable[[], str], runner: Any = None) -> None:
    """Wait for ``event``. With ``runner``, fail at once if a user died getting there (e.g. its
    connect was refused); in the window a failure is counted, not fatal: users carry on."""
    deadline = perf_counter() + timeout
    while not event.wait(min(0.2, max(0.0, deadline - perf_counter()))):
        if runner is not None and runner.exceptions:
            raise RuntimeError(f"{what()}: a user failed: {_first_error(runner.environment, runner)}")
        if perf_counter() >= deadline:
            raise TimeoutError(f"{what()} within {timeout:.0f} s")


def _run(user_class: type[User], args: Args, options: Any = None) -> None:
    env = Environment(user_classes=[user_class], host=args.url, parsed_options=options)
    window = Window(args)
    setattr(env, WINDOW_ATTR, window)
    runner = env.create_local_runner()
    commands = _Commands()
    n = args.connections
    try:
        runner.start(n, spawn_rate=n)
        _wait(window.all_ready, args.timeout + 5, lambda: f"only {window.ready} of {n} users were ready", runner)
        gc.collect()
        say("ready")
        commands.expect("go", args.timeout + 60)
        window.open()
        if args.workload.startswith("idle"):
            _wait(window.all_opened, args.timeout + 5,
                  lambda: f"only {window.opened} of {n} connections opened", runner)
            elapsed = perf_counter() - window.started
            gevent.sleep(SETTLE_S)
            gc.collect()
        else:
            _wait(window.all_parked, args.duration + args.timeout + 5,
                  lambda: f"only {window.parked} of {n} users finished")
            elapsed = window.last_park - window.started
        total = env.stats.total
        say(
            "done",
            count=window.opened if args.workload.startswith("idle") else total.num_requests,
            failures=total.num_failures,
            exceptions=sum(e["count"] for e in runner.exceptions.values()),
            elapsed_s=elapsed,
            p50_ms=total.get_response_time_percentile(0.5) if total.num_requests else None,
            p99_ms=total.get_response_time_percentile(0.99) if total.num_requests else None,
            first_error=_first_error(env, runner),
        )
        commands.expect("exit", 120)
    finally:
        window.close()
        runner.quit()


def _first_error(env: Environment, runner: Any) -> str | None:
    for error in env.stats.errors.values():
        return f"{error.name}: {error.error}"
    for error in runner.exceptions.values():
        return str(error["msg"])
    return None


def main(users: Mapping[str, Callable[[], type[User]]], argv: Sequence[str] | None, prog: str,
         options: Callable[[Args], Any] | None = None) -> int:
    """Run the user class of ``--workload`` (made by its factory), with Locust's parsed options
    ``options(args)`` (as ``locust`` would hand them to the users); report ``error`` to the parent
    on any failure."""
    raise_fd_limit()
    try:
        args = parse_args(argv, prog)
        _run(users[args.workload](), args, options(args) if options else None)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        say("error", message=f"{type(exc).__name__}: {exc}")
        return 3
    return 0

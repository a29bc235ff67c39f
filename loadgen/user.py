"""The Locust user base class of every wsrace scenario.

A scenario is a :class:`RaceUser` subclass with a ``scenario`` name and tasks that each run one
**iteration** inside ``with self.iteration():``. An iteration ends in exactly one outcome:

- success: the block finished;
- failure: a :class:`~loadgen.errors.ScenarioFailure` escaped it (its ``kind`` is counted);
- interrupted: the user was stopped mid-way (end of a stage or of the run) — never a success.

So ``error_rate = failed iterations / iterations``, and every iteration started is counted as an
attempt first: at the end, ``attempts = successes + failures + interrupted``. Steps inside an iteration are timed with
``with self.step("name"):`` and reported to Locust's ``events.request`` as
``request_type = scenario``, ``name = step``, with the real response time, and on failure the
exception itself (its class name is the error kind Locust shows). While Locust's own stats are the
only listener, :mod:`loadgen.fast_stats` writes each request into them directly, with the same
numbers; any other listener gets every request as the event.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import gevent
from gevent import GreenletExit
from locust import User, constant
from locust.exception import StopUser

from loadgen import plugin  # noqa: F401 - registers wsrace's options and verdict with Locust
from loadgen.backoff import Backoff
from loadgen.client import AUTH_MODES, AuthMode, ProtocolClient
from loadgen.context import run_context
from loadgen.errors import ScenarioFailure, StepTimeout
from loadgen.fast_stats import feed_of
from loadgen.tokens_source import Identity

__all__ = ["ITERATION", "RaceUser"]

log = logging.getLogger(__name__)

ITERATION = "iteration"
"""The step name under which each whole iteration is reported (its error rate is the scenario's)."""


class _Step:
    """The context manager of :meth:`RaceUser.step`: on leaving, one request event with the time
    since entering; a :class:`~loadgen.errors.ScenarioFailure` is reported on the step and
    propagates, any other exception (a bug, the user being stopped) propagates unreported.

    A class rather than a ``@contextmanager`` generator: it wraps every request a scenario makes,
    and the generator machinery cost about as much as wsrace's own part of the report (10k of the
    47k instructions of a reported step, measured with callgrind; see docs/benchmark.md).
    """

    __slots__ = ("_name", "_started", "_user")

    def __init__(self, user: RaceUser, name: str) -> None:
        self._user = user
        self._name = name
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self._user.report(self._name, self._started, None)
        elif isinstance(exc, ScenarioFailure):
            self._user.report(self._name, self._started, exc)


class RaceUser(User):
    """Base of the race scenarios: identity, iterations, timed steps, and client helpers."""

    abstract = True
    scenario: ClassVar[str] = ""
    wait_time = constant(0)
    reply_timeout: ClassVar[float] = 5.0
    connect_timeout: ClassVar[float] = 5.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if not self.scenario:
            raise TypeError(f"{type(self).__name__} must set the class attribute 'scenario'")
        self.ctx = run_context(environment)
        self.identity = self.ctx.tokens.identity(f"{self.scenario}-{uuid.uuid4().hex[:12]}")
        self._open: list[ProtocolClient] = []
        self._auth_turn = 0
        self._backoff = Backoff()
        self._stats = feed_of(environment)

    # ------------------------------------------------------------------ reporting

    def report(self, name: str, started: float, exc: BaseException | None, length: int = 0) -> None:
        """Report one timed request to Locust (``started`` from time.perf_counter()): the request
        event, or straight into Locust's stats while they are its only listener."""
        self._stats.request(self.scenario, name, (time.perf_counter() - started) * 1000.0, length, exc)

    def step(self, name: str) -> _Step:
        """Time one step and report it; a failure is reported on the step, then propagates."""
        return _Step(self, name)

    @contextmanager
    def iteration(self) -> Iterator[None]:
        """One unit of the scenario's error rate (see the module docstring). After iterations that
        failed at once, again and again, it first waits (:mod:`loadgen.backoff`)."""
        if self._backoff.delay_s:
            gevent.sleep(self._backoff.delay_s)  # before the attempt: a stop here counts nothing
        started = time.perf_counter()
        self.ctx.collector.attempt(self.scenario)
        try:
            yield
        except ScenarioFailure as exc:
            self._iteration_failed(started, exc.kind, exc)
        except (GreenletExit, StopUser):
            self._iteration_interrupted()
            raise
        except gevent.Timeout as exc:
            # A gevent deadline in scenario code that nothing turned into a StepTimeout. It is a
            # BaseException: uncaught, it would end the user and lose the iteration.
            failure = StepTimeout(f"{self.scenario} (gevent deadline)", float(exc.seconds or 0))
            self._iteration_failed(started, failure.kind, failure)
        except Exception as exc:
            # A bug in scenario code, not a server finding: count it so results are never lost, and
            # let Locust log the traceback.
            self._iteration_failed(started, "client_error", exc)
            raise
        except BaseException:
            # Anything else that ends the user here (a KeyboardInterrupt, SystemExit) cut the
            # iteration short: it is counted, so that attempts = successes + failures + interrupted.
            self._iteration_interrupted()
            raise
        else:
            self._backoff.succeeded()
            self.ctx.collector.success(self.scenario)
            self.report(ITERATION, started, None)

    def _iteration_interrupted(self) -> None:
        self.ctx.collector.interrupted(self.scenario)
        self._drop_clients()

    def _iteration_failed(self, started: float, kind: str, exc: BaseException) -> None:
        self._backoff.failed(time.perf_counter() - started)
        self.ctx.collector.failure(self.scenario, kind)
        self.report(ITERATION, started, exc)
        self._drop_clients()

    # ------------------------------------------------------------------ clients

    def next_auth_mode(self) -> AuthMode:
        """Header, query and in-band authentication in turn."""
        mode = AUTH_MODES[self._auth_turn % len(AUTH_MODES)]
        self._auth_turn += 1
        return mode

    def connect(self, *, mode: AuthMode = "header", pipeline: tuple[dict[str, Any], ...] = (),
                identity: Identity | None = None, **options: Any):
        """Open an authenticated client (ready not yet read); it is aborted if the user stops.
        ``identity``: another user's (default: this user's own)."""
        identity = identity or self.identity
        client = ProtocolClient.open(
            self.host or "",
            identity.user,
            identity.token,
            mode=mode,
            pipeline=pipeline,
            connect_timeout=self.connect_timeout,
            reply_timeout=self.reply_timeout,
            **options,
        )
        self._open.append(client)
        return client

    def record_close(self, code: int | None) -> None:
        self.ctx.collector.close_code(self.scenario, code)

    def forget(self, client: ProtocolClient) -> None:
        if client in self._open:
            self._open.remove(client)

    def _drop_clients(self) -> None:
        for client in self._open:
            client.session.abort()
        self._open.clear()

    def on_stop(self) -> None:
        self._drop_clients()

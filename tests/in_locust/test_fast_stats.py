"""loadgen.fast_stats: the fast reporting path gives Locust's stats exactly what the plain request
event gives them, and any other listener of ``events.request`` gets every request as the event.

The comparison drives one sequence of requests (successes and ScenarioFailure failures, response
times in every bucket range, lengths, two scenarios, across simulated seconds with gaps) into two
real Locust environments, each with its runner's stats listener: one through
:class:`~loadgen.fast_stats.StatsFeed`, one through ``events.request.fire`` as a plain Locust client
reports. After every request, every field of every ``StatsEntry`` (``Aggregated`` included) and the
``errors`` table must be equal; on a worker's stats, so must every report to the master and what
the master makes of them. The clock is simulated: Locust's ``time.time()`` (patched in
``locust.stats`` for both sides) and the feed's clock are the same function.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import locust.stats as locust_stats
import pytest
from locust import task
from locust.env import Environment
from locust.event import Events
from locust.stats import RequestStats, StatsEntry, setup_distributed_stats_event_listeners

from loadgen.errors import BadReply, ScenarioFailure, SeqGap, StepTimeout
from loadgen.fast_stats import StatsFeed, feed_of, locust_stats_listener
from loadgen.user import ITERATION, RaceUser

START = 1_780_000_000.25
"""The simulated clock's start, in seconds since the epoch (a quarter past a whole second)."""
TO_NEXT_SECOND = -1.0
"""An advance that puts the clock exactly on the next whole second (a boundary case of the buckets)."""
REPORT_EVERY = 25
"""Requests between two worker reports to the master in the worker comparison."""


class SimClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@dataclass(frozen=True)
class Request:
    advance: float
    """Seconds the clock moves before this request; :data:`TO_NEXT_SECOND`: to the next whole second."""
    method: str
    name: str
    response_time: float
    length: int
    exception: ScenarioFailure | None


def _sequence(seed: int, count: int) -> list[Request]:
    """Requests across a few simulated seconds: mostly small steps, some whole seconds skipped, some
    exactly on a whole second;
    response times under 100 ms (half-ms values included, rounded half to even), hundreds,
    thousands, tens of thousands; every tenth or so a failure of one of three kinds."""
    rng = random.Random(seed)
    failures: list[ScenarioFailure] = [StepTimeout("echo", 5.0), SeqGap(3, 5), BadReply("echo: not the message")]
    out = []
    for i in range(count):
        advance = rng.choice([0.0, 0.001, 0.013, 0.2, 0.61, 1.0, 2.5, TO_NEXT_SECOND]) if i else 0.0
        scale = rng.choice([1, 1, 1, 10, 100, 1000])
        response_time = rng.choice([rng.uniform(0, 99.9), rng.randrange(0, 200) / 2]) * scale
        exception = rng.choice(failures) if rng.random() < 0.12 else None
        out.append(Request(advance, rng.choice(["race", "steady"]), rng.choice(["echo", "connect", ITERATION]),
                           response_time, rng.randrange(0, 5000), exception))
    return out


def _advance(clock: SimClock, seconds: float) -> None:
    clock.now = math.floor(clock.now) + 1.0 if seconds == TO_NEXT_SECOND else clock.now + seconds


def _entry_fields(entry: StatsEntry) -> dict[str, Any]:
    """Every attribute of a StatsEntry but its back-reference to the RequestStats."""
    return {key: value for key, value in vars(entry).items() if key != "stats"}


def _stats_fields(stats: RequestStats) -> dict[str, Any]:
    """Everything a RequestStats holds: every entry's fields, the total's, the errors table."""
    return {
        "entries": {key: _entry_fields(entry) for key, entry in stats.entries.items()},
        "order": list(stats.entries),
        "total": _entry_fields(stats.total),
        "errors": {key: vars(error) for key, error in stats.errors.items()},
    }


def _outputs(stats: RequestStats) -> dict[str, Any]:
    """What Locust's outputs compute from the stats: the web UI / CSV row of every entry and the
    total (rates, percentiles, current percentiles), and the errors as the web UI names them."""
    rows = {key: entry.to_dict() for key, entry in [*stats.entries.items(), ("total", stats.total)]}
    current = {key: [entry.get_current_response_time_percentile(p) for p in (0.5, 0.95)]
               for key, entry in stats.entries.items() if entry.use_response_times_cache}
    return {"rows": rows, "current": current, "errors": sorted(e.to_name() for e in stats.errors.values())}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimClock:
    """The simulated clock, as Locust's own ``time.time()`` too."""
    sim = SimClock(START)
    monkeypatch.setattr(locust_stats, "time", SimpleNamespace(time=sim.time))
    return sim


def _with_runners(count: int) -> Iterator[tuple[Environment, ...]]:
    """``count`` environments, each with a LocalRunner (its stats listener on ``events.request``)."""
    envs = tuple(Environment(host="ws://127.0.0.1:1") for _ in range(count))
    for env in envs:
        env.create_local_runner()
    yield envs
    for env in envs:
        assert env.runner is not None
        env.runner.quit()


@pytest.fixture
def environments(clock: SimClock) -> Iterator[tuple[Environment, ...]]:
    """Two environments with runners, made on the simulated clock."""
    yield from _with_runners(2)


@pytest.fixture
def env() -> Iterator[Environment]:
    """One environment with a runner, on the real clock."""
    for (one,) in _with_runners(1):
        yield one


def _fire(env: Environment, request: Request) -> None:
    """The plain path: the request event, with the arguments RaceUser.report gave it before."""
    env.events.request.fire(request_type=request.method, name=request.name, response_time=request.response_time,
                            response_length=request.length, exception=request.exception, context={})


def test_only_the_runners_listener_is_locusts_own(environments) -> None:
    """The runner's stats listener is recognised; a user's listener is not, and with it attached the
    feed fires events."""
    env, _ = environments
    feed = StatsFeed(env)
    (listener,) = env.events.request._handlers
    assert locust_stats_listener(listener, env)
    assert feed.direct()
    mine = env.events.request.add_listener(lambda **_: None)
    assert not locust_stats_listener(mine, env)
    assert not feed.direct()
    env.events.request.remove_listener(mine)
    assert feed.direct()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_path_stats_equal_the_plain_event_path(environments, clock: SimClock, seed: int) -> None:
    """Request by request, every field of Locust's stats and every output computed from them are
    the same whether the requests went through the feed or through the request event."""
    fast_env, plain_env = environments
    feed = StatsFeed(fast_env, clock=clock.time)
    sequence = _sequence(seed, 400)
    for request in sequence:
        _advance(clock, request.advance)
        assert feed.direct(), "the feed must write directly here, or this test compares the event path to itself"
        feed.request(request.method, request.name, request.response_time, request.length, request.exception)
        _fire(plain_env, request)
        assert _stats_fields(fast_env.stats) == _stats_fields(plain_env.stats), request
    assert _outputs(fast_env.stats) == _outputs(plain_env.stats)
    failures = sum(1 for r in sequence if r.exception is not None)
    assert (fast_env.stats.total.num_requests, fast_env.stats.total.num_failures) == (len(sequence), failures)
    assert 0 < failures < len(sequence)
    assert int(clock.now) - int(START) >= 3, "the sequence must span a few seconds"


def test_worker_reports_and_the_masters_merge_are_equal(clock: SimClock) -> None:
    """On a worker's stats (no response-time cache), each report to the master is the same from
    both paths, and so is the master's merge of them, errors included."""
    sides = []
    for _ in range(2):
        worker = Environment()
        worker.stats = RequestStats(use_response_times_cache=False)  # as create_worker_runner does
        worker.create_local_runner()
        setup_distributed_stats_event_listeners(worker.events, worker.stats)
        master_events, master_stats = Events(), RequestStats()
        setup_distributed_stats_event_listeners(master_events, master_stats)
        sides.append((worker, master_events, master_stats, []))
    feed = StatsFeed(sides[0][0], clock=clock.time)
    try:
        sequence = _sequence(7, 300)
        for i, request in enumerate(sequence, 1):
            _advance(clock, request.advance)
            assert feed.direct()
            feed.request(request.method, request.name, request.response_time, request.length, request.exception)
            _fire(sides[1][0], request)
            if i % REPORT_EVERY == 0 or i == len(sequence):
                for worker, master_events, _, reports in sides:
                    data: dict[str, Any] = {}
                    worker.events.report_to_master.fire(client_id="worker", data=data)
                    reports.append(data)
                    master_events.worker_report.fire(client_id="worker", data=data)
        assert sides[0][3] == sides[1][3]
        assert len(sides[0][3]) == -(-len(sequence) // REPORT_EVERY)
        assert _stats_fields(sides[0][2]) == _stats_fields(sides[1][2])
        assert sides[0][2].total.num_requests == len(sequence)
    finally:
        for worker, *_ in sides:
            assert worker.runner is not None
            worker.runner.quit()


class _Unit(RaceUser):
    scenario = "unit"

    @task
    def nothing(self) -> None:
        pass


def test_a_users_listener_sees_every_request_with_all_its_arguments(env: Environment) -> None:
    """With only Locust's stats listening, RaceUser steps go to the stats directly; a listener
    added then gets every later step as the request event, with every argument, and Locust's
    stats count every step either way."""
    user = _Unit(env)
    before, during = 5, 7
    for _ in range(before):
        with user.step("echo"):
            pass
    assert feed_of(env).direct()
    seen: list[dict[str, Any]] = []
    listener = env.events.request.add_listener(lambda **kwargs: seen.append(kwargs))
    failure = SeqGap(1, 3)
    for i in range(during):
        with pytest.raises(SeqGap) if i == 0 else contextlib.nullcontext(), user.step("echo"):
            if i == 0:
                raise failure
    env.events.request.remove_listener(listener)
    with user.step("echo"):
        pass
    assert len(seen) == during
    assert all(set(kwargs) == {"request_type", "name", "response_time", "response_length", "exception", "context"}
               for kwargs in seen), seen
    assert [(k["request_type"], k["name"], k["exception"]) for k in seen] == \
        [("unit", "echo", failure)] + [("unit", "echo", None)] * (during - 1)
    entry = env.stats.get("echo", "unit")
    assert (entry.num_requests, entry.num_failures) == (before + during + 1, 1)
    assert env.stats.total.num_requests == before + during + 1

"""A step's request reported to Locust without the event machinery, when only Locust's stats listen.

Every step of a scenario is a Locust request (``request_type`` = scenario, ``name`` = step). The
plain way, ``environment.events.request.fire(...)``, goes through ``EventHook.fire`` (a copy of the
handler list, a keyword dict, a ``try`` per handler), the runner's ``on_request`` listener and
``RequestStats.log_request``, i.e. two ``StatsEntry.log`` calls with a ``time.time()`` each: 35k of
the 41k instructions of a reported step (docs/benchmark.md). :class:`StatsFeed` writes the same
request into the same ``StatsEntry`` objects itself, at the same moment, when — and only when — the
one listener of ``events.request`` is the runner's own stats listener (:func:`locust_stats_listener`).
Any other listener (a user's ``@events.request.add_listener``, OpenTelemetry, Locust's
``PrintListener``, a CSV request logger, a second runner) switches it back to firing the event for
every request, with the same arguments as before; the check is made on every request, so a listener
added mid-run sees every request from then on.

Why the numbers are the same: nothing is batched or deferred. A success updates ``stats.total`` and
``stats.entries[(name, method)]`` exactly as ``StatsEntry.log`` does — the response-time cache
snapshot on entering a new second, ``num_requests``, the per-second bucket, ``last_request_timestamp``,
total/min/max response time, the histogram bucket (through ``locust.stats.bucket_response_time``,
looked up per call, so a replaced bucketing function still applies), the content length — with one
clock reading for both entries where Locust takes two a microsecond apart. A failure is rare and
goes through Locust's own ``log_request`` and ``log_error`` (the ``errors`` table keyed by the
exception). Every reader of Locust's stats (web UI, CSV, HTML report, worker reports, the verdict)
therefore sees at every moment what the plain path would have written; ``tests/in_locust/
test_fast_stats.py`` compares every field of both, request by request, across simulated seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import locust.stats as locust_stats
from locust.env import Environment
from locust.event import EventHook
from locust.runners import Runner
from locust.stats import RequestStats

__all__ = ["ATTR", "StatsFeed", "feed_of", "locust_stats_listener"]

ATTR: Final = "wsrace_stats_feed"
"""The ``Environment`` attribute an environment's :class:`StatsFeed` hangs on."""

_LISTENER_QUALNAME: Final = "Runner.__init__.<locals>.on_request"
_LOCUST_BUCKET: Final = locust_stats.bucket_response_time


def locust_stats_listener(handler: Callable[..., Any], environment: Environment) -> bool:
    """Whether ``handler`` is the stats listener a Locust ``Runner`` of ``environment`` added to
    ``events.request`` (``on_request`` in ``Runner.__init__``: ``log_request``, then ``log_error``),
    writing into ``environment.stats``, a plain :class:`~locust.stats.RequestStats`."""
    if getattr(handler, "__module__", None) != "locust.runners" or \
            getattr(handler, "__qualname__", None) != _LISTENER_QUALNAME:
        return False
    code, cells = getattr(handler, "__code__", None), getattr(handler, "__closure__", None)
    if code is None or cells is None or code.co_freevars != ("self",):
        return False
    runner = cells[0].cell_contents
    return isinstance(runner, Runner) and runner.environment is environment and \
        type(environment.stats) is RequestStats


class StatsFeed:
    """Reports requests of one :class:`~locust.env.Environment` (see the module docstring);
    ``clock`` is Locust's (``time.time``), injectable for a test with a simulated clock."""

    __slots__ = ("_clock", "_direct", "_environment", "_hook", "_second", "_second_ends", "_second_starts")

    def __init__(self, environment: Environment, clock: Callable[[], float] = time.time) -> None:
        self._environment = environment
        self._hook: EventHook = environment.events.request
        self._clock = clock
        self._direct: Callable[..., Any] | None = None
        """The Locust stats listener last found to be the only one (compared by identity)."""
        self._second = 0
        """``int(now)`` of the last clock reading, valid while ``_second_starts <= now < _second_ends``."""
        self._second_starts = self._second_ends = 0.0

    def direct(self) -> bool:
        """Whether the one listener of ``events.request`` is Locust's own stats listener."""
        handlers = self._hook._handlers
        return len(handlers) == 1 and (handlers[0] is self._direct or self._adopt(handlers[0]))

    def _adopt(self, handler: Callable[..., Any]) -> bool:
        if locust_stats_listener(handler, self._environment):
            self._direct = handler
            return True
        return False

    def request(self, method: str, name: str, response_time: float, length: int,
                exception: BaseException | None) -> None:
        """One request: written into Locust's stats if only they listen, else fired as the event."""
        handlers = self._hook._handlers  # direct(), inline: this runs once per request
        if len(handlers) != 1 or (handlers[0] is not self._direct and not self._adopt(handlers[0])):
            self._hook.fire(request_type=method, name=name, response_time=response_time,
                            response_length=length, exception=exception, context={})
            return
        stats = self._environment.stats
        if exception is not None:
            stats.log_request(method, name, response_time, length)
            stats.log_error(method, name, exception)
            return
        entry = stats.entries[(name, method)]  # created before the clock reading: start_time <= now
        now = self._clock()
        if self._second_starts <= now < self._second_ends:
            second = self._second
        else:
            second = self._second = int(now)
            self._second_starts, self._second_ends = float(second), float(second + 1)
        bucket_of = locust_stats.bucket_response_time
        bucket = round(response_time) if bucket_of is _LOCUST_BUCKET and response_time < 100 \
            else bucket_of(response_time)
        # StatsEntry.log(response_time, length) at now (Locust 2.47), on the total, then the entry:
        for each in (stats.total, entry):
            last = each.last_request_timestamp
            if each.use_response_times_cache and last and last < second:  # == second > int(last), last >= 0
                each._cache_response_times(second - 1)
            each.num_requests += 1
            each.num_reqs_per_sec[second] += 1
            each.last_request_timestamp = now
            each.total_response_time += response_time
            least = each.min_response_time
            if least is None or response_time < least:
                each.min_response_time = response_time
            if response_time > each.max_response_time:
                each.max_response_time = response_time
            each.response_times[bucket] += 1
            each.total_content_length += length


def feed_of(environment: Environment) -> StatsFeed:
    """The environment's one :class:`StatsFeed`, made on first use."""
    feed: StatsFeed | None = getattr(environment, ATTR, None)
    if feed is None:
        feed = StatsFeed(environment)
        setattr(environment, ATTR, feed)
    return feed

"""A Locust worker handles each spawn message in milliseconds, not seconds.

Locust 2.47's ``WorkerRunner.handle_message`` picks the master's custom options out of every
``spawn`` message with ``k not in argument_parser.default_args_dict()`` - once per option key, and
each call builds Locust's whole argument parser (about 3 ms here). With wsrace's options that is
~90 keys, so ~0.3 s of blocked event loop per message on an idle machine and over a second on a
busy one. During a ramp the master sends every worker one spawn message a second: the worker's
hub never gets round to its heartbeat, the master marks every worker missing after 3 s and stops
the test (seen as "0 iterations" at 30,000 sessions over 3 worker processes).

:func:`install` makes ``default_args_dict`` compute its answer once per process and hand out a
copy: the defaults of Locust's own arguments are fixed once Locust is imported (wsrace's options
are added to another parser, never to these), so every caller gets the same dict as before, and
nothing else of Locust changes. Remove this module when Locust computes the set once per message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from locust import argument_parser

__all__ = ["install"]

_ORIGINAL: Callable[[], dict[str, Any]] = argument_parser.default_args_dict


@functools.cache
def _defaults() -> dict[str, Any]:
    return _ORIGINAL()


def _cached_default_args_dict() -> dict[str, Any]:
    """Locust's ``default_args_dict``, computed once (a copy each time: callers may change it)."""
    return dict(_defaults())


def install() -> None:
    """Replace ``locust.argument_parser.default_args_dict`` by the cached one (idempotent)."""
    argument_parser.default_args_dict = _cached_default_args_dict

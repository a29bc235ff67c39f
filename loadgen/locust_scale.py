"""Locust's master and workers with tens of thousands of users on one machine.

**Spawn messages in milliseconds, not seconds.**

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
nothing else of Locust changes. Remove it when Locust computes the set once per message.

**Heartbeats on a machine that is busy by design.** The hold and capacity profiles run as many
Locust workers and target workers as the fd limit asks (9 + 9 for 100,000 sessions on 2 cores), all
busy during the ramp. Locust marks a worker missing after :data:`locust.runners.HEARTBEAT_LIVENESS`
(3) missed one-second heartbeats and rebalances its users over the others - work that itself
delays the master's answers, so more workers miss theirs, and the run falls apart at ~40,000
sessions without any process dying. :func:`tolerate_busy_machine` raises the liveness to
:data:`BUSY_HEARTBEAT_LIVENESS` for those profiles only (Locust reads the module constant each time
a heartbeat arrives; its maintainers point users to it for this); a worker that really died is
still seen by its exit (:mod:`loadgen.process_watch`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

from locust import argument_parser, runners

__all__ = ["BUSY_HEARTBEAT_LIVENESS", "BUSY_PROFILES", "install", "tolerate_busy_machine"]

BUSY_PROFILES: Final = frozenset({"hold", "capacity"})
"""The profiles that load the machine with as many processes as sessions need."""
BUSY_HEARTBEAT_LIVENESS: Final = 15
"""Missed heartbeats (seconds) before Locust marks a worker missing, in those profiles."""

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


def tolerate_busy_machine(profile: str | None) -> None:
    """In the hold and capacity profiles, let a worker miss :data:`BUSY_HEARTBEAT_LIVENESS`
    heartbeats before it is marked missing (Locust's default elsewhere)."""
    if profile in BUSY_PROFILES:
        runners.HEARTBEAT_LIVENESS = BUSY_HEARTBEAT_LIVENESS

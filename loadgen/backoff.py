"""How long a user waits before its next iteration after iterations that failed at once. Pure.

An iteration that fails within :data:`FAST_FAILURE_S` of its start did no real work: a refused
connection, a host that is not a URL, a server that closes at once. Repeated, such failures turn
a user into a busy loop (thousands of failures a second, one core spinning) that tests nothing.
After :data:`FREE_FAILURES` of them in a row the user waits before its next iteration, doubling
from :data:`FIRST_DELAY_S` up to :data:`MAX_DELAY_S`; a success, or a failure that took longer,
resets it. A correct run has no failures, so it never waits: what it counts is unchanged; a run
against a buggy server whose failures take time (a timeout, a wrong reply) is not slowed either.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FAST_FAILURE_S", "FIRST_DELAY_S", "FREE_FAILURES", "MAX_DELAY_S", "Backoff", "delay_after"]

FAST_FAILURE_S: Final = 0.05
FREE_FAILURES: Final = 3
FIRST_DELAY_S: Final = 0.05
MAX_DELAY_S: Final = 2.0


def delay_after(fast_failures: int) -> float:
    """Seconds to wait after ``fast_failures`` fast failures in a row (0 for the first few)."""
    if fast_failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** min(fast_failures - FREE_FAILURES, 32))


class Backoff:
    """One user's count of fast failures in a row, and the wait it earns."""

    __slots__ = ("fast_failures",)

    def __init__(self) -> None:
        self.fast_failures = 0

    def failed(self, took_s: float) -> None:
        self.fast_failures = self.fast_failures + 1 if took_s < FAST_FAILURE_S else 0

    def succeeded(self) -> None:
        self.fast_failures = 0

    @property
    def delay_s(self) -> float:
        return delay_after(self.fast_failures)

"""A user's wait after iterations that failed at once (loadgen.backoff): bounded, exponential, reset."""

from __future__ import annotations

import pytest

from loadgen.backoff import FAST_FAILURE_S, FIRST_DELAY_S, FREE_FAILURES, MAX_DELAY_S, Backoff, delay_after


@pytest.mark.parametrize(("failures", "expected"), [
    (0, 0.0),
    (FREE_FAILURES - 1, 0.0),
    (FREE_FAILURES, FIRST_DELAY_S),
    (FREE_FAILURES + 1, FIRST_DELAY_S * 2),
    (FREE_FAILURES + 2, FIRST_DELAY_S * 4),
    (FREE_FAILURES + 1000, MAX_DELAY_S),
])
def test_delay_doubles_after_the_free_failures_and_is_bounded(failures: int, expected: float) -> None:
    """No wait for the first few, then doubling from the first delay, never above the maximum."""
    assert delay_after(failures) == pytest.approx(expected)


def test_a_success_or_a_slow_failure_resets_the_wait() -> None:
    """Only fast failures in a row earn a wait; a success or a failure that took time ends it."""
    backoff = Backoff()
    for _ in range(FREE_FAILURES + 2):
        backoff.failed(FAST_FAILURE_S / 10)
    assert backoff.delay_s > 0
    backoff.succeeded()
    assert backoff.delay_s == 0
    for _ in range(FREE_FAILURES + 2):
        backoff.failed(FAST_FAILURE_S / 10)
    backoff.failed(FAST_FAILURE_S * 2)
    assert backoff.delay_s == 0


def test_a_run_without_failures_never_waits() -> None:
    """A correct run (successes only) counts exactly what it did before: no wait ever."""
    backoff = Backoff()
    for _ in range(100):
        backoff.succeeded()
        assert backoff.delay_s == 0

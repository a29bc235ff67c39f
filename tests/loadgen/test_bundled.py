"""``loadgen.bundled.BundledTarget`` with the real target app: it starts and stops cleanly, a flag
the target refuses is ``StartFailed(bad_input=True)`` carrying the target's own message, and any
other start failure is not bad input and quotes the log."""

from __future__ import annotations

import itertools
import urllib.request
from pathlib import Path

import pytest

from loadgen.bundled import BundledTarget, StartFailed
from loadgen.protocol.faults import FAULTS
from target_app import faults

pytestmark = pytest.mark.timeout(90)


def refused_fault_pair() -> tuple[str, str]:
    """A pair of faults the target refuses to combine, found by asking its own check."""
    for pair in itertools.combinations(sorted(FAULTS), 2):
        if faults.check(list(pair)):
            return pair
    pytest.skip("every pair of faults can be combined today")


def test_starts_serves_and_stops_cleanly() -> None:
    """start() returns a host that answers /healthz; stop() is clean and removes the log."""
    target = BundledTarget(workers=1)
    try:
        host = target.start()
        with urllib.request.urlopen(host.replace("ws://", "http://") + "/healthz", timeout=10) as resp:
            assert resp.status == 200
        assert target.alive() and target.proc is not None
        outcome = target.stop()
    finally:
        target.kill()
    assert outcome.clean and outcome.returncode == 0, outcome.reason
    assert not target.alive() and target.proc.returncode == 0
    assert target.log_path is not None and not Path(target.log_path).exists()


def test_a_refused_fault_combination_is_bad_input_with_the_targets_message() -> None:
    """Exit 2 during start: bad_input, and the message is the target's stderr line: no traceback,
    no log-tail framing."""
    pair = refused_fault_pair()
    problem = faults.check(list(pair))
    assert problem is not None
    target = BundledTarget(workers=1, faults=pair)
    with pytest.raises(StartFailed) as failed:
        target.start()
    assert failed.value.bad_input is True
    message = str(failed.value)
    assert problem in message and "\n" not in message
    assert "Traceback" not in message and "target log" not in message
    assert target.proc is not None and target.proc.returncode == 2


def test_a_start_that_runs_out_of_time_is_not_bad_input() -> None:
    """A deadline that passes before the listening line: StartFailed, bad_input False, the target
    killed (not left running)."""
    target = BundledTarget(workers=1)
    with pytest.raises(StartFailed) as failed:
        target.start(timeout=0.0)
    assert failed.value.bad_input is False
    assert "deadline" in str(failed.value)
    assert target.proc is not None and target.proc.returncode is not None and not target.alive()


def test_shutdown_timeout_grows_with_sessions_past_the_default_share() -> None:
    """Up to SESSIONS_PER_SHUTDOWN_S sessions the target keeps its own default; beyond, a second
    more per that many (100,000 sessions on one machine must not fail target_shutdown for CPU)."""
    from loadgen.bundled import SESSIONS_PER_SHUTDOWN_S, SHUTDOWN_TIMEOUT_S, shutdown_timeout_for

    assert shutdown_timeout_for(0) == SHUTDOWN_TIMEOUT_S
    assert shutdown_timeout_for(SESSIONS_PER_SHUTDOWN_S) == SHUTDOWN_TIMEOUT_S
    big = 50 * SESSIONS_PER_SHUTDOWN_S
    assert shutdown_timeout_for(big) == SHUTDOWN_TIMEOUT_S + 50

"""The job state machine, the registry's atomic subscribe, and sequence numbers: pure, no sockets."""

from __future__ import annotations

import pytest

from loadgen.protocol import jobs
from loadgen.protocol.jobs import HALTED, RUNNING, JobRegistry, JobState
from loadgen.protocol.sequence import Backwards, Gap, SeqChecker, Sequencer


def test_fast_halt_starts_halted_at_step_zero() -> None:
    """steps: 0 halts at once, at step 0."""
    assert jobs.initial_state(0) == JobState(HALTED, 0)


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_job_walks_running_steps_then_halts(steps: int) -> None:
    """running 0, running 1..steps-1, then halted at step == steps."""
    state = jobs.initial_state(steps)
    seen = [state]
    while state.state != HALTED:
        state = jobs.advance(state, steps)
        seen.append(state)
    assert seen == [JobState(RUNNING, i) for i in range(steps)] + [JobState(HALTED, steps)]


def test_advancing_a_halted_job_is_an_illegal_move() -> None:
    """The transition table has no move out of halted, and says so."""
    with pytest.raises(jobs.IllegalJobMove, match="halted"):
        jobs.advance(JobState(HALTED, 3), 3)


@pytest.mark.parametrize("steps", [0, 1, 2, 4])
def test_reachable_states_are_those_the_table_walks_through(steps: int) -> None:
    """reachable() accepts exactly the states advance() passes from the initial state, for any state tried."""
    walked = {jobs.initial_state(steps)}
    state = jobs.initial_state(steps)
    while state.state != HALTED:
        state = jobs.advance(state, steps)
        walked.add(state)
    tried = {JobState(s, i) for s in (RUNNING, HALTED, "paused") for i in range(-1, steps + 2)}
    assert {s for s in tried if jobs.reachable(s, steps)} == walked


def test_subscribe_registers_and_snapshots_in_one_step() -> None:
    """A running job's subscriber is registered with the snapshot; a halted one gets only it."""
    reg = JobRegistry()
    reg.create("a", "alice", steps=2, step_ms=10, now=0.0)
    reg.create("b", "alice", steps=0, step_ms=0, now=0.0)
    assert reg.subscribe("a", "alice", "conn1") == JobState(RUNNING, 0)
    assert reg.subscribe("b", "alice", "conn1") == JobState(HALTED, 0)
    job, state = reg.advance("a", now=0.01)
    assert state == JobState(RUNNING, 1)
    assert job.subscribers == {"conn1"}
    assert reg.get("b", "alice").subscribers == set()


def test_other_users_and_unknown_jobs_are_refused() -> None:
    """forbidden for another user's job, not_found for an unknown one."""
    reg = JobRegistry()
    reg.create("a", "alice", steps=1, step_ms=0, now=0.0)
    with pytest.raises(jobs.JobForbidden):
        reg.subscribe("a", "bob", "c")
    with pytest.raises(jobs.JobNotFound):
        reg.subscribe("zzz", "alice", "c")


def test_halted_jobs_stay_subscribable_for_the_retention() -> None:
    """A halted job expires only after the retention has passed."""
    reg = JobRegistry(retention_s=60.0)
    reg.create("a", "alice", steps=0, step_ms=0, now=100.0)
    assert reg.expire(now=159.0) == 0
    assert reg.subscribe("a", "alice", "c").state == HALTED
    assert reg.expire(now=161.0) == 1
    with pytest.raises(jobs.JobNotFound):
        reg.get("a", "alice")


def test_sequencer_stamps_from_zero() -> None:
    """ready is seq 0 and each later message one more."""
    seq = Sequencer()
    assert [seq.stamp({})["seq"] for _ in range(3)] == [0, 1, 2]


def test_seq_checker_names_gaps_and_reordering() -> None:
    """A skipped number is a gap; a repeated or earlier one goes backwards."""
    checker = SeqChecker()
    checker.check(0)
    checker.check(1)
    with pytest.raises(Gap):
        checker.check(3)
    checker = SeqChecker()
    checker.check(0)
    with pytest.raises(Backwards):
        checker.check(0)
    with pytest.raises(Backwards):
        SeqChecker().check("0")

"""The pure half of jobs across workers (target_app.broker_merge): names, records, merging, no sockets."""

from __future__ import annotations

import itertools

import pytest

from loadgen.protocol import wire
from loadgen.protocol.jobs import HALTED, HALTED_RETENTION_S, RUNNING, JobState, advance, initial_state
from target_app import broker_merge as m


def changes(steps: int) -> list[JobState]:
    """Every state a job of ``steps`` steps passes through, from its start."""
    states = [initial_state(steps)]
    while states[-1].state != HALTED:
        states.append(advance(states[-1], steps))
    return states


def event(state: JobState, job: str = "w0-ab-j1", user: str = "alice") -> m.Event:
    return wire.state_event(job, user, state.state, state.step)


def test_a_pending_merge_buffers_and_the_snapshot_lets_through_only_later_steps() -> None:
    """Events before the snapshot are held; after it, those at or before its step are dropped."""
    merge = m.Merge()
    states = changes(5)  # running 0..4, halted 5
    assert [merge.event(event(s)) for s in states[1:4]] == [None, None, None]  # steps 1, 2, 3
    assert merge.pending
    released = merge.snapshot(JobState(RUNNING, 2))
    assert [e["step"] for e in released] == [3]
    assert not merge.pending and not merge.done
    assert merge.event(event(states[3])) is None  # a duplicate of step 3
    assert merge.event(event(states[4]))["step"] == 4
    last = merge.event(event(states[5]))
    assert last is not None and last["state"] == HALTED and merge.done
    assert merge.event(event(states[5])) is None  # nothing after halted


def test_a_halted_snapshot_owes_nothing() -> None:
    """Subscribing after the halt: the snapshot is all; buffered and later events are dropped."""
    merge = m.Merge()
    merge.event(event(JobState(HALTED, 3)))
    assert merge.snapshot(JobState(HALTED, 3)) == [] and merge.done
    assert merge.event(event(JobState(HALTED, 3))) is None


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_every_interleaving_of_subscribe_and_read_gives_each_later_change_once(steps: int) -> None:
    """The module docstring's argument, exhaustively: Redis orders the owner's changes, our
    SUBSCRIBE and our HGETALL (after the SUBSCRIBE); for every such order the subscriber gets the
    snapshot, then exactly the changes after it, in order."""
    states = changes(steps)
    created, updates = states[0], states[1:]
    for sub_at, read_at in itertools.combinations_with_replacement(range(len(updates) + 1), 2):
        # sub_at / read_at: how many changes Redis applied before the SUBSCRIBE / the HGETALL
        merge = m.Merge()
        delivered: list[m.Event] = []
        for state in updates[sub_at:read_at]:  # published while subscribed, before the read
            assert merge.event(event(state)) is None
        snapshot = updates[read_at - 1] if read_at else created
        delivered += merge.snapshot(snapshot)
        for state in updates[read_at:]:  # published after the read
            if (out := merge.event(event(state))) is not None:
                delivered.append(out)
        owed = [s for s in updates if s.step > snapshot.step]
        assert [(e["state"], e["step"]) for e in delivered] == [(s.state, s.step) for s in owed]


def test_events_of_a_foreign_shape_are_never_let_through() -> None:
    merge = m.Merge()
    merge.snapshot(JobState(RUNNING, 0))
    assert merge.event({"type": "state", "state": RUNNING}) is None  # no step
    assert merge.event({"type": "state", "state": RUNNING, "step": "1"}) is None


def test_the_hash_describes_the_job_and_outlives_its_halt_by_the_retention() -> None:
    """creation/change round-trip through read_record; the ttl covers remaining steps + >= 60 s."""
    created = m.creation("alice", JobState(RUNNING, 0), steps=4, step_ms=500)
    as_redis = {k.encode(): str(v).encode() for k, v in created.items()}
    assert m.read_record(as_redis) == m.Record("alice", JobState(RUNNING, 0))
    as_redis.update({k.encode(): str(v).encode() for k, v in m.change(JobState(HALTED, 4)).items()})
    assert m.read_record(as_redis) == m.Record("alice", JobState(HALTED, 4))
    assert m.ttl_s(JobState(HALTED, 4), 4, 500) >= HALTED_RETENTION_S
    assert m.ttl_s(JobState(RUNNING, 0), 4, 500) >= 4 * 0.5 + HALTED_RETENTION_S
    assert m.ttl_s(JobState(RUNNING, 3), 4, 500) < m.ttl_s(JobState(RUNNING, 0), 4, 500)


@pytest.mark.parametrize("fields", [
    {}, {b"owner": b"alice"}, {b"owner": b"", b"state": b"running", b"step": b"0"},
    {b"owner": b"alice", b"state": b"sleeping", b"step": b"0"},
    {b"owner": b"alice", b"state": b"running", b"step": b"x"},
])
def test_a_missing_or_broken_hash_is_no_job(fields: dict[bytes, bytes]) -> None:
    assert m.read_record(fields) is None


def test_names_of_a_job_on_the_bus() -> None:
    assert m.key("w1-ab-j3") == "wsrace:job:w1-ab-j3"
    assert m.job_of(m.channel("w1-ab-j3")) == "w1-ab-j3"


@pytest.mark.parametrize(("url", "problem"), [
    ("redis://127.0.0.1:6379/0", None), ("rediss://cache.example:6380", None),
    ("unix:///run/redis/redis.sock", None),
    ("http://127.0.0.1:6379", "is not a broker URL"), ("127.0.0.1:6379", "is not a broker URL"),
    ("unix://", "names no socket"), ("redis://:6379", "names no host"),
])
def test_broker_urls(url: str, problem: str | None) -> None:
    found = m.check_url(url)
    assert found is None if problem is None else (found is not None and problem in found)

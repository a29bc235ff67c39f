"""The conversation rules, fed message dicts: every rule passes a good conversation and names its failure kind."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from loadgen.protocol import jobs
from loadgen.protocol.closecodes import MID_CONVERSATION, Expectation
from loadgen.protocol.conversation import Conversation, check_echo, close_failure, judge_close
from loadgen.protocol.errors import KINDS, ScenarioFailure, UnexpectedClose

ME = "alice"


def ready(seq: int = 0, user: str = ME) -> dict[str, Any]:
    return {"type": "ready", "seq": seq, "user": user, "session": "s1"}


def echo(seq: int, msg_id: int, data: Any = 0) -> dict[str, Any]:
    return {"type": "echo", "seq": seq, "id": msg_id, "data": data}


def state(seq: int, st: str, step: int, user: str = ME, job: str = "j1") -> dict[str, Any]:
    return {"type": "state", "seq": seq, "job": job, "user": user, "state": st, "step": step}


def item(seq: int, i: int, data: str = "xx", burst: int = 1) -> dict[str, Any]:
    return {"type": "burst", "seq": seq, "id": burst, "i": i, "data": data}


def talking() -> Conversation:
    """A conversation past its ``ready``."""
    c = Conversation(ME)
    c.first(ready())
    return c


def with_job(steps: int = 2, snapshot: tuple[str, int] = ("running", 0)) -> Conversation:
    """Past ``ready``, with job j1 of ``steps`` steps started (seq 1) and subscribed (seq 2)."""
    c = talking()
    start = c.number({"op": "start", "steps": steps, "step_ms": 5})["id"]
    c.message(started := {"type": "started", "seq": 1, "id": start, "job": "j1"})
    assert c.reply(started, start, "started")
    c.started(started, steps)
    sub = c.number({"op": "subscribe", "job": "j1"})["id"]
    c.message(reply := {"type": "subscribed", "seq": 2, "id": sub, "job": "j1", "state": snapshot[0],
                        "step": snapshot[1]})
    assert c.reply(reply, sub, "subscribed")
    c.subscribed("j1", reply)
    return c


def with_burst(count: int = 3, size: int = 2) -> Conversation:
    c = talking()
    c.burst_asked(c.number({"op": "burst", "count": count, "size": size})["id"], count, size)
    return c


def feed(c: Conversation, *messages: dict[str, Any]) -> None:
    for msg in messages:
        c.message(msg)


def wait_reply(c: Conversation, msg_id: int, expected: str, *messages: dict[str, Any]) -> None:
    for msg in messages:
        if c.reply(c.message(msg), msg_id, expected):
            return


def raising(failure: BaseException | None) -> None:
    """Raise a failure a rule returned (for the rules that hand it to the caller to raise)."""
    assert failure is not None
    raise failure


def answered(reply: Callable[[int, int], dict[str, Any]], expected: str = "echo") -> None:
    """Two echoes sent (ids 1 and 2); wait for the first while ``reply(first, second)`` arrives."""
    c = talking()
    first, second = c.number({"op": "echo", "data": 0})["id"], c.number({"op": "echo", "data": 1})["id"]
    wait_reply(c, first, expected, reply(first, second))


def _finished_job() -> Conversation:
    c = with_job(steps=1)
    feed(c, state(3, "halted", 1))
    c.finish_job("j1")
    return c


def _started_not_subscribed() -> Conversation:
    c = talking()
    c.started({"type": "started", "seq": 1, "id": 1, "job": "j1"}, 2)
    return c


def _echo_sent(count: int = 1, on: Conversation | None = None) -> Conversation:
    """Past ``ready`` (or ``on``), with ``count`` more echoes sent (data = their id) and not answered."""
    c = on or talking()
    for _ in range(count):
        c.number({"op": "echo", "data": c._next_id})
    return c


def echo_of(seq: int, msg_id: int) -> dict[str, Any]:
    """The right answer to an echo of :func:`_echo_sent` and of :func:`pipelined`: its id as data."""
    return echo(seq, msg_id, msg_id)


def _settled(c: Conversation, *messages: dict[str, Any]) -> Conversation:
    """Feed ``messages`` as a reader settling does (each judged, replies answered in order); then the
    deadline: anything still owed is the failure :meth:`Conversation.missed` names."""
    for msg in messages:
        c.answer(c.message(msg))
    if c.owed():
        raise c.missed("at the deadline")
    return c


RULES: list[tuple[str, Callable[[], Any], str]] = [
    # the first message
    ("ready lacking a field", lambda: Conversation(ME).first({"type": "ready", "seq": 0}), "bad_reply"),
    ("unknown message type", lambda: Conversation(ME).first({"type": "hello", "seq": 0}), "bad_reply"),
    ("in-band unauthorized", lambda: Conversation(ME).first({"type": "error", "code": "unauthorized"}),
     "auth_rejected"),
    ("a reply before ready", lambda: Conversation(ME).first(echo(0, 1)), "bad_reply"),
    ("ready not at seq 0", lambda: Conversation(ME).first(ready(seq=3)), "seq_gap"),
    ("ready for another user", lambda: Conversation(ME).first(ready(user="bob")), "foreign_event"),
    # every later message
    ("a skipped seq", lambda: feed(talking(), echo(2, 1)), "seq_gap"),
    ("a repeated seq", lambda: feed(talking(), echo(0, 1)), "out_of_order"),
    ("a seq that is not a number", lambda: feed(talking(), echo("1", 1)), "bad_reply"),  # type: ignore[arg-type]
    ("an error without seq after ready",
     lambda: feed(talking(), {"type": "error", "id": 1, "code": "bad_request", "message": "m"}), "bad_reply"),
    # replies
    ("a reply to no outstanding op", lambda: wait_reply(talking(), 1, "echo", echo(1, 7)), "bad_reply"),
    ("a later op answered first", lambda: answered(lambda first, second: echo(1, second)), "missed_event"),
    ("an op answered with an error",
     lambda: answered(lambda first, _: {"type": "error", "seq": 1, "id": first, "code": "bad_request", "message": "m"}),
     "bad_reply"),
    ("an op answered with the wrong type", lambda: answered(lambda first, _: echo(1, first), "started"), "bad_reply"),
    ("an answer to an op after a close op",
     lambda: talking().after_close_op(echo(1, 5), close_id=4), "bad_reply"),
    # jobs
    ("another user's state event", lambda: feed(with_job(), state(3, "running", 1, user="bob")), "foreign_event"),
    ("an event of a job never seen", lambda: feed(with_job(), state(3, "running", 1, job="j9")), "foreign_event"),
    ("an event of a job started but not subscribed", lambda: feed(_started_not_subscribed(), state(1, "running", 1)),
     "foreign_event"),
    ("an event after a finished job halted", lambda: feed(_finished_job(), state(4, "running", 1)), "out_of_order"),
    ("an event after a halted snapshot", lambda: feed(with_job(0, ("halted", 0)), state(3, "running", 1)),
     "out_of_order"),
    ("a step back", lambda: feed(with_job(3), state(3, "running", 1), state(4, "running", 1)), "out_of_order"),
    ("a skipped step", lambda: feed(with_job(3), state(3, "running", 2)), "missed_event"),
    ("halted before the last step", lambda: feed(with_job(2), state(3, "halted", 1)), "bad_reply"),
    ("running at the last step", lambda: feed(with_job(2), state(3, "running", 1), state(4, "running", 2)),
     "bad_reply"),
    ("a running snapshot of a fast halt", lambda: with_job(0, ("running", 0)), "bad_reply"),
    ("a halted snapshot before the last step", lambda: with_job(2, ("halted", 1)), "bad_reply"),
    ("a snapshot past the last step", lambda: with_job(2, ("running", 3)), "bad_reply"),
    ("a subscribed reply naming another job",
     lambda: talking().subscribed("j1", {"type": "subscribed", "seq": 1, "id": 1, "job": "j2", "state": "running",
                                         "step": 0}), "bad_reply"),
    ("no halted by the deadline", lambda: raising(with_job(2).halt_missed("j1", 1.0)), "missed_event"),
    ("a state event lost with the seq continuous",
     lambda: _settled(_echo_sent(on=with_job(2)), state(3, "running", 1), echo_of(4, 3)), "missed_event"),
    ("a reply owed at the deadline", lambda: _settled(_echo_sent()), "missed_event"),
    ("a later op answered first, read while settling", lambda: _settled(_echo_sent(2), echo(1, 2)),
     "missed_event"),
    ("a reply while no op is owed one", lambda: _settled(talking(), echo(1, 1)), "bad_reply"),
    # bursts
    ("a skipped burst item", lambda: feed(with_burst(), item(1, 0), item(2, 2)), "missed_event"),
    ("a repeated burst item", lambda: feed(with_burst(), item(1, 0), item(2, 0)), "out_of_order"),
    ("a burst item of the wrong size", lambda: feed(with_burst(), item(1, 0, "x")), "bad_reply"),
    ("an item of a burst never asked", lambda: feed(with_burst(), item(1, 0, burst=9)), "bad_reply"),
    # echoes and closes
    ("echo carrying another user's data", lambda: check_echo(echo(1, 1, {"user": "bob"}), {"user": ME}, ME),
     "foreign_event"),
    ("echo data changed", lambda: check_echo(echo(1, 1, "b"), "a", ME), "bad_reply"),
    ("1011", lambda: judge_close(1011, "", Expectation(), "ctx"), "abnormal_close"),
    ("no close frame", lambda: judge_close(None, "", Expectation(), "ctx"), "abnormal_close"),
    ("1000 mid-conversation", lambda: judge_close(1000, "", MID_CONVERSATION, "ctx"), "unexpected_close"),
    ("a close code not asked for", lambda: judge_close(4001, "", Expectation(asked=4000), "ctx"),
     "unexpected_close"),
    ("a send refused after 1011", lambda: raising(talking().refused_send(1011, "", "echo")),
     "abnormal_close"),
    ("a send refused after 1000", lambda: raising(talking().refused_send(1000, "", "echo")),
     "unexpected_close"),
    ("close 1008 instead of ready",
     lambda: raising(Conversation(ME).refused_at_ready(UnexpectedClose(1008))), "auth_rejected"),
]


@pytest.mark.parametrize(("broken", "kind"), [(fn, kind) for _, fn, kind in RULES], ids=[r[0] for r in RULES])
def test_each_rule_names_its_failure_kind(broken: Callable[[], Any], kind: str) -> None:
    """Each broken promise raises the failure of the kind its row names, with a message saying what."""
    with pytest.raises(ScenarioFailure) as info:
        broken()
    assert info.value.kind == kind
    assert str(info.value)


def test_the_rules_cover_the_kinds_a_conversation_can_see() -> None:
    """The table exercises every kind except those only I/O can produce (handshake, deadline)."""
    io_only = {"handshake_failed", "timeout"}
    assert {k for _, _, k in RULES} == set(KINDS) - io_only


def test_a_good_conversation_passes_every_rule() -> None:
    """ready, pipelined echoes answered in order, a job from snapshot to halted, a whole burst: no failure."""
    c = Conversation(ME)
    first, second = c.number({"op": "echo", "data": "a"})["id"], c.number({"op": "echo", "data": "b"})["id"]
    assert (first, second) == (1, 2)
    c.first(ready())
    wait_reply(c, second, "echo", echo(1, first, "a"), echo(2, second, "b"))
    assert c.reply(c.message(echo(3, c.number({"op": "echo", "data": 0})["id"])), 3, "echo")
    c = with_job(steps=2)
    feed(c, state(3, "running", 1), state(4, "halted", 2))
    assert c.halted("j1") and c.jobs["j1"].events == [("running", 1), ("halted", 2)]
    c = with_burst(count=3, size=2)
    feed(c, item(1, 0), item(2, 1), item(3, 2))
    assert c.bursts[1].complete and c.bursts[1].nbytes == 6


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_job_events_follow_the_job_state_machine(steps: int) -> None:
    """The states the shared state machine walks through are exactly what the client accepts, to halted."""
    c = with_job(steps=steps)
    walk, seq = jobs.initial_state(steps), 3
    while walk.state != jobs.HALTED:
        walk = jobs.advance(walk, steps)
        feed(c, state(seq, walk.state, walk.step))
        seq += 1
    assert c.halted("j1") and len(c.jobs["j1"].events) == steps


def test_a_halted_snapshot_needs_no_event() -> None:
    """A fast halt subscribed after it halted is known halted from its snapshot alone."""
    assert with_job(0, ("halted", 0)).halted("j1")


def test_a_burst_op_has_no_single_reply() -> None:
    """A burst's id is not awaited as a reply: answering it with an echo answers no outstanding op."""
    c = with_burst()
    with pytest.raises(ScenarioFailure, match="answers no outstanding op"):
        c.reply(c.message(echo(1, 1)), 1, "echo")


def test_auth_gets_no_id_and_ops_keep_their_own() -> None:
    """auth is not numbered; an op with its own id keeps it and is awaited under it."""
    c = Conversation(ME)
    assert c.number({"op": "auth", "token": "t"}) == {"op": "auth", "token": "t"}
    assert c.number({"op": "echo", "id": 42, "data": 0})["id"] == 42
    c.first(ready())
    assert c.reply(c.message(echo(1, 42)), 42, "echo")


def test_fine_closes_are_no_failure() -> None:
    """The code asked for, or 1000 where a normal close is expected, is fine; 1008 is fine where bad auth was sent."""
    assert close_failure(4000, "", Expectation(asked=4000), "ctx") is None
    assert close_failure(1000, "", Expectation(), "ctx") is None
    assert close_failure(1008, "", Expectation(bad_auth=True), "ctx") is None
    assert Conversation(ME).refused_at_ready(UnexpectedClose(4000)) is None


# --------------------------------------------------------------------------- what is owed


def test_a_state_event_lost_with_the_seq_continuous_is_missed_by_content() -> None:
    """A server that numbers messages as it writes them drops 'running 2' and 'halted 3' of a job under a
    burst: no seq gap, yet the changes are owed, and the failure names each."""
    c = with_job(steps=3)
    count = 4
    c.burst_asked(c.number({"op": "burst", "count": count, "size": 2})["id"], count, 2)
    burst = next(iter(c.bursts))
    stream = [item(3, 0, burst=burst), state(4, "running", 1)]
    stream += [item(5 + i, 1 + i, burst=burst) for i in range(count - 1)]
    for msg in stream:
        c.answer(c.message(msg))  # every seq follows the one before: the seq rule sees nothing
    assert c.bursts[burst].complete
    assert c.owed().changes == {"j1": (("running", 2), ("halted", 3))}
    failure = c.missed("at the deadline")
    assert failure.kind == "missed_event"
    assert "job j1: running 2, halted 3" in str(failure)


def test_only_the_last_change_lost_is_still_owed() -> None:
    """Every step came but not 'halted': that one message is owed (no later event would reveal it)."""
    c = with_job(steps=2)
    feed(c, state(3, "running", 1))
    assert c.owed().changes == {"j1": (("halted", 2),)}


def pipelined(seed: int) -> tuple[Conversation, list[dict[str, Any]]]:
    """Jobs j1 (3 steps, subscribed at running 0) and j2 (2 steps), a burst, and echoes on one connection,
    every op sent before any answer; returns the conversation and one random interleaving the
    protocol allows: replies in op order, each job's changes in order after its subscribed reply,
    burst items in order, pushed messages anywhere between."""
    rng = random.Random(seed)
    c = talking()
    for job, steps in (("j1", 3), ("j2", 2)):
        c.expect_job(job, steps)  # started on another connection of ours, say
    subs = [c.number({"op": "subscribe", "job": job})["id"] for job in ("j1", "j2")]
    count = 5
    burst = c.number({"op": "burst", "count": count, "size": 2})["id"]
    c.burst_asked(burst, count, 2)
    echoes = [c.number({"op": "echo", "data": c._next_id})["id"] for _ in range(2)]
    replies = [{"type": "subscribed", "id": subs[0], "job": "j1", "state": "running", "step": 0},
               {"type": "subscribed", "id": subs[1], "job": "j2", "state": "running", "step": 1}]
    replies += [{"type": "echo", "id": e, "data": e} for e in echoes]
    lanes = [
        replies,
        [{"type": "burst", "id": burst, "i": i, "data": "xx"} for i in range(count)],
        [{"type": "state", "job": "j1", "user": ME, "state": "running", "step": 1},
         {"type": "state", "job": "j1", "user": ME, "state": "running", "step": 2},
         {"type": "state", "job": "j1", "user": ME, "state": "halted", "step": 3}],
        [{"type": "state", "job": "j2", "user": ME, "state": "halted", "step": 2}],
    ]
    heads, stream = [0] * len(lanes), []
    while any(h < len(lane) for h, lane in zip(heads, lanes, strict=True)):
        ready_lanes = [n for n, lane in enumerate(lanes) if heads[n] < len(lane)
                       and (n < 2 or heads[0] > n - 2)]  # a job's events only after its subscribed reply
        n = rng.choice(ready_lanes)
        stream.append(lanes[n][heads[n]])
        heads[n] += 1
    for seq, msg in enumerate(stream, start=1):
        msg["seq"] = seq
    return c, stream


@pytest.mark.parametrize("seed", range(8))
def test_interleaved_replies_items_and_several_jobs_events_pass(seed: int) -> None:
    """Any interleaving the protocol allows of two jobs' changes, a burst and replies passes, and at the
    end nothing is owed."""
    c, stream = pipelined(seed)
    assert c.owed()  # the premise: before the stream, every message of it is owed
    for msg in stream:
        assert c.settled is not bool(c.owed())  # the cheap question agrees with the full account
        c.answer(c.message(msg))
    assert c.settled and not c.owed() and all(c.halted(job) for job in ("j1", "j2"))


@pytest.mark.parametrize("seed", range(4))
def test_any_one_pushed_message_left_out_is_missed(seed: int) -> None:
    """Leave any one state event or burst item out of a good interleaving (seq renumbered, so continuous):
    the conversation fails with missed_event, by content."""
    _, stream = pipelined(seed)
    pushed = [n for n, msg in enumerate(stream) if msg["type"] in ("state", "burst")]
    for gone in pushed:
        c, _ = pipelined(seed)
        kept = [dict(msg) for n, msg in enumerate(stream) if n != gone]
        for seq, msg in enumerate(kept, start=1):
            msg["seq"] = seq
        with pytest.raises(ScenarioFailure) as info:
            _settled(c, *kept)
        assert info.value.kind == "missed_event", (stream[gone], info.value)


def test_each_connection_of_a_user_is_owed_the_changes_after_its_own_subscription() -> None:
    """Two connections of one user subscribe to one job at different moments: each is owed exactly the
    changes after its own snapshot."""
    early, late = with_job(steps=4, snapshot=("running", 0)), talking()
    late.expect_job("j1", 4)
    late.answer(late.message({"type": "subscribed", "seq": 1, "id": late.number({"op": "subscribe", "job": "j1"})["id"],
                              "job": "j1", "state": "running", "step": 2}))
    assert early.owed().changes["j1"] == (("running", 1), ("running", 2), ("running", 3), ("halted", 4))
    assert late.owed().changes["j1"] == (("running", 3), ("halted", 4))
    _settled(late, state(2, "running", 3), state(3, "halted", 4))


def test_a_job_of_unknown_length_is_owed_its_halted() -> None:
    """Subscribed to a job whose steps this connection does not know: 'halted' is still owed."""
    c = talking()
    sub = c.number({"op": "subscribe", "job": "j7"})["id"]
    c.answer(c.message({"type": "subscribed", "seq": 1, "id": sub, "job": "j7", "state": "running", "step": 0}))
    assert c.owed().halts == ("j7",)
    with pytest.raises(ScenarioFailure, match="job j7: halted"):
        _settled(c)


def test_a_reply_read_while_settling_is_judged_by_its_op() -> None:
    """A reply nobody waits for in particular must answer the oldest op, with that op's content."""
    c = _echo_sent()
    with pytest.raises(ScenarioFailure) as info:
        c.answer(c.message(echo(1, 1, "changed")))
    assert info.value.kind == "bad_reply"
    c = talking()
    start = c.number({"op": "start", "steps": 2, "step_ms": 5})["id"]
    c.answer(c.message({"type": "started", "seq": 1, "id": start, "job": "j3"}))
    assert c.jobs["j3"].steps == 2 and not c.owed()  # started, not subscribed: nothing owed yet

"""ProtocolClient judges every server message by what PROTOCOL.md promises: scripted sessions, no sockets."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from loadgen.client import ProtocolClient
from loadgen.errors import (
    AbnormalClose,
    AuthRejected,
    BadReply,
    ForeignEvent,
    MissedEvent,
    OutOfOrder,
    SeqGap,
    StepTimeout,
    UnexpectedClose,
)
from loadgen.session import ConnectionEnded

ME = "alice"


class ScriptedSession:
    """A SessionIO that returns scripted messages from recv(); a ConnectionEnded in the script is
    raised; then timeouts."""

    def __init__(self, *script: dict[str, Any] | ConnectionEnded) -> None:
        self.script = deque(script)
        self.sent: list[Mapping[str, Any]] = []
        self.state = "open"
        self.close_code_received: int | None = None
        self.close_reason_received: str | None = None

    def connect(self, *, pipeline: Sequence[Mapping[str, Any] | str] = ()) -> float:
        raise AssertionError("a scripted session is already open")

    def send(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)

    def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> int | None:
        raise AssertionError("these tests never close from our side")

    def abort(self) -> None:
        self.state = "closed"

    def recv(self, timeout: float, step: str = "recv") -> dict[str, Any]:
        if not self.script:
            raise StepTimeout(step, timeout)
        item = self.script.popleft()
        if isinstance(item, ConnectionEnded):
            raise item
        return item


def client(*script: dict[str, Any] | ConnectionEnded) -> ProtocolClient:
    return ProtocolClient(ScriptedSession(*script), ME, reply_timeout=0.01)


def ready(seq: int = 0, user: str = ME) -> dict[str, Any]:
    return {"type": "ready", "seq": seq, "user": user, "session": "s1"}


def echo(seq: int, msg_id: int, data: Any) -> dict[str, Any]:
    return {"type": "echo", "seq": seq, "id": msg_id, "data": data}


def test_ready_first_for_our_user_passes() -> None:
    """ready with seq 0 and our user is accepted."""
    assert client(ready()).expect_ready()["user"] == ME


@pytest.mark.parametrize(
    ("script", "error"),
    [
        ((ready(user="bob"),), ForeignEvent),
        ((echo(0, 1, 1),), BadReply),
        ((ready(seq=3),), SeqGap),
        (({"type": "error", "code": "unauthorized"},), AuthRejected),
        ((ConnectionEnded(1008, "policy"),), AuthRejected),
        ((ConnectionEnded(1011),), AbnormalClose),
        ((ConnectionEnded(None),), AbnormalClose),
        (({"type": "ready", "seq": 0},), BadReply),
    ],
)
def test_a_bad_start_is_named(script: tuple[Any, ...], error: type[Exception]) -> None:
    """Another user's ready, a reply before ready, a skipped seq, a refusal, a crash: each its kind."""
    with pytest.raises(error):
        client(*script).expect_ready()


def test_replies_in_order_pass_and_echo_data_is_checked() -> None:
    """Two pipelined echoes answered in order, with the data sent."""
    c = client(ready(), echo(1, 1, "a"), echo(2, 2, "b"))
    c.expect_ready()
    first, second = c.send_op({"op": "echo", "data": "a"}), c.send_op({"op": "echo", "data": "b"})
    assert c.wait_reply(first, "echo")["data"] == "a"
    assert c.wait_reply(second, "echo")["data"] == "b"


def test_a_skipped_reply_is_a_missed_event() -> None:
    """Ops are handled in order: a later op answered first means ours was dropped."""
    c = client(ready(), echo(1, 2, "b"))
    c.expect_ready()
    first = c.send_op({"op": "echo", "data": "a"})
    c.send_op({"op": "echo", "data": "b"})
    with pytest.raises(MissedEvent, match="op 1 got no reply"):
        c.wait_reply(first, "echo")


def test_a_seq_gap_is_caught_on_any_message() -> None:
    """A message that skips a sequence number means one was lost."""
    c = client(ready(), echo(2, 1, "a"))
    c.expect_ready()
    with pytest.raises(SeqGap):
        c.wait_reply(c.send_op({"op": "echo", "data": "a"}), "echo")


def test_a_repeated_seq_is_out_of_order() -> None:
    """A sequence number seen twice is reordering or duplication."""
    c = client(ready(), echo(0, 1, "a"))
    c.expect_ready()
    with pytest.raises(OutOfOrder):
        c.wait_reply(c.send_op({"op": "echo", "data": "a"}), "echo")


def test_an_error_reply_fails_the_op() -> None:
    """An op the server refused is a bad reply, naming the error code."""
    c = client(ready(), {"type": "error", "seq": 1, "id": 1, "code": "bad_request", "message": "m"})
    c.expect_ready()
    with pytest.raises(BadReply, match="bad_request"):
        c.wait_reply(c.send_op({"op": "echo", "data": 1}), "echo")


def test_a_close_mid_conversation_is_judged() -> None:
    """1011 while waiting is abnormal; 1000 while waiting is a fine code at the wrong time."""
    for code, error in ((1011, AbnormalClose), (1000, UnexpectedClose), (1001, UnexpectedClose)):
        c = client(ready(), ConnectionEnded(code))
        c.expect_ready()
        with pytest.raises(error):
            c.wait_reply(c.send_op({"op": "echo", "data": 1}), "echo")


def _job_client(*events: dict[str, Any], snapshot=("running", 0), steps: int = 2) -> ProtocolClient:
    c = client(
        ready(),
        {"type": "started", "seq": 1, "id": 1, "job": "j1"},
        {"type": "subscribed", "seq": 2, "id": 2, "job": "j1", "state": snapshot[0], "step": snapshot[1]},
        *events,
    )
    c.expect_ready()
    job = c.started(c.start(steps, 5), steps)
    c.subscribe(job)
    return c


def state(seq: int, st: str, step: int, user: str = ME, job: str = "j1") -> dict[str, Any]:
    return {"type": "state", "seq": seq, "job": job, "user": user, "state": st, "step": step}


def test_every_state_in_order_to_halted_passes() -> None:
    """A job seen from its snapshot through each step to halted."""
    c = _job_client(state(3, "running", 1), state(4, "halted", 2))
    assert c.wait_halted("j1", 1.0).events == [("running", 1), ("halted", 2)]


def test_a_running_snapshot_of_a_fast_halt_is_impossible() -> None:
    """A job of 0 steps halts at once: a snapshot saying it runs is a bad reply, caught at once."""
    with pytest.raises(BadReply, match="impossible"):
        _job_client(snapshot=("running", 0), steps=0)


def test_a_halted_snapshot_needs_no_event() -> None:
    """A job that halted before the subscription is known halted from the snapshot alone."""
    c = _job_client(snapshot=("halted", 0), steps=0)
    assert c.wait_halted("j1", 0.05).halted


def test_a_halted_that_never_comes_is_a_missed_event() -> None:
    """A stale snapshot and no event: the client would wait forever; we name it."""
    c = _job_client(snapshot=("running", 0), steps=1)
    with pytest.raises(MissedEvent, match="never reported 'halted'"):
        c.wait_halted("j1", 0.05)


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (state(3, "running", 1, user="bob"), ForeignEvent),
        (state(3, "running", 1, job="other"), ForeignEvent),
        (state(3, "halted", 2), MissedEvent),
        (state(3, "running", 0), OutOfOrder),
        (state(3, "halted", 1), BadReply),
    ],
)
def test_wrong_state_events_are_named(event: dict[str, Any], error: type[Exception]) -> None:
    """Another user's event, an unknown job, a skipped step, a step back, a wrong state."""
    c = _job_client(event)
    with pytest.raises(error):
        c.wait_halted("j1", 1.0)


def test_an_event_after_a_finished_job_halted_is_out_of_order() -> None:
    """A halted job sends no more events: a late one is reordering, not another user's event."""
    c = _job_client(state(3, "running", 1), state(4, "halted", 2), state(5, "running", 1))
    c.wait_halted("j1", 1.0)
    c.finish_job("j1")
    with pytest.raises(OutOfOrder, match="after it halted"):
        c.read()


def test_sending_on_a_connection_the_server_closed_is_judged_by_its_code() -> None:
    """A send refused because the server closed with 1011 is an abnormal close, not a client bug."""
    from loadgen.errors import SessionClosedError

    session = ScriptedSession(ready())

    def refuse(message: Mapping[str, Any]) -> None:
        raise SessionClosedError("closed", 1011)

    session.send = refuse  # type: ignore[method-assign]
    c = ProtocolClient(session, ME, reply_timeout=0.01)
    c.expect_ready()
    with pytest.raises(AbnormalClose):
        c.send_op({"op": "echo", "data": 1})


def _burst_client(*items: dict[str, Any]) -> tuple[ProtocolClient, int]:
    c = client(ready(), *items)
    c.expect_ready()
    return c, c.burst(3, 2)


def item(seq: int, i: int, data: str = "xx", burst: int = 1) -> dict[str, Any]:
    return {"type": "burst", "seq": seq, "id": burst, "i": i, "data": data}


def test_a_complete_burst_passes() -> None:
    """Every item present, in order, of the size asked."""
    c, burst_id = _burst_client(item(1, 0), item(2, 1), item(3, 2))
    for _ in range(3):
        c.read()
    assert c.bursts[burst_id].complete


@pytest.mark.parametrize(
    ("items", "error"),
    [
        ((item(1, 0), item(2, 2)), MissedEvent),
        ((item(1, 0), item(2, 0)), OutOfOrder),
        ((item(1, 0, "x"),), BadReply),
        ((item(1, 0), item(3, 1)), SeqGap),
    ],
)
def test_a_broken_burst_is_named(items: tuple[dict[str, Any], ...], error: type[Exception]) -> None:
    """A lost item, a repeated item, a wrong size, a lost sequence number."""
    c, _ = _burst_client(*items)
    with pytest.raises(error):
        for _ in items:
            c.read()


def test_replies_to_ops_after_a_close_op_are_bad() -> None:
    """The server must ignore what follows a close op; answering it is a bad reply."""
    c = client(ready(), echo(1, 2, "late"), ConnectionEnded(4001))
    c.expect_ready()
    close_id = c.send_op({"op": "close", "code": 4001})
    with pytest.raises(BadReply, match="after its close op"):
        c.read_until_close(1.0, ops_after=close_id)


def test_read_until_close_returns_the_code_for_the_caller_to_judge() -> None:
    """The code the server closed with comes back as it is."""
    c = client(ready(), ConnectionEnded(4001))
    c.expect_ready()
    assert c.read_until_close(1.0, ops_after=1) == 4001


# --------------------------------------------------------------------------- settle: read until nothing is owed


def _pressured_client(*script: dict[str, Any]) -> tuple[ProtocolClient, str, int]:
    """Past ready, job j1 (3 steps) started and subscribed at running 0; then a burst of 3 items and an
    echo are pipelined, and ``script`` follows."""
    c = _job_client(*script, steps=3)
    burst = c.burst(3, 2)
    c.send_op({"op": "echo", "data": "e"})
    return c, "j1", burst


def test_settle_reads_interleaved_items_events_and_replies_until_nothing_is_owed() -> None:
    """Burst items, the job's every change and the echo reply, interleaved: settle returns with nothing
    owed, each message judged and recorded."""
    script = (item(3, 0, burst=3), state(4, "running", 1), item(5, 1, burst=3), state(6, "running", 2),
              item(7, 2, burst=3), echo(8, 4, "e"), state(9, "halted", 3))
    c, job, burst = _pressured_client(*script)
    paced: list[dict[str, Any]] = []
    c.settle(time.monotonic() + 1.0, pace=paced.append)
    assert not c.owed() and c.jobs[job].halted and c.bursts[burst].complete
    assert paced == list(script)  # pace saw every message read, in order


def test_settle_names_a_state_event_lost_with_the_seq_continuous() -> None:
    """'running 2' and 'halted 3' never come and every seq follows the one before: at the deadline
    settle fails with missed_event naming both, not a seq gap."""
    c, job, _ = _pressured_client(
        item(3, 0, burst=3), state(4, "running", 1), item(5, 1, burst=3), item(6, 2, burst=3), echo(7, 4, "e"),
    )
    with pytest.raises(MissedEvent, match=f"job {job}: running 2, halted 3"):
        c.settle(time.monotonic() + 0.05)


def test_settle_names_a_reply_that_never_came() -> None:
    """An echo whose reply is missing at the deadline is a missed event naming the op."""
    c, _, _ = _pressured_client(
        item(3, 0, burst=3), state(4, "running", 1), item(5, 1, burst=3), state(6, "running", 2),
        item(7, 2, burst=3), state(8, "halted", 3),
    )
    with pytest.raises(MissedEvent, match=r"op 4 \(echo\): its reply"):
        c.settle(time.monotonic() + 0.05)


def test_settle_records_a_peer_connection_s_job_from_its_own_snapshot() -> None:
    """A second connection of the user watches a job started elsewhere: owed the changes after its own
    snapshot (here running 1), and settled by them."""
    c = client(ready(), {"type": "subscribed", "seq": 1, "id": 1, "job": "j1", "state": "running", "step": 1},
               state(2, "halted", 2))
    c.expect_ready()
    c.watch("j1", 2)
    c.send_op({"op": "subscribe", "job": "j1"})
    c.settle(time.monotonic() + 1.0)
    assert c.jobs["j1"].events == [("halted", 2)] and not c.owed()

"""One authenticated protocol connection, judged against what PROTOCOL.md promises.

:class:`ProtocolClient` wraps a :class:`loadgen.session.Session`. Every message it reads is checked,
whatever the step is waiting for: its shape (``bad_reply``), its ``seq`` (``seq_gap``,
``out_of_order``), the ``user`` of state events (``foreign_event``); state events and burst items
are kept per job / burst for the scenario to judge. Detection relies only on the protocol's promises,
never on quirks of the bundled target's fault code, so the scenarios judge any server.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loadgen.errors import (
    AbnormalClose,
    AuthRejected,
    BadReply,
    ForeignEvent,
    HandshakeFailed,
    MissedEvent,
    OutOfOrder,
    SeqGap,
    SessionClosedError,
    StepTimeout,
    UnexpectedClose,
)
from loadgen.protocol import wire
from loadgen.protocol.closecodes import MID_CONVERSATION, Expectation, classify_close
from loadgen.protocol.sequence import Backwards, Gap, SeqChecker
from loadgen.session import ConnectionEnded, Session, ws_url

__all__ = ["AUTH_MODES", "AuthMode", "BurstProgress", "ProtocolClient", "check_echo", "close_failure", "judge_close"]

AuthMode = Literal["header", "query", "inband"]
AUTH_MODES: tuple[AuthMode, ...] = ("header", "query", "inband")
FINISHED_JOBS_KEPT = 256
"""Halted jobs remembered per connection, so a late event for one reads as out of order."""


def close_failure(code: int | None, reason: str, expect: Expectation, context: str) -> Exception | None:
    """The failure a received close code means under ``expect``, or None when it is fine."""
    kind = classify_close(code, expect)
    if kind is None:
        return None
    cls = AbnormalClose if kind == "abnormal_close" else UnexpectedClose
    return cls(code, reason, context)


@dataclass(slots=True)
class BurstProgress:
    """Items of one burst as they arrive: each ``i`` must be the next one."""

    count: int
    size: int
    received: int = 0
    nbytes: int = 0

    @property
    def complete(self) -> bool:
        return self.received == self.count


@dataclass(slots=True)
class JobTrace:
    """What a connection has seen of one of its jobs."""

    job: str
    steps: int | None = None
    snapshot: tuple[str, int] | None = None
    events: list[tuple[str, int]] = field(default_factory=list)

    @property
    def halted(self) -> bool:
        last = self.events[-1] if self.events else self.snapshot
        return last is not None and last[0] == "halted"


class ProtocolClient:
    """A protocol conversation on one session: ids, replies in order, events, bursts, closes."""

    def __init__(self, session: Session, user: str, *, reply_timeout: float = 5.0) -> None:
        self.session = session
        self.user = user
        self.reply_timeout = reply_timeout
        self.seq = SeqChecker()
        self.jobs: dict[str, JobTrace] = {}
        self.bursts: dict[int, BurstProgress] = {}
        self.ready: dict[str, Any] | None = None
        self._next_id = 1
        self._outstanding: list[int] = []  # ids sent and not yet answered, in send order
        self._finished: deque[str] = deque(maxlen=FINISHED_JOBS_KEPT)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        host: str,
        user: str,
        token: str,
        *,
        mode: AuthMode = "header",
        pipeline: Sequence[dict[str, Any]] = (),
        connect_timeout: float = 5.0,
        reply_timeout: float = 5.0,
        **session_options: Any,
    ) -> ProtocolClient:
        """Connect and authenticate; ``pipeline`` ops go out right behind the handshake / auth.

        Returns before ``ready`` is read: call :meth:`expect_ready`. Pipelined ops get ids in order
        (1, 2, ...) unless they carry their own.
        """
        url = ws_url(host, token=token if mode == "query" else None)
        headers = {"Authorization": f"Bearer {token}"} if mode == "header" else {}
        session = Session(url, headers=headers, connect_timeout=connect_timeout, **session_options)
        client = cls(session, user, reply_timeout=reply_timeout)
        early: list[dict[str, Any]] = [{"op": "auth", "token": token}] if mode == "inband" else []
        for op in pipeline:
            early.append(client._with_id(op))
        try:
            session.connect(pipeline=early)
        except HandshakeFailed as exc:
            if exc.status in (401, 403):
                raise AuthRejected(f"token for {user!r} refused in the handshake (HTTP {exc.status})") from exc
            raise
        return client

    def expect_ready(self, timeout: float | None = None) -> dict[str, Any]:
        """The first message must be ``ready`` (seq 0) for our user."""
        try:
            msg = self._recv(timeout or self.reply_timeout, "ready", Expectation(normal=False))
        except UnexpectedClose as exc:
            if exc.code == 1008:
                raise AuthRejected(f"good token for {self.user!r} refused: close 1008") from exc
            raise
        if msg.get("type") == "error" and msg.get("code") == wire.UNAUTHORIZED:
            raise AuthRejected(f"good token for {self.user!r} refused in band: {msg.get('message', '')}")
        if msg.get("type") != "ready":
            raise BadReply(f"first message must be 'ready', got {msg.get('type')!r}")
        self._check_seq(msg)
        if msg["user"] != self.user:
            raise ForeignEvent(f"ready names user {msg['user']!r}, we are {self.user!r}")
        self.ready = msg
        return msg

    # ------------------------------------------------------------------ sending

    def _with_id(self, op: dict[str, Any]) -> dict[str, Any]:
        if op.get("op") == "auth":
            return op
        if "id" not in op:
            op = {**op, "id": self._next_id}
            self._next_id += 1
        if isinstance(op["id"], int):
            self._outstanding.append(op["id"])
        return op

    def send_op(self, op: dict[str, Any]) -> int:
        """Send one op with a fresh id; return the id.

        A connection the server has already closed is judged by the close code it sent, as if the
        close had been read while waiting (use ``session.send`` to *expect* a refused send)."""
        op = self._with_id(op)
        try:
            self.session.send(op)
        except SessionClosedError as exc:
            failure = close_failure(exc.close_code, exc.reason, MID_CONVERSATION, f"before sending {op.get('op')!r}")
            raise (failure or UnexpectedClose(exc.close_code, exc.reason)) from exc
        return op["id"]

    # ------------------------------------------------------------------ reading

    def _recv(self, timeout: float, step: str, expect: Expectation | None) -> dict[str, Any]:
        """Next well-formed message. A close is judged under ``expect``; with None, :class:`ConnectionEnded` is
        raised as it is, for a caller that is waiting for the close and judges it itself."""
        try:
            msg = self.session.recv(timeout, step)
        except ConnectionEnded as closed:
            if expect is None:
                raise
            failure = close_failure(closed.code, closed.reason, expect, f"while waiting for {step}")
            if failure is not None:
                raise failure from None
            raise
        problem = wire.check_server_message(msg)
        if problem is not None:
            raise BadReply(problem)
        return msg

    def _check_seq(self, msg: dict[str, Any]) -> None:
        try:
            self.seq.check(msg.get("seq"))
        except Gap as exc:
            raise SeqGap(exc.expected, exc.got) from None
        except Backwards as exc:
            raise OutOfOrder(f"seq went from {exc.expected - 1} to {exc.got!r}") from None

    def read(
        self, timeout: float | None = None, step: str = "read", expect: Expectation | None = MID_CONVERSATION
    ) -> dict[str, Any]:
        """Read and judge the next message; state events and burst items are recorded on the way."""
        msg = self._recv(self.reply_timeout if timeout is None else timeout, step, expect)
        kind = msg["type"]
        if kind == "error" and "seq" not in msg:
            raise BadReply(f"error message without seq after ready: {msg.get('code')}")
        self._check_seq(msg)
        if kind == "state":
            self._on_state(msg)
        elif kind == "burst":
            self._on_burst_item(msg)
        return msg

    def _on_state(self, msg: dict[str, Any]) -> None:
        if msg["user"] != self.user:
            raise ForeignEvent(f"state event of user {msg['user']!r} (job {msg['job']}) reached {self.user!r}")
        trace = self.jobs.get(msg["job"])
        if trace is None and msg["job"] in self._finished:
            raise OutOfOrder(f"job {msg['job']}: event {(msg['state'], msg['step'])} after it halted")
        if trace is None or trace.snapshot is None:
            # A job of ours we have not subscribed to (or not yet seen the reply of) sends no events.
            raise ForeignEvent(f"state event for job {msg['job']!r} this connection never subscribed to")
        last = trace.events[-1] if trace.events else trace.snapshot
        state = (msg["state"], msg["step"])
        if last[0] == "halted":
            raise OutOfOrder(f"job {trace.job}: event {state} after it halted")
        if state[1] <= last[1]:
            raise OutOfOrder(f"job {trace.job}: step {state[1]} after step {last[1]}")
        if state[1] != last[1] + 1:
            raise MissedEvent(f"job {trace.job}: step {state[1]} follows step {last[1]}: the steps between were lost")
        if trace.steps is not None:
            want = "halted" if state[1] == trace.steps else "running"
            if state[0] != want or state[1] > trace.steps:
                raise BadReply(f"job {trace.job} of {trace.steps} steps: {state} should be {want}")
        trace.events.append(state)

    def _on_burst_item(self, msg: dict[str, Any]) -> None:
        progress = self.bursts.get(msg["id"])
        if progress is None:
            raise BadReply(f"burst item for unknown burst id {msg['id']!r}")
        i = msg["i"]
        if i != progress.received:
            if i > progress.received:
                raise MissedEvent(f"burst {msg['id']}: item {i} arrived, items {progress.received}..{i - 1} lost")
            raise OutOfOrder(f"burst {msg['id']}: item {i} after item {progress.received - 1}")
        if len(msg["data"]) != progress.size:
            raise BadReply(f"burst {msg['id']}: item {i} has {len(msg['data'])} chars, asked for {progress.size}")
        progress.received += 1
        progress.nbytes += progress.size

    def wait_reply(self, msg_id: int, expected_type: str, *, timeout: float | None = None, step: str = "reply") -> dict:
        """Read until the direct reply to ``msg_id``; replies must come in the order ops were sent."""
        deadline = time.monotonic() + (self.reply_timeout if timeout is None else timeout)
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            msg = self.read(remaining, step)
            if msg["type"] in ("state", "burst"):
                continue
            reply_id = msg.get("id")
            if reply_id not in self._outstanding:
                raise BadReply(f"{msg['type']} reply with id {reply_id!r} answers no outstanding op")
            if reply_id != msg_id and self._outstanding.index(reply_id) > self._outstanding.index(msg_id):
                # Ops are handled in order, so a later op answered first means ours was skipped.
                raise MissedEvent(f"op {msg_id} got no reply: op {reply_id}, sent after it, was answered first")
            self._outstanding.remove(reply_id)
            if msg["type"] == "error":
                raise BadReply(f"op {reply_id} answered with error {msg['code']}: {msg.get('message', '')}")
            expected = expected_type if reply_id == msg_id else None
            if expected is not None and msg["type"] != expected:
                raise BadReply(f"op {reply_id} answered with {msg['type']!r}, expected {expected!r}")
            if reply_id == msg_id:
                return msg

    # ------------------------------------------------------------------ ops

    def echo(self, data: Any, *, step: str = "echo") -> dict[str, Any]:
        msg_id = self.send_op({"op": "echo", "data": data})
        reply = self.wait_reply(msg_id, "echo", step=step)
        check_echo(reply, data, self.user)
        return reply

    def start(self, steps: int, step_ms: int) -> int:
        return self.send_op({"op": "start", "steps": steps, "step_ms": step_ms})

    def started(self, msg_id: int, steps: int) -> str:
        job = self.wait_reply(msg_id, "started", step="start")["job"]
        self.jobs[job] = JobTrace(job, steps)
        return job

    def subscribe(self, job: str) -> tuple[str, int]:
        msg_id = self.send_op({"op": "subscribe", "job": job})
        reply = self.wait_reply(msg_id, "subscribed", step="subscribe")
        if reply["job"] != job:
            raise BadReply(f"subscribed reply names job {reply['job']!r}, asked for {job!r}")
        trace = self.jobs.setdefault(job, JobTrace(job))
        trace.snapshot = (reply["state"], reply["step"])
        if trace.steps is not None and (reply["step"] > trace.steps or (reply["state"] == "halted") != (
            reply["step"] == trace.steps
        )):
            raise BadReply(f"snapshot {trace.snapshot} impossible for a job of {trace.steps} steps")
        return trace.snapshot

    def wait_halted(self, job: str, timeout: float, step: str = "halted") -> JobTrace:
        """Read until ``job`` halted (from the snapshot or an event); a deadline passed is a missed event."""
        trace = self.jobs[job]
        deadline = time.monotonic() + timeout
        while not trace.halted:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                last = trace.events[-1] if trace.events else trace.snapshot
                raise MissedEvent(f"job {job} never reported 'halted' within {timeout:g} s (last seen: {last})")
            try:
                self.read(remaining, step)
            except StepTimeout:
                continue  # the loop re-checks the deadline and names the missed event
        return trace

    def finish_job(self, job: str) -> None:
        """Forget a halted job's trace; any later event for it is out of order."""
        self.jobs.pop(job, None)
        self._finished.append(job)

    def burst(self, count: int, size: int) -> int:
        msg_id = self.send_op({"op": "burst", "count": count, "size": size})
        self.bursts[msg_id] = BurstProgress(count, size)
        self._outstanding.remove(msg_id)  # a burst has no single reply: its items are the answer
        return msg_id

    def read_until_close(self, timeout: float, step: str = "close", *, ops_after: int | None = None) -> int | None:
        """Read until the server closes; return the code received (None: no close frame) for the
        caller to judge. Messages on the way are judged as usual; with ``ops_after``, a reply to an op
        with a larger id is a bad reply (the server must ignore what follows a ``close`` op)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.read(max(0.0, deadline - time.monotonic()), step, expect=None)
            except ConnectionEnded as closed:
                return closed.code
            msg_id = msg.get("id")
            if ops_after is not None and isinstance(msg_id, int) and msg_id > ops_after:
                raise BadReply(f"server answered op {msg_id} ({msg['type']}) sent after its close op {ops_after}")

    def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> int | None:
        """Close from our side; return the code received (None: no close frame)."""
        return self.session.close(code, reason, timeout)


def check_echo(reply: dict[str, Any], data: Any, user: str) -> None:
    got = reply.get("data")
    if got == data:
        return
    if isinstance(got, dict) and got.get("user") not in (None, user):
        raise ForeignEvent(f"echo carried user {got.get('user')!r}'s data to {user!r}")
    raise BadReply(f"echo returned {got!r}, sent {data!r}")


def judge_close(code: int | None, reason: str, expect: Expectation, context: str) -> None:
    failure = close_failure(code, reason, expect, context)
    if failure is not None:
        raise failure

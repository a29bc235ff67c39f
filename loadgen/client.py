"""One authenticated protocol connection: the I/O of a conversation whose rules live in the core.

:class:`ProtocolClient` sends and reads over a session (any :class:`SessionIO`, in practice a
:class:`loadgen.session.Session`) and hands every message to a
:class:`loadgen.protocol.conversation.Conversation`, which judges it whatever the step is waiting for:
its shape (``bad_reply``), its ``seq`` (``seq_gap``, ``out_of_order``), the ``user`` of state events
(``foreign_event``), replies in order, job states through the job state machine, burst items. What it
judges itself is only what I/O means: a close read while waiting (by the step's close expectation),
a deadline passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

from loadgen.errors import AuthRejected, HandshakeFailed, SessionClosedError, StepTimeout, UnexpectedClose
from loadgen.protocol import wire
from loadgen.protocol.closecodes import MID_CONVERSATION, Expectation
from loadgen.protocol.conversation import BurstProgress, Conversation, JobTrace, Owed, check_echo, close_failure
from loadgen.session import ConnectionEnded, Session
from loadgen.urls import ws_url

__all__ = ["AUTH_MODES", "AuthMode", "ProtocolClient", "SessionIO"]

AuthMode = Literal["header", "query", "inband"]
AUTH_MODES: tuple[AuthMode, ...] = ("header", "query", "inband")


class SessionIO(Protocol):
    """What :class:`ProtocolClient` (and the scenarios through ``client.session``) use of a session.

    ``recv`` raises :class:`loadgen.session.ConnectionEnded` once the peer ended the connection and
    :class:`loadgen.errors.StepTimeout` at its deadline; ``send`` raises
    :class:`loadgen.errors.SessionClosedError` once the session is closing or closed."""

    @property
    def state(self) -> str: ...
    @property
    def close_code_received(self) -> int | None: ...
    @property
    def close_reason_received(self) -> str | None: ...
    def connect(self, *, pipeline: Sequence[Mapping[str, Any] | str] = ()) -> float: ...
    def send(self, message: Mapping[str, Any]) -> None: ...
    def recv(self, timeout: float, step: str = "recv") -> dict[str, Any]: ...
    def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> int | None: ...
    def abort(self) -> None: ...


class ProtocolClient:
    """A protocol conversation on one session: ids, replies in order, events, bursts, closes."""

    def __init__(self, session: SessionIO, user: str, *, reply_timeout: float = 5.0) -> None:
        self.session = session
        self.user = user
        self.reply_timeout = reply_timeout
        self.conversation = Conversation(user)

    @property
    def jobs(self) -> dict[str, JobTrace]:
        return self.conversation.jobs

    @property
    def bursts(self) -> dict[int, BurstProgress]:
        return self.conversation.bursts

    @property
    def ready(self) -> dict[str, Any] | None:
        return self.conversation.ready

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
        """Connect and authenticate; ``pipeline`` ops go out the instant the 101 is read.

        With in-band auth the ``auth`` message leads the pipeline; nothing is sent before the 101
        (RFC 6455 §4.1), and everything before ``ready`` (the early-message race).

        Returns before ``ready`` is read: call :meth:`expect_ready`. Pipelined ops get ids in order
        (1, 2, ...) unless they carry their own.
        """
        url = ws_url(host, token=token if mode == "query" else None)
        headers = {"Authorization": f"Bearer {token}"} if mode == "header" else {}
        session = Session(url, headers=headers, connect_timeout=connect_timeout, **session_options)
        client = cls(session, user, reply_timeout=reply_timeout)
        early: list[dict[str, Any]] = [wire.auth_op(token)] if mode == "inband" else []
        early.extend(client.conversation.number(op) for op in pipeline)
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
            msg = self._recv(timeout or self.reply_timeout, "ready", MID_CONVERSATION)
        except UnexpectedClose as exc:
            refused = self.conversation.refused_at_ready(exc)
            if refused is not None:
                raise refused from exc
            raise
        return self.conversation.first(msg)

    # ------------------------------------------------------------------ sending

    def send_op(self, op: dict[str, Any]) -> int:
        """Send one op with a fresh id; return the id.

        A connection the server has already closed is judged by the close code it sent, as if the
        close had been read while waiting (use ``session.send`` to *expect* a refused send)."""
        op = self.conversation.number(op)
        try:
            self.session.send(op)
        except SessionClosedError as exc:
            raise self.conversation.refused_send(exc.close_code, exc.reason, op.get("op")) from exc
        return op["id"]

    # ------------------------------------------------------------------ reading

    def _recv(self, timeout: float, step: str, expect: Expectation | None) -> dict[str, Any]:
        """Next message as read. A close is judged under ``expect``; with None, :class:`ConnectionEnded` is
        raised as it is, for a caller that is waiting for the close and judges it itself."""
        try:
            return self.session.recv(timeout, step)
        except ConnectionEnded as closed:
            if expect is None:
                raise
            failure = close_failure(closed.code, closed.reason, expect, f"while waiting for {step}")
            if failure is not None:
                raise failure from None
            raise

    def read(
        self, timeout: float | None = None, step: str = "read", expect: Expectation | None = MID_CONVERSATION
    ) -> dict[str, Any]:
        """Read and judge the next message; state events and burst items are recorded on the way."""
        msg = self._recv(self.reply_timeout if timeout is None else timeout, step, expect)
        return self.conversation.message(msg)

    def wait_reply(self, msg_id: int, expected_type: str, *, timeout: float | None = None, step: str = "reply") -> dict:
        """Read until the direct reply to ``msg_id``; replies must come in the order ops were sent."""
        deadline = time.monotonic() + (self.reply_timeout if timeout is None else timeout)
        while True:
            msg = self.read(max(0.0, deadline - time.monotonic()), step)
            if self.conversation.reply(msg, msg_id, expected_type):
                return msg

    # ------------------------------------------------------------------ ops

    def echo(self, data: Any, *, step: str = "echo") -> dict[str, Any]:
        msg_id = self.send_op(wire.echo_op(data))
        reply = self.wait_reply(msg_id, "echo", step=step)
        check_echo(reply, data, self.user)
        return reply

    def start(self, steps: int, step_ms: int) -> int:
        return self.send_op(wire.start_op(steps, step_ms))

    def started(self, msg_id: int, steps: int) -> str:
        return self.conversation.started(self.wait_reply(msg_id, "started", step="start"), steps)

    def subscribe(self, job: str) -> tuple[str, int]:
        msg_id = self.send_op(wire.subscribe_op(job))
        return self.conversation.subscribed(job, self.wait_reply(msg_id, "subscribed", step="subscribe"))

    def watch(self, job: str, steps: int) -> None:
        """``job`` (of our user, ``steps`` steps) was started on another connection: once subscribed
        here, each of its later changes is owed here too."""
        self.conversation.expect_job(job, steps)

    def owed(self) -> Owed:
        return self.conversation.owed()

    def settle(
        self, deadline: float, step: str = "settle", *, pace: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        """Read until nothing is owed — every later change of each subscribed job, every burst item,
        every reply (judged and recorded as it comes, in any interleaving) — by ``deadline``
        (``time.monotonic()``, never extended). Whatever is still owed then is one ``missed_event``
        naming each missing message, whatever the ``seq`` said. ``pace(msg)`` runs after each message
        (a slow reader pauses there)."""
        began = time.monotonic()
        while not self.conversation.settled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.conversation.missed(f"at the deadline ({deadline - began:.3g} s of reading)")
            try:
                msg = self.read(remaining, step)
            except StepTimeout:
                continue  # the loop re-checks the deadline and names what is missing
            self.conversation.answer(msg)
            if pace is not None:
                pace(msg)

    def wait_halted(self, job: str, timeout: float, step: str = "halted") -> JobTrace:
        """Read until ``job`` halted (from the snapshot or an event); a deadline passed is a missed event."""
        deadline = time.monotonic() + timeout
        while not self.conversation.halted(job):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.conversation.halt_missed(job, timeout)
            try:
                self.read(remaining, step)
            except StepTimeout:
                continue  # the loop re-checks the deadline and names the missed event
        return self.conversation.jobs[job]

    def finish_job(self, job: str) -> None:
        """Forget a halted job's trace; any later event for it is out of order."""
        self.conversation.finish_job(job)

    def burst(self, count: int, size: int) -> int:
        msg_id = self.send_op(wire.burst_op(count, size))
        self.conversation.burst_asked(msg_id, count, size)
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
            if ops_after is not None:
                self.conversation.after_close_op(msg, ops_after)

    def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> int | None:
        """Close from our side; return the code received (None: no close frame)."""
        return self.session.close(code, reason, timeout)

"""The message API of the client session: JSON messages out and in, with deadlines.

:class:`Session` is a :class:`~loadgen.session.connection.Connection` (the socket, the protocol, the
lifecycle, the opening and closing handshakes) with ``send*`` and ``recv*`` on top. A ``recv*``
deadline is fixed once, at the call: a wait for another caller's read, a read that brought no
message, or a message another reader took first all count against it, never restart it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson
from websockets.frames import Opcode

from loadgen.errors import BadReply, SessionClosedError, StepTimeout
from loadgen.session.connection import Connection
from loadgen.session.lifecycle import Event, SessionState

__all__ = ["ConnectionEnded", "Session"]

_TEXT: Final = Opcode.TEXT
_NEW: Final = SessionState.NEW
_CONNECTING: Final = SessionState.CONNECTING
_OPEN: Final = SessionState.OPEN
_CLOSING: Final = SessionState.CLOSING
_CLOSED: Final = SessionState.CLOSED


class ConnectionEnded(Exception):
    """The peer or the network ended the connection; raised by ``recv*`` once the messages read
    before the end are used up.

    Not a :class:`~loadgen.errors.ScenarioFailure`: whether the end is fine depends on the step, so
    the caller judges ``code`` with :func:`loadgen.protocol.closecodes.classify_close`.

    ``code`` and ``reason`` are what the peer's close frame said (``code`` None: no close frame
    arrived, the connection dropped: 1006). ``sent_code`` is the code this side sent, if any (the
    echo of the peer's code, or e.g. 1009 when a message was over ``max_size``); ``at`` is the
    ``perf_counter`` time the close frame (or the end of the stream) was read. A protocol error
    found in the peer's data, or the socket error, is chained as ``__cause__``.
    """

    def __init__(self, code: int | None, reason: str = "", sent_code: int | None = None, at: float = 0.0) -> None:
        self.code = code
        self.reason = reason
        self.sent_code = sent_code
        self.at = at
        shown = "1006 (no close frame)" if code is None else str(code)
        text = f"connection ended: received {shown}"
        if reason:
            text += f" {reason!r}"
        if sent_code is not None:
            text += f", sent {sent_code}"
        super().__init__(text)


class Session(Connection):
    """One WebSocket client connection, driven from the calling greenlet or thread.

    ``url`` is a ``ws://`` or ``wss://`` URL (see :func:`ws_url`); ``headers`` are added to the
    upgrade request (e.g. ``Authorization``). ``max_size`` bounds an incoming message (None: no
    bound); a bigger one ends the connection with 1009, seen as :class:`ConnectionEnded`.
    ``socket_factory`` opens the TCP connection (tests hand in one end of a ``socketpair()``);
    ``ssl_context`` is used for ``wss://`` (default: verify, as :func:`ssl.create_default_context`).
    ``clock`` times every deadline and timestamp (default ``time.perf_counter``; tests hand in a
    fake one to check the deadlines the session computes).
    """

    __slots__ = ()

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        """``"connecting"`` (also before :meth:`connect`), ``"open"``, ``"closing"``, ``"closed"``."""
        return self._life.state.public

    @property
    def lifecycle(self) -> SessionState:
        """The exact state of :mod:`loadgen.session.lifecycle` (e.g. who ended the session)."""
        return self._life.state

    @property
    def readers_waiting(self) -> int:
        """Callers waiting for bytes now: the one in the socket read (a ``recv*``, ``connect``
        awaiting the 101, or ``close`` awaiting the peer's close), plus ``recv*`` calls waiting
        behind it. For tests and diagnostics: it proves a reader is blocked before acting."""
        return self._lock_waiters + self._reading

    @property
    def pending(self) -> int:
        """Messages already read from the socket and not yet returned by ``recv*``."""
        return len(self._inbox)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sending

    def send(self, message: Mapping[str, Any]) -> None:
        """Send one message as JSON in one text frame.

        Raises :class:`~loadgen.errors.SessionClosedError` (with the state and the close code
        received so far) once a close is under way or done on either side, or the TCP connection
        broke; :class:`~loadgen.errors.StepTimeout` ``("send", send_timeout)`` if the peer did not
        take the bytes in time (the connection is then dropped: a frame may be cut). Called while
        another caller's :meth:`connect` awaits the 101, it waits for it (within the connect
        deadline) and goes out behind the pipeline.
        """
        self._send(1, orjson.dumps(message))

    def send_text(self, text: str) -> None:
        """Send ``text`` as it is in one text frame (e.g. text that is not JSON)."""
        self._send(1, text.encode())

    def send_bytes(self, data: bytes) -> None:
        """Send one binary frame (the protocol has none: the server should close with 1003)."""
        self._send(2, data)

    def _send(self, opcode: int, payload: bytes) -> None:
        # No _plock here: the lifecycle is only read. Holding _wlock from the check to the write
        # keeps the order right: a close reply the read side queues meanwhile is flushed after
        # this frame, and one it already wrote means the state is no longer OPEN.
        with self._wlock:
            state = self._life.state
            if state is not _OPEN or self._error is not None:
                if state is _NEW:
                    raise RuntimeError("send() before connect()")
                state_name = "closed" if self._error is not None else state.public
                raise SessionClosedError(state_name, self.close_code_received) from self._error
            data = self._frame(opcode, payload)
            self.last_sent_at = self._clock()
            self._write_bytes(data)
            error = self._error
        if self._out:
            self._flush_out()
        if error is not None:
            if isinstance(error, TimeoutError):  # a frame may be cut: drop, as abort() does
                self._finish(event=Event.ABORT)
                raise StepTimeout("send", self.send_timeout) from error
            raise SessionClosedError("closed", self.close_code_received) from error

    # ------------------------------------------------------------------ receiving

    def recv_many(self, count: int, timeout: float, step: str = "recv") -> list[dict[str, Any]]:
        """The next ``count`` messages, all within ``timeout`` seconds."""
        deadline = self._clock() + timeout
        return [self.recv(timeout, step, _deadline=deadline) for _ in range(count)]

    def recv_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, step: str = "recv"
    ) -> list[dict[str, Any]]:
        """Messages up to and including the first for which ``predicate`` is true, all within
        ``timeout`` seconds. On a timeout or an end, the messages read so far are lost with it;
        use :meth:`recv` in a loop where they matter."""
        deadline = self._clock() + timeout
        got: list[dict[str, Any]] = []
        while True:
            message = self.recv(timeout, step, _deadline=deadline)
            got.append(message)
            if predicate(message):
                return got

    def recv(self, timeout: float, step: str = "recv", *, _deadline: float | None = None) -> dict[str, Any]:
        """The next message, parsed from JSON.

        Raises :class:`~loadgen.errors.StepTimeout` ``(step, timeout)`` if none is read in
        ``timeout`` seconds from this call, :class:`~loadgen.errors.BadReply` for a frame that is
        not one JSON object (it is consumed), :class:`ConnectionEnded` when the peer or the network
        ended the connection, :class:`~loadgen.errors.SessionClosedError` after this side closed it.
        (``_deadline``: the shared deadline of ``recv_many``/``recv_until``; one method rather than
        a helper, so that a plain ``recv`` costs no extra call.)
        """
        deadline = _deadline
        state = self._life.state
        if state is _CLOSING or state is _CLOSED:
            raise SessionClosedError(state.public, self.close_code_received)
        inbox = self._inbox
        while True:
            if not inbox:
                if deadline is None:
                    deadline = self._clock() + timeout
                self._wait(deadline, timeout, step)
            try:
                at, opcode, data = inbox.pop()  # the next message is last
                break
            except IndexError:  # another reader took it between the wait and here: same deadline
                continue
        self.last_recv_at = at
        if opcode is _TEXT:
            try:
                message = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise BadReply(f"{step}: text frame is not JSON: {bytes(data[:80])!r}") from exc
            if message.__class__ is dict:
                return message
            raise BadReply(f"{step}: a JSON {type(message).__name__}, not an object")
        raise BadReply(f"{step}: a binary frame of {len(data)} bytes")

    def _wait(self, deadline: float, timeout: float, step: str) -> None:
        """Read until the inbox has a message, or raise why it will not. Every wait, for the read
        lock and in the read, is bounded by what is left of ``deadline`` when it starts."""
        inbox = self._inbox
        life = self._life
        clock = self._clock
        rlock = self._rlock
        while not inbox:
            state = life.state
            if state is not _OPEN:
                if state is _CLOSING or state is _CLOSED:
                    raise SessionClosedError(state.public, self.close_code_received)
                if state is _NEW:
                    raise RuntimeError("recv() before connect()")
                if state is not _CONNECTING:  # DRAINING or ENDED
                    raise self._ended_exception()
            remaining = deadline - clock()
            if remaining <= 0:
                raise StepTimeout(step, timeout)
            if not rlock.acquire(False):  # another caller is reading (or connecting)
                with self._plock:
                    self._lock_waiters += 1
                try:
                    got = rlock.acquire(timeout=remaining)
                finally:
                    with self._plock:
                        self._lock_waiters -= 1
                if not got:
                    raise StepTimeout(step, timeout)
                remaining = deadline - clock()  # after the lock wait: it counts against the deadline
            try:
                if inbox or life.state is not _OPEN:
                    continue  # someone else read, or the state changed, while we waited
                if remaining <= 0 or not self._read(remaining):
                    raise StepTimeout(step, timeout)
                if life.state is not _OPEN:  # the peer's close (or an end): finish it now
                    self._drain(clock() + self.close_timeout)
            finally:
                rlock.release()

    def _ended_exception(self) -> ConnectionEnded:
        proto = self._proto
        rcvd, sent = proto.close_rcvd, proto.close_sent
        exc = ConnectionEnded(
            None if rcvd is None else rcvd.code,
            "" if rcvd is None else rcvd.reason,
            None if sent is None else sent.code,
            self.close_received_at or self.ended_at or 0.0,
        )
        exc.__cause__ = proto.parser_exc or self._error
        return exc

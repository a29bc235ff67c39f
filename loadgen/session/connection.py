"""The byte level of the client session: one socket, websockets' sans-I/O protocol, the lifecycle.

:class:`Connection` opens the socket (through :mod:`~loadgen.session.transport`'s policy), runs the
opening handshake in RFC 6455 §4.1's order, writes protocol output, turns each read into complete
messages (the fast path of :mod:`~loadgen.session.frames`, else the protocol), and closes. It moves
:mod:`~loadgen.session.lifecycle`'s table on every change. :class:`~loadgen.session.Session` adds the
message API (``send``, ``recv*``) on top.

websockets internals read here (it is pinned below its next major version in pyproject.toml):
``Protocol.current_size`` and ``max_message_size`` (so that the fast path splits only what the
protocol would turn into plain events) and ``parser_exc`` (the cause of an end, read in
``messages``). The rest is its documented sans-I/O API.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any, Final

import orjson
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI, ProtocolError
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import Protocol, State
from websockets.uri import parse_uri

from loadgen.errors import HandshakeFailed, StepTimeout
from loadgen.protocol.wire import MAX_CLOSE_REASON_BYTES
from loadgen.session.frames import BoundaryTracker, ClientFramer, split_data_frames, stream_after_head
from loadgen.session.lifecycle import Event, Lifecycle, SessionState
from loadgen.session.transport import SocketFactory, io_for, new_lock, open_socket, tcp_connect

__all__ = ["Connection"]

_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_CONT: Final = Opcode.CONT
_CLOSE: Final = Opcode.CLOSE
_P_CONNECTING: Final = State.CONNECTING
_P_OPEN: Final = State.OPEN

_NEW: Final = SessionState.NEW
_CONNECTING: Final = SessionState.CONNECTING
_OPEN: Final = SessionState.OPEN
_CLOSING: Final = SessionState.CLOSING
_CLOSED: Final = SessionState.CLOSED
_ENDED: Final = SessionState.ENDED


def _check_close_args(code: int, reason: str) -> None:
    try:
        Close(code, reason).check()
    except ProtocolError as exc:
        raise ValueError(f"close code {code} cannot be sent") from exc
    if len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
        raise ValueError(f"close reason over {MAX_CLOSE_REASON_BYTES} bytes")


def _not_connected(*args: object) -> Any:
    raise RuntimeError("no socket before connect()")


class Connection:
    """One WebSocket client connection at the byte level: see the module docstring. Constructed as
    :class:`~loadgen.session.Session` documents; not used on its own."""

    # Slots rather than an instance dict: a load generator holds one per idle connection, and the
    # dict of these ~30 attributes was the largest single allocation of a session (1.6 KiB).
    __slots__ = (
        "_clock", "_error", "_frame", "_handshake_bytes", "_headers", "_inbox", "_io_recv", "_io_send",
        "_life", "_lock_waiters", "_out", "_partial", "_plock", "_proto", "_reading", "_response", "_rlock",
        "_sock", "_socket_factory", "_ssl_context", "_tracker", "_uri", "_wlock", "close_received_at",
        "close_timeout", "connect_timeout", "ended_at", "last_recv_at", "last_sent_at", "opened_at",
        "send_timeout", "url",
    )  # fmt: skip

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_size: int | None = 2**24,
        connect_timeout: float = 10.0,
        send_timeout: float = 10.0,
        close_timeout: float = 2.0,
        socket_factory: SocketFactory | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = perf_counter,
    ) -> None:
        try:
            self._uri = parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(str(exc)) from exc
        self.url = url
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.close_timeout = close_timeout
        # Copied (the caller may change its mapping), and let go of once the request is built.
        self._headers: tuple[tuple[str, str], ...] = tuple(headers.items()) if headers else ()
        self._socket_factory = socket_factory or tcp_connect
        self._ssl_context = ssl_context
        self._clock = clock
        self._proto = ClientProtocol(self._uri, max_size=max_size)
        self._life = Lifecycle()
        self._sock: socket.socket | None = None
        # The I/O policy's two calls (see loadgen.session.transport), bound once the socket exists.
        self._io_recv: Callable[[float], bytes] = _not_connected
        self._io_send: Callable[[bytes, float], None] = _not_connected
        # _plock: the protocol object and the lifecycle, never held across I/O. _wlock: the
        # socket's write side, held across a write (and by connect() until the pipeline is out).
        # _rlock: the socket's read side, held across a read. Order: _rlock, _wlock, _plock.
        self._plock = new_lock()
        self._wlock = new_lock()
        self._rlock = new_lock()
        # Protocol output from the read side (pongs, the close reply) waiting for the write side:
        # a reader never waits for a writer stuck on a peer that does not read.
        self._out: list[bytes] = []
        # (read at, opcode, payload) of each complete data message not yet returned, the next one
        # *last*: ``pop()`` takes it, a read puts its messages in front in one slice assignment
        # (both atomic, as deque's were). A list, not a deque: an empty deque keeps a 64-slot
        # block (760 bytes per idle connection), an empty list none; and the inbox holds at most
        # the messages of one read (``recv*`` reads only when it is empty), so the front inserts
        # stay short.
        self._inbox: list[tuple[float, Opcode, bytes | bytearray]] = []
        self._partial: tuple[Opcode, list[bytes | bytearray]] | None = None
        self._response: Response | None = None  # kept only if the handshake failed: its status
        self._error: OSError | None = None  # the first socket error (reset, broken pipe...): its cause
        self._frame = ClientFramer().frame
        # Frame boundaries, for the receive fast path; the handshake's bytes until the 101 is
        # parsed, to find where the first frame starts.
        self._tracker = BoundaryTracker()
        self._handshake_bytes = b""
        self._reading = False  # a caller is in the socket read (under _rlock)
        self._lock_waiters = 0  # recv* callers waiting for another caller's read
        self.opened_at: float | None = None
        """``perf_counter`` time the 101 response was read."""
        self.last_sent_at: float | None = None
        """``perf_counter`` time just before the last message was written."""
        self.last_recv_at: float | None = None
        """``perf_counter`` time the last message returned by ``recv*`` was read from the socket."""
        self.close_received_at: float | None = None
        """``perf_counter`` time the peer's close frame was read."""
        self.ended_at: float | None = None
        """``perf_counter`` time the TCP connection ended."""

    @property
    def close_code_received(self) -> int | None:
        """The code of the peer's close frame (1005 if it had none); None if none arrived."""
        rcvd = self._proto.close_rcvd
        return None if rcvd is None else rcvd.code

    @property
    def close_reason_received(self) -> str | None:
        """The reason of the peer's close frame; None if none arrived."""
        rcvd = self._proto.close_rcvd
        return None if rcvd is None else rcvd.reason

    @property
    def close_code_sent(self) -> int | None:
        """The code of the close frame this side sent (its own, an echo, or a protocol error)."""
        sent = self._proto.close_sent
        return None if sent is None else sent.code

    def _move(self, event: Event) -> SessionState:
        """Apply a lifecycle event under ``_plock``; the state it was applied in."""
        with self._plock:
            return self._life.move(event)

    def _done(self) -> bool:
        state = self._life.state
        return state is _CLOSED or state is _ENDED

    # ------------------------------------------------------------------ opening

    def connect(self, *, pipeline: Sequence[Mapping[str, Any] | str] = ()) -> float:
        """Open the connection and return how long it took, in ms (TCP connect to 101 read).

        The upgrade request goes out alone; once the 101 is read, the ``pipeline`` messages (dicts
        as JSON, strings as they are) go out at once in one write, before anything else is read or
        awaited (RFC 6455 §4.1: no frame before the server's response). Messages the server sends
        in the same read as its 101 are kept for ``recv``. A server that closes right after its 101
        is not an error here (the pipeline is then not sent): the next ``recv`` raises
        :class:`ConnectionEnded`.

        Raises :class:`~loadgen.errors.HandshakeFailed` with the HTTP status (None: TCP refused or
        reset, TLS failed, or no valid HTTP answer) and :class:`~loadgen.errors.StepTimeout`
        ``("connect", connect_timeout)`` when the connection or the 101 took too long;
        :class:`~loadgen.session.lifecycle.IllegalTransition` (a ``RuntimeError``) on a second call.
        """
        t0 = self._clock()
        deadline = t0 + self.connect_timeout
        with self._rlock:
            with self._wlock:
                self._handshake(deadline, pipeline)
            state = self._proto.state
            if state is not _P_OPEN and state is not _P_CONNECTING:
                self._drain(self._clock() + self.close_timeout)  # closed right after the 101
        assert self.opened_at is not None
        return (self.opened_at - t0) * 1000.0

    def _handshake(self, deadline: float, pipeline: Sequence[Mapping[str, Any] | str]) -> None:
        """The opening handshake, then the pipelined frames. Caller holds ``_rlock`` and ``_wlock``,
        so no other frame can go out before the pipeline, and none before the 101."""
        self._move(Event.CONNECT)
        uri = self._uri
        try:
            sock = open_socket(
                self._socket_factory, uri.host, uri.port, self.connect_timeout, deadline, self._clock,
                secure=uri.secure, ssl_context=self._ssl_context,
            )  # fmt: skip
        except BaseException:
            self._finish()  # no socket: this only marks the session ended
            raise
        with self._plock:
            closed_meanwhile = self._life.state is not _CONNECTING  # close()/abort() from elsewhere
            if not closed_meanwhile:
                self._sock = sock
        if closed_meanwhile:
            sock.close()
            raise HandshakeFailed(None, "the session was closed during connect()")
        io = io_for(sock, uri.secure)
        self._io_recv = io.recv
        self._io_send = io.send
        proto = self._proto
        request = proto.connect()
        for name, value in self._headers:
            request.headers[name] = value
        self._headers = ()
        proto.send_request(request)
        self._write(proto.data_to_send())  # the request alone
        if self._error is not None:
            error = self._error
            self._finish()
            raise HandshakeFailed(None, f"{type(error).__name__}: {error}") from error
        while proto.state is _P_CONNECTING and proto.handshake_exc is None and not self._done():
            remaining = deadline - self._clock()
            if remaining <= 0 or not self._read(remaining):
                self._finish()
                raise StepTimeout("connect", self.connect_timeout)
        exc = proto.handshake_exc
        if exc is not None or self.opened_at is None:
            self._finish()
            response = self._response
            status = None if response is None else response.status_code
            reason = str(exc) if exc is not None else "the connection ended during the handshake"
            raise HandshakeFailed(status, reason) from (self._error or exc)
        # The 101 is read: now, before reading anything else, the pipeline and whatever the read
        # side queued meanwhile (a pong, a close reply), in one write.
        with self._plock:
            out, self._out = self._out, []
        if self._life.state is _OPEN:
            frame = self._frame
            frames = [frame(1, m.encode() if isinstance(m, str) else orjson.dumps(m)) for m in pipeline]
            out = frames + out
        if out:
            self._write(out)

    def _flush_out(self) -> None:
        """Write the read side's queued protocol output, unless a writer holds the socket: that
        writer calls this again once it lets go, so nothing stays queued."""
        while self._out and not self._done():
            if not self._wlock.acquire(blocking=False):
                return
            try:
                with self._plock:
                    out, self._out = self._out, []
                if out:
                    self._write(out)
            finally:
                self._wlock.release()

    def _write(self, out: list[bytes]) -> None:
        """Write protocol output (the request, pongs, close frames, an EOF) in one call. Caller
        holds ``_wlock``."""
        data = out[0] if len(out) == 1 else b"".join(out)
        if data:
            self._write_bytes(data)
        if not out[-1] and self._error is None and not self._done():  # SEND_EOF: half-close
            assert self._sock is not None
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                self._error = exc

    def _write_bytes(self, data: bytes) -> None:
        """Write ``data`` within ``send_timeout``. Caller holds ``_wlock``. A socket error is
        recorded in ``_error`` rather than raised: the read side still has to see the end."""
        state = self._life.state
        if self._error is not None or state is _CLOSED or state is _ENDED:
            return
        try:
            self._io_send(data, self.send_timeout)
        except OSError as exc:  # TimeoutError included
            self._error = exc
        except BaseException:
            # Interrupted (gevent.Timeout, a killed greenlet): a frame may be cut, so the stream
            # is unusable. Drop it, as abort() does.
            self._error = ConnectionAbortedError("a write was interrupted")
            self._finish(event=Event.ABORT)
            raise

    def _pump(self, timeout: float, drain_deadline: float | None) -> bool:
        """Read once; once the protocol leaves OPEN, finish the close: read to the peer's EOF (by
        ``drain_deadline``, default ``close_timeout`` from now: the close handshake's own deadline),
        then close the socket. Caller holds ``_rlock``. False: nothing arrived within ``timeout``."""
        if not self._read(timeout):
            return False
        state = self._proto.state
        if state is not _P_OPEN and state is not _P_CONNECTING:
            self._drain(self._clock() + self.close_timeout if drain_deadline is None else drain_deadline)
        return True

    def _drain(self, deadline: float) -> None:
        """The protocol left OPEN: read to the peer's EOF by ``deadline``, then close the socket
        (RFC 6455 7.1.1: the client waits for the server to close TCP first). Caller holds
        ``_rlock``."""
        while not self._done():
            remaining = deadline - self._clock()
            if remaining <= 0 or not self._read(remaining):
                self._finish()

    def _read(self, timeout: float) -> bool:
        """One socket read, turned into messages. Caller holds ``_rlock``. False: timed out."""
        life = self._life
        if life.state is _CLOSED or life.state is _ENDED:
            return True
        self._reading = True
        try:
            data = self._io_recv(timeout)
        except TimeoutError:
            return False
        except OSError as exc:  # reset by the peer, or closed under us by abort()
            if self._error is None:
                self._error = exc
            data = b""
        finally:
            self._reading = False
        now = self._clock()
        if not data:
            self._finish(now)
            return True
        proto = self._proto
        # Fast path: whole, final text/binary frames starting at a frame boundary are all the
        # protocol would turn into plain events; split them here. Anything else (control frames,
        # fragments, a frame cut by the read, errors, the handshake) goes to the protocol.
        # (The lifecycle is OPEN only while the protocol is: it leaves OPEN first, or with it.)
        if life.state is _OPEN and self._tracker.at_boundary and proto.current_size is None:
            frames = split_data_frames(data, proto.max_message_size)
            if frames is not None:
                if len(frames) == 1:
                    opcode, payload = frames[0]
                    self._inbox.insert(0, (now, opcode, payload))
                else:
                    self._inbox[:0] = [(now, opcode, payload) for opcode, payload in reversed(frames)]
                return True
        with self._plock:
            if life.state is _CLOSED or life.state is _ENDED:  # abort() won the race: stream over
                return True
            connecting = proto.state is _P_CONNECTING
            if connecting:
                self._handshake_bytes += data
            proto.receive_data(data)
            events = proto.events_received()
            out = proto.data_to_send()  # pongs, the close reply, a close for a protocol error
            if out:
                self._out += out
            pstate = proto.state
            if connecting and pstate is not _P_CONNECTING:
                life.move(Event.OPENED)
            if pstate is not _P_OPEN and pstate is not _P_CONNECTING:
                life.move(Event.PEER_CLOSING)
        if self._out:
            self._flush_out()
        if not connecting:
            self._tracker.feed(data)
        messages = []
        for event in events:
            if event.__class__ is Frame:
                opcode = event.opcode
                if (opcode is _TEXT or opcode is _BINARY) and event.fin:
                    messages.append((now, opcode, event.data))
                elif opcode is _CLOSE:
                    self.close_received_at = now
                elif opcode is _TEXT or opcode is _BINARY:
                    self._partial = (opcode, [event.data])
                elif opcode is _CONT and self._partial is not None:
                    self._partial[1].append(event.data)
                    if event.fin:
                        first, parts = self._partial
                        self._partial = None
                        messages.append((now, first, b"".join(parts)))
                # PING and PONG: the protocol already queued the pong, written above.
            elif event.__class__ is Response:
                if proto.handshake_exc is None:
                    self.opened_at = now
                    self._tracker.feed(stream_after_head(self._handshake_bytes))
                    self._restart_parser()
                else:
                    self._response = event
                self._handshake_bytes = b""
        if messages:
            messages.reverse()
            self._inbox[:0] = messages
        return True

    def _restart_parser(self) -> None:
        """The 101 is read: give the protocol a fresh frame parser, when it is provably in the same
        state as the one it has, so that the handshake's parser frame and the response it holds go.

        ``ClientProtocol.parse`` parses the response into a local, then runs ``Protocol.parse`` (the
        frame loop) under it with ``yield from``: that local, the response and all its headers, lived
        as long as the connection (1.3 KiB of an idle one). At a frame boundary, with the protocol
        OPEN, the frame loop waits at its top with no state of its own (all of it is the protocol's
        attributes and its reader's buffer), which is exactly where a fresh ``Protocol.parse``
        stops when primed. Anywhere else (a frame cut by the read) the old parser stays."""
        with self._plock:
            proto = self._proto
            if proto.state is _P_OPEN and self._tracker.at_boundary and not proto.reader.buffer:
                parser = Protocol.parse(proto)
                next(parser)  # to the top of the frame loop, as websockets starts its own
                proto.parser = parser

    # ------------------------------------------------------------------ closing

    def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> int | None:
        """Close: send a close frame, read to the peer's close and EOF within ``timeout``, then close
        the socket (dropped if the peer is late). Return the code the peer sent (None: none came).

        A close already under way (another ``close``, or the peer's) is waited for, not repeated;
        on a session that already ended this returns at once. ``ValueError`` for a code or reason
        that cannot be sent.
        """
        _check_close_args(code, reason)
        clock = self._clock
        deadline = clock() + timeout
        before = self._move(Event.CLOSE)  # from now on, sends fail fast
        if before is _NEW or before is _CONNECTING:  # now CLOSED: no close handshake before the 101
            self._shut_down()
            return None
        if before is _CLOSED or before is _ENDED:
            return self.close_code_received
        # A writer stuck on a peer that does not read holds _wlock for up to send_timeout.
        if not self._wlock.acquire(timeout=max(deadline - clock(), 0.0)):
            self._finish()
            return self.close_code_received
        try:
            with self._plock:
                out, self._out = self._out, []
                if self._proto.state is _P_OPEN and self._life.state is _CLOSING and self._error is None:
                    self._proto.send_close(code, reason)
                    out += self._proto.data_to_send()
            if out:
                self._write(out)
        finally:
            self._wlock.release()
        rlock = self._rlock
        while not self._done():
            remaining = deadline - clock()
            if remaining <= 0 or not rlock.acquire(timeout=remaining):
                break
            try:
                if self._done():
                    break
                remaining = deadline - clock()  # after the lock wait: it counts against the deadline
                if remaining <= 0 or not self._pump(remaining, deadline):
                    break
            finally:
                rlock.release()
        if not self._done():
            self._finish()
        return self.close_code_received

    def abort(self) -> None:
        """Drop the TCP connection now, with no close frame (the server should see 1006)."""
        self._finish(event=Event.ABORT)

    def _finish(self, now: float | None = None, event: Event = Event.END) -> None:
        """Move the lifecycle by ``event`` (END: the stream is over); the first time the session
        reaches CLOSED or ENDED, close the socket and tell the protocol the stream is over. Takes
        only ``_plock`` (never held across I/O) before the socket is shut, so that it also wakes a
        reader or writer blocked on it."""
        before = self._move(event)
        if before is not _CLOSED and before is not _ENDED and self._done():
            self._shut_down(now)

    def _shut_down(self, now: float | None = None) -> None:
        """The session just reached CLOSED or ENDED: close the socket, feed the protocol its EOF."""
        self.ended_at = now or self._clock()
        sock = self._sock
        if sock is not None:
            # OSError: the peer already reset it, or it is closed: nothing left to shut.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        with self._plock:
            self._proto.receive_eof()  # idempotent
            self._proto.data_to_send()  # an EOF to echo: the socket is already closed

"""A cheap, blocking WebSocket client session for load users: one socket, no helper thread.

:class:`Session` drives websockets' sans-I/O :class:`~websockets.client.ClientProtocol` over a plain
socket. Under Locust, gevent has monkey-patched :mod:`socket`, so every blocking call here yields to
the hub and a Locust user costs one greenlet; without gevent it works the same with blocking sockets
and threads. Nothing here imports Locust: timing and reporting belong to the layer above.

What the race scenarios need from it, and where it lives:

- exact times (``time.perf_counter``): :attr:`Session.opened_at`, :attr:`~Session.last_sent_at`,
  :attr:`~Session.last_recv_at` (when the bytes of the message just returned were *read*, not when
  the caller got round to it), :attr:`~Session.close_received_at`;
- a deadline on every wait: ``connect_timeout``, the ``timeout`` of each ``recv*``,
  ``send_timeout`` for a peer that stops reading, ``close_timeout`` for a peer that never ends TCP;
- control over the order of bytes: ``connect(pipeline=[...])`` writes messages right behind the
  upgrade request, before the 101 is read; :meth:`Session.send` also works while the 101 is in
  flight, and after a close is under way it raises :class:`~loadgen.errors.SessionClosedError`;
- the close code exactly as received: :class:`ConnectionEnded` and
  :attr:`Session.close_code_received` (None: no close frame arrived, i.e. 1006).

How a session ends, and what each call then does:

============================  =======================================  ========================
ended by                      ``recv*``                                ``send*``
============================  =======================================  ========================
the peer (close frame, EOF)   the messages read before, then           SessionClosedError
                              :class:`ConnectionEnded` (every time)
this side (close, abort)      SessionClosedError                       SessionClosedError
============================  =======================================  ========================

:meth:`Session.close` and :meth:`Session.abort` never raise on a session that already ended.

Concurrency: one greenlet (or thread) per session is the intended use, but another one may
``send``, ``close`` or ``abort`` while the first is blocked in ``recv``. Reads, writes and the
protocol object each have a lock; only a write to a peer that does not drain it waits for the peer
while holding one (bounded by ``send_timeout``), and the read side never waits for that lock: the
pongs and close replies it produces are queued for whoever writes next.

Cost: the hot path is one ``send`` system call per message sent and one ``recv`` per read. Data
frames are framed here (the same bytes ``ClientProtocol.send_text`` makes, at a third of the cost),
and a read made only of whole, final, unmasked data frames at a frame boundary is split here; all
else (handshake, control frames, fragments, cut frames, ``max_size``, errors, closing) is the
protocol's. See ``docs/session-choice.md`` for the measurements.
"""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import Any, Final

import orjson
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidURI, ProtocolError
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask as _apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask as _apply_mask

from loadgen.errors import BadReply, HandshakeFailed, SessionClosedError, StepTimeout
from loadgen.protocol.wire import MAX_CLOSE_REASON_BYTES
from loadgen.urls import ws_url

__all__ = [
    "ConnectionEnded",
    "Session",
    "SocketFactory",
    "tcp_connect",
    "unverified_ssl_context",
    "ws_url",
]

SocketFactory = Callable[[str, int, float], socket.socket]
"""``(host, port, timeout) -> connected socket``. The session adds TLS itself for ``wss://``."""

_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_CONT: Final = Opcode.CONT
_CLOSE: Final = Opcode.CLOSE
_CONNECTING: Final = State.CONNECTING
_OPEN: Final = State.OPEN

_STATE_NAMES: Final = {
    State.CONNECTING: "connecting",
    State.OPEN: "open",
    State.CLOSING: "closing",
    State.CLOSED: "closed",
}

_pack_short = struct.Struct("!BB").pack
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack
_MASK_POOL_SIZE: Final = 1024  # 256 masks per os.urandom call

def _whole_data_frames(
    data: bytes, max_size: int | None
) -> list[tuple[Opcode, bytes]] | None:
    """Split ``data``, which starts at a frame boundary, into (opcode, payload) of whole, final,
    unmasked text or binary frames no bigger than ``max_size``; None if it holds anything else.
    These frames are exactly the ones ``ClientProtocol`` turns into events with no side effect."""
    frames = []
    n = len(data)
    pos = 0
    while pos < n:
        if n - pos < 2:
            return None
        first = data[pos]
        if first == 0x81:
            opcode = _TEXT
        elif first == 0x82:
            opcode = _BINARY
        else:  # a control frame, a fragment, reserved bits: the protocol's business
            return None
        size = data[pos + 1]
        if size < 126:
            start = pos + 2
        elif size == 126:
            start = pos + 4
            size = int.from_bytes(data[pos + 2 : start], "big")
        elif size == 127:
            start = pos + 10
            size = int.from_bytes(data[pos + 2 : start], "big")
        else:  # masked
            return None
        end = start + size
        if end > n or (max_size is not None and size > max_size):
            return None
        frames.append((opcode, data[start:end]))
        pos = end
    return frames


# One read's buffer. Kept under glibc's mmap threshold (128 KiB): socket.recv allocates the full
# size before shrinking it, and a bigger buffer turned every small read into an mmap/munmap pair.
_READ_SIZE: Final = 65536


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

    def __init__(
        self, code: int | None, reason: str = "", sent_code: int | None = None, at: float = 0.0
    ) -> None:
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


def tcp_connect(host: str, port: int, timeout: float) -> socket.socket:
    """The default :data:`SocketFactory`: a TCP connection with Nagle off (small frames, timed).

    An IP address is connected to as it is; only a name goes through ``getaddrinfo``. Under
    gevent every ``getaddrinfo`` is a round trip through its thread pool, even for ``127.0.0.1``:
    that was a sixth of the client CPU of a connect storm (docs/benchmark.md)."""
    family = _ip_family(host)
    if family is None:
        sock = socket.create_connection((host, port), timeout=timeout)
    else:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _ip_family(host: str) -> int | None:
    """``AF_INET`` or ``AF_INET6`` if ``host`` is an IP address, None if it is a name."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except OSError:
            continue
        return family
    return None


def unverified_ssl_context() -> ssl.SSLContext:
    """A TLS context that accepts any certificate: for ``wss://`` targets with self-signed ones."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _new_lock() -> Any:
    """``threading.Lock()``, or under gevent's monkey patch the gevent semaphore it is built on.

    gevent's ``threading.Lock`` is its ``BoundedSemaphore`` with an ``acquire`` written in Python
    that only re-checks the arguments; a session takes two locks per round trip, and the shim was
    a tenth of the session's own instructions (callgrind: 5.9k a lock cycle against 4.1k)."""
    lock_type = threading.Lock
    if getattr(lock_type, "__module__", None) == "gevent.thread":
        from gevent.lock import BoundedSemaphore

        return BoundedSemaphore(1)
    return lock_type()


class _WaitTimedOut(TimeoutError):
    """A wait's deadline passed (raised into the waiting greenlet by a gevent timer)."""


def _check_close_args(code: int, reason: str) -> None:
    try:
        Close(code, reason).check()
    except ProtocolError as exc:
        raise ValueError(f"close code {code} cannot be sent") from exc
    if len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
        raise ValueError(f"close reason over {MAX_CLOSE_REASON_BYTES} bytes")


class Session:
    """One WebSocket client connection, driven from the calling greenlet or thread.

    ``url`` is a ``ws://`` or ``wss://`` URL (see :func:`ws_url`); ``headers`` are added to the
    upgrade request (e.g. ``Authorization``). ``max_size`` bounds an incoming message (None: no
    bound); a bigger one ends the connection with 1009, seen as :class:`ConnectionEnded`.
    ``socket_factory`` opens the TCP connection (tests hand in one end of a ``socketpair()``);
    ``ssl_context`` is used for ``wss://`` (default: verify, as :func:`ssl.create_default_context`).
    """

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
    ) -> None:
        try:
            self._uri = parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(str(exc)) from exc
        self.url = url
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.close_timeout = close_timeout
        self._headers = dict(headers) if headers else {}
        self._socket_factory = socket_factory or tcp_connect
        self._ssl_context = ssl_context
        self._proto = ClientProtocol(self._uri, max_size=max_size)
        self._sock: socket.socket | None = None
        # _plock: the protocol object and the flags, never held across I/O. _wlock: the socket's
        # write side, held across a write. _rlock: the socket's read side, held across a read.
        # Order: _rlock, then _wlock, then _plock.
        self._plock = _new_lock()
        self._wlock = _new_lock()
        self._rlock = _new_lock()
        # Protocol output from the read side (pongs, the close reply) waiting for the write side:
        # a reader never waits for a writer stuck on a peer that does not read.
        self._out: list[bytes] = []
        # (read at, opcode, payload) of each complete data message not yet returned.
        self._inbox: deque[tuple[float, Opcode, bytes | bytearray]] = deque()
        self._partial: tuple[Opcode, list[bytes | bytearray]] | None = None
        self._response: Response | None = None
        self._request_sent = False
        self._local_close = False  # close() or abort() was called
        self._eof_fed = False  # the protocol knows the stream ended
        self._ended = False  # the socket is closed
        self._error: OSError | None = None  # the first socket error (reset, broken pipe...)
        self._timeout: float | None = None  # the socket's timeout, as last set
        # Under gevent: the hub's loop, to time waits with a bare timer (see _gevent_timer).
        self._loop: Any = None
        self._getcurrent: Callable[[], Any] | None = None
        self._mask_pool = b""
        self._mask_pos = 0
        # Frame boundaries, for the receive fast path (see _track); the handshake's bytes until
        # the 101 is parsed, to find where the first frame starts.
        self._left = 0
        self._head = b""
        self._handshake_bytes = b""
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

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        """``"connecting"`` (also before :meth:`connect`), ``"open"``, ``"closing"``, ``"closed"``."""
        if self._ended:
            return "closed"
        state = self._proto.state
        if state is _OPEN and self._local_close:
            return "closing"  # close() is about to send its close frame
        return _STATE_NAMES[state]

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

    @property
    def pending(self) -> int:
        """Messages already read from the socket and not yet returned by ``recv*``."""
        return len(self._inbox)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ opening

    def connect(self, *, pipeline: Sequence[Mapping[str, Any] | str] = ()) -> float:
        """Open the connection and return how long it took, in ms (TCP connect to 101 read).

        ``pipeline`` messages (dicts as JSON, strings as they are) go out in the same write as the
        upgrade request, before the 101 is read. Messages the server sends in the same read as its
        101 are kept for ``recv``. A server that closes right after its 101 is not an error here:
        the next ``recv`` raises :class:`ConnectionEnded`.

        Raises :class:`~loadgen.errors.HandshakeFailed` with the HTTP status (None: TCP refused or
        reset, TLS failed, or no valid HTTP answer) and :class:`~loadgen.errors.StepTimeout`
        ``("connect", connect_timeout)`` when the connection or the 101 took too long.
        """
        if self._sock is not None or self._ended:
            raise RuntimeError("a Session connects once; make a new one")
        uri = self._uri
        t0 = perf_counter()
        deadline = t0 + self.connect_timeout
        try:
            sock = self._open_socket(uri.host, uri.port, uri.secure, deadline)
        except BaseException:
            self._finish()  # no socket: this only marks the session closed
            raise
        self._sock = sock
        if type(sock).__module__.startswith("gevent."):
            # gevent's socket makes a gevent.Timeout for every wait when the socket has a timeout
            # (4 us each, measured; as much as the rest of a send), so under gevent the socket has
            # none and each wait is timed with a bare loop timer instead (0.5 us).
            from greenlet import getcurrent

            self._loop = sock.hub.loop  # type: ignore[attr-defined]
            self._getcurrent = getcurrent
            sock.settimeout(None)
        proto = self._proto
        request = proto.connect()
        for name, value in self._headers.items():
            request.headers[name] = value
        proto.send_request(request)
        out = proto.data_to_send()
        for item in pipeline:
            payload = item.encode() if isinstance(item, str) else orjson.dumps(item)
            out.append(self._frame(_TEXT, payload))
        with self._rlock:
            with self._wlock:
                with self._plock:
                    self._request_sent = True
                self._write(out)
            if self._error is not None:
                error = self._error
                self._finish()
                raise HandshakeFailed(None, f"{type(error).__name__}: {error}") from error
            while proto.state is _CONNECTING and proto.handshake_exc is None:
                remaining = deadline - perf_counter()
                if remaining <= 0 or not self._pump(remaining, None):
                    self._finish()
                    raise StepTimeout("connect", self.connect_timeout)
        exc = proto.handshake_exc
        response = self._response
        if exc is not None:
            self._finish()
            status = None if response is None else response.status_code
            raise HandshakeFailed(status, str(exc)) from (self._error or exc)
        assert self.opened_at is not None
        return (self.opened_at - t0) * 1000.0

    def _open_socket(self, host: str, port: int, secure: bool, deadline: float) -> socket.socket:
        try:
            sock = self._socket_factory(host, port, self.connect_timeout)
        except TimeoutError as exc:
            raise StepTimeout("connect", self.connect_timeout) from exc
        except OSError as exc:
            raise HandshakeFailed(None, f"{type(exc).__name__}: {exc}") from exc
        if not secure:
            return sock
        context = self._ssl_context or ssl.create_default_context()
        try:
            sock.settimeout(max(deadline - perf_counter(), 1e-3))
            return context.wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise StepTimeout("connect", self.connect_timeout) from exc
        except OSError as exc:  # ssl.SSLError is one
            sock.close()
            raise HandshakeFailed(None, f"TLS: {exc}") from exc

    # ------------------------------------------------------------------ sending

    def send(self, message: Mapping[str, Any]) -> None:
        """Send one message as JSON in one text frame.

        Raises :class:`~loadgen.errors.SessionClosedError` (with the state and the close code
        received so far) once a close is under way or done on either side, or the TCP connection
        broke; :class:`~loadgen.errors.StepTimeout` ``("send", send_timeout)`` if the peer did not
        take the bytes in time (the connection is then dropped: a frame may be cut).
        """
        self._send(1, orjson.dumps(message))

    def send_text(self, text: str) -> None:
        """Send ``text`` as it is in one text frame (e.g. text that is not JSON)."""
        self._send(1, text.encode())

    def send_bytes(self, data: bytes) -> None:
        """Send one binary frame (the protocol has none: the server should close with 1003)."""
        self._send(2, data)

    def _send(self, opcode: int, payload: bytes) -> None:
        # No _plock here: the protocol is only read. Holding _wlock from the check to the write
        # keeps the order right: a close reply the read side queues meanwhile is flushed after
        # this frame, and one it already wrote means the state is no longer OPEN.
        with self._wlock:
            state = self._proto.state
            if state is _OPEN and not self._local_close and self._error is None:
                pass
            elif state is _CONNECTING and self._request_sent and not self._ended:
                pass  # behind the upgrade request, before the 101: a pipelined send
            elif self._sock is None and not self._ended:
                raise RuntimeError("send() before connect()")
            else:
                state_name = "closed" if self._error is not None else self.state
                raise SessionClosedError(state_name, self.close_code_received) from self._error
            data = self._frame(opcode, payload)
            self.last_sent_at = perf_counter()
            self._write_bytes(data)
            error = self._error
        if self._out:
            self._flush_out()
        if error is not None:
            if isinstance(error, TimeoutError):  # a frame may be cut: drop, as abort() does
                self._local_close = True
                self._finish()
                raise StepTimeout("send", self.send_timeout) from error
            raise SessionClosedError("closed", self.close_code_received) from error

    def _frame(self, opcode: int, payload: bytes) -> bytes:
        """One masked, final client data frame (RFC 6455 5.2). Caller holds ``_wlock``.

        The same bytes as ``ClientProtocol.send_text``/``send_binary`` produce, at a third of the
        cost: no Frame object, and masks taken from a per-session pool of ``os.urandom`` bytes
        instead of one ``getrandom`` system call per frame. Needing no protocol state, it also frames
        messages pipelined before the 101, which the protocol refuses while CONNECTING. No
        extension is offered in the handshake, so none can change the framing."""
        pos = self._mask_pos
        pool = self._mask_pool
        if pos >= len(pool):
            pool = self._mask_pool = os.urandom(_MASK_POOL_SIZE)
            pos = 0
        mask = pool[pos : pos + 4]
        self._mask_pos = pos + 4
        length = len(payload)
        if length < 126:
            head = _pack_short(0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = _pack_medium(0x80 | opcode, 0xFE, length)
        else:
            head = _pack_long(0x80 | opcode, 0xFF, length)
        return head + mask + _apply_mask(payload, mask)

    def _flush_out(self) -> None:
        """Write the read side's queued protocol output, unless a writer holds the socket: that
        writer calls this again once it lets go, so nothing stays queued."""
        while self._out and not self._ended:
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
        if not out[-1] and self._error is None and not self._ended:  # SEND_EOF: half-close
            assert self._sock is not None
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                self._error = exc

    def _write_bytes(self, data: bytes) -> None:
        """Write ``data`` within ``send_timeout``. Caller holds ``_wlock``. A socket error is
        recorded in ``_error`` rather than raised: the read side still has to see the end."""
        if self._error is not None or self._ended:
            return
        sock = self._sock
        assert sock is not None
        timer = None
        try:
            if self._loop is not None and not self._uri.secure:
                # A write nearly always fits in the socket's buffer at once: try it without
                # waiting (gevent's timeout argument 0.0), and arm a timer only for the rest.
                # Not over TLS, where gevent's send ignores that argument.
                try:
                    sent = sock.send(data, 0, 0.0)  # type: ignore[call-arg]
                except BlockingIOError:
                    sent = 0
                if sent != len(data):
                    timer = self._gevent_timer(self.send_timeout)
                    sock.sendall(memoryview(data)[sent:])
                return
            if self._loop is not None:
                timer = self._gevent_timer(self.send_timeout)
            elif self._timeout != self.send_timeout:
                self._timeout = self.send_timeout
                sock.settimeout(self.send_timeout)
            # One send() nearly always takes it all; sendall() costs more under gevent (a
            # getsockopt system call and three Python calls per write), so it only does the rest.
            sent = sock.send(data)
            if sent != len(data):
                sock.sendall(memoryview(data)[sent:])
        except OSError as exc:  # TimeoutError included
            self._error = exc
        except BaseException:
            # Interrupted (gevent.Timeout, a killed greenlet): a frame may be cut, so the stream
            # is unusable. Drop it, as abort() does.
            self._error = ConnectionAbortedError("a write was interrupted")
            self._local_close = True
            self._finish()
            raise
        finally:
            if timer is not None:
                timer.close()

    def _gevent_timer(self, seconds: float) -> Any:
        """Under gevent, a started timer that raises :class:`_WaitTimedOut` in this greenlet after
        ``seconds``: what ``gevent.Timeout`` does, minus its cost. Close it right after the wait;
        it cannot fire before the greenlet waits, as only the hub runs timers."""
        assert self._getcurrent is not None
        timer = self._loop.timer(seconds)
        timer.start(self._getcurrent().throw, _WaitTimedOut)
        return timer

    # ------------------------------------------------------------------ receiving

    def recv(self, timeout: float, step: str = "recv") -> dict[str, Any]:
        """The next message, parsed from JSON.

        Raises :class:`~loadgen.errors.StepTimeout` ``(step, timeout)`` if none is read in
        ``timeout`` seconds, :class:`~loadgen.errors.BadReply` for a frame that is not one JSON
        object (it is consumed), :class:`ConnectionEnded` when the peer or the network ended the
        connection, :class:`~loadgen.errors.SessionClosedError` after this side closed it.
        """
        if self._local_close:
            raise SessionClosedError(self.state, self.close_code_received)
        inbox = self._inbox
        if not inbox:
            self._wait(perf_counter() + timeout, timeout, step)
        try:
            at, opcode, data = inbox.popleft()
        except IndexError:  # another thread took it between the wait and here
            return self.recv(timeout, step)
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

    def recv_many(self, count: int, timeout: float, step: str = "recv") -> list[dict[str, Any]]:
        """The next ``count`` messages, all within ``timeout`` seconds."""
        deadline = perf_counter() + timeout
        return [self._recv_by(deadline, timeout, step) for _ in range(count)]

    def recv_until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, step: str = "recv"
    ) -> list[dict[str, Any]]:
        """Messages up to and including the first for which ``predicate`` is true, all within
        ``timeout`` seconds. On a timeout or an end, the messages read so far are lost with it;
        use :meth:`recv` in a loop where they matter."""
        deadline = perf_counter() + timeout
        got: list[dict[str, Any]] = []
        while True:
            message = self._recv_by(deadline, timeout, step)
            got.append(message)
            if predicate(message):
                return got

    def _recv_by(self, deadline: float, timeout: float, step: str) -> dict[str, Any]:
        if not self._inbox:
            self._wait(deadline, timeout, step)
        return self.recv(timeout, step)

    def _wait(self, deadline: float, timeout: float, step: str) -> None:
        """Read until the inbox has a message, or raise why it will not."""
        inbox = self._inbox
        proto = self._proto
        while not inbox:
            if self._local_close:
                raise SessionClosedError(self.state, self.close_code_received)
            if self._sock is None and not self._ended:
                raise RuntimeError("recv() before connect()")
            if self._ended or (proto.state is not _OPEN and proto.state is not _CONNECTING):
                raise self._ended_exception()
            remaining = deadline - perf_counter()
            if remaining <= 0 or not self._rlock.acquire(timeout=remaining):
                raise StepTimeout(step, timeout)
            try:
                if inbox or self._ended or self._local_close:
                    continue  # someone else read while we waited for the lock
                if not self._read(remaining):
                    raise StepTimeout(step, timeout)
                if proto.state is not _OPEN and proto.state is not _CONNECTING:
                    self._drain(perf_counter() + self.close_timeout)
            finally:
                self._rlock.release()

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

    def _pump(self, timeout: float, drain_deadline: float | None) -> bool:
        """Read once; once the protocol leaves OPEN, finish the close: read to the peer's EOF (by
        ``drain_deadline``, default ``close_timeout`` from now), then close the socket. Caller
        holds ``_rlock``. False: nothing arrived within ``timeout``."""
        if not self._read(timeout):
            return False
        state = self._proto.state
        if state is not _OPEN and state is not _CONNECTING:
            self._drain(perf_counter() + self.close_timeout if drain_deadline is None else drain_deadline)
        return True

    def _drain(self, deadline: float) -> None:
        """The protocol left OPEN: read to the peer's EOF by ``deadline``, then close the socket
        (RFC 6455 7.1.1: the client waits for the server to close TCP first). Caller holds
        ``_rlock``."""
        while not self._ended:
            remaining = deadline - perf_counter()
            if remaining <= 0 or not self._read(remaining):
                self._finish()

    def _read(self, timeout: float) -> bool:
        """One socket read, turned into messages. Caller holds ``_rlock``. False: timed out."""
        if self._ended:
            return True
        sock = self._sock
        assert sock is not None
        try:
            if self._loop is not None:
                timer = self._gevent_timer(timeout)
                try:
                    data = sock.recv(_READ_SIZE)
                finally:
                    timer.close()
            else:
                self._timeout = timeout
                sock.settimeout(timeout)
                data = sock.recv(_READ_SIZE)
        except TimeoutError:
            return False
        except OSError as exc:  # reset by the peer, or closed under us by abort()
            if self._error is None:
                self._error = exc
            data = b""
        now = perf_counter()
        if not data:
            self._finish(now)
            return True
        proto = self._proto
        # Fast path: whole, final text/binary frames starting at a frame boundary are all the
        # protocol would turn into plain events; split them here. Anything else (control frames,
        # fragments, a frame cut by the read, errors, the handshake) goes to the protocol.
        if not self._left and not self._head and proto.state is _OPEN and proto.current_size is None:
            frames = _whole_data_frames(data, proto.max_message_size)
            if frames is not None:
                inbox = self._inbox
                for opcode, payload in frames:
                    inbox.append((now, opcode, payload))
                return True
        with self._plock:
            if self._eof_fed:  # abort() won the race: the stream is over
                return True
            connecting = proto.state is _CONNECTING
            if connecting:
                self._handshake_bytes += data
            proto.receive_data(data)
            events = proto.events_received()
            out = proto.data_to_send()  # pongs, the close reply, a close for a protocol error
            if out:
                self._out += out
        if self._out:
            self._flush_out()
        if not connecting:
            self._track(data)
        for event in events:
            if event.__class__ is Frame:
                opcode = event.opcode
                if (opcode is _TEXT or opcode is _BINARY) and event.fin:
                    self._inbox.append((now, opcode, event.data))
                elif opcode is _CLOSE:
                    self.close_received_at = now
                elif opcode is _TEXT or opcode is _BINARY:
                    self._partial = (opcode, [event.data])
                elif opcode is _CONT and self._partial is not None:
                    self._partial[1].append(event.data)
                    if event.fin:
                        first, parts = self._partial
                        self._partial = None
                        self._inbox.append((now, first, b"".join(parts)))
                # PING and PONG: the protocol already queued the pong, written above.
            elif event.__class__ is Response:
                self._response = event
                self.opened_at = now
                if proto.state is not _CONNECTING:
                    # A 101 has no body: frames start right after the blank line.
                    hs = self._handshake_bytes
                    self._handshake_bytes = b""
                    self._track(hs[hs.find(b"\r\n\r\n") + 4 :])
        return True

    def _track(self, data: bytes) -> None:
        """Follow frame boundaries through bytes the protocol parsed, so that the fast path in
        :meth:`_read` only starts at one: ``_left`` bytes of a frame still to come, or ``_head``,
        the start of a header cut by the read."""
        if self._head:
            data = self._head + data
            self._head = b""
        n = len(data)
        pos = self._left
        while pos < n:
            if n - pos < 2:
                break  # a header cut after its first byte
            second = data[pos + 1]
            code = second & 0x7F
            length_end = pos + (4 if code == 126 else 10 if code == 127 else 2)
            if length_end > n:
                break  # a header cut in its extended length
            length = code if code < 126 else int.from_bytes(data[pos + 2 : length_end], "big")
            # A server must not mask; if one does, the protocol fails the connection anyway.
            pos = length_end + (4 if second & 0x80 else 0) + length
        if pos >= n:
            self._left = pos - n
        else:
            self._left = 0
            self._head = data[pos:]

    # ------------------------------------------------------------------ closing

    def close(self, code: int = 1000, reason: str = "", timeout: float = 5.0) -> int | None:
        """Close: send a close frame, read to the peer's close and EOF within ``timeout``, then close
        the socket (dropped if the peer is late). Return the code the peer sent (None: none came).

        A close already under way (another ``close``, or the peer's) is waited for, not repeated;
        on a session that already ended this returns at once. ``ValueError`` for a code or reason
        that cannot be sent.
        """
        _check_close_args(code, reason)
        deadline = perf_counter() + timeout
        self._local_close = True  # from now on, sends fail fast
        if self._sock is None or self._proto.state is _CONNECTING:
            self._finish()  # no close handshake before the 101
            return None
        # A writer stuck on a peer that does not read holds _wlock for up to send_timeout.
        if not self._wlock.acquire(timeout=timeout):
            self._finish()
            return self.close_code_received
        try:
            with self._plock:
                out = self._out
                self._out = []
                if self._proto.state is _OPEN and not self._ended and self._error is None:
                    self._proto.send_close(code, reason)
                    out += self._proto.data_to_send()
            if out:
                self._write(out)
        finally:
            self._wlock.release()
        while not self._ended:
            remaining = deadline - perf_counter()
            if remaining <= 0 or not self._rlock.acquire(timeout=remaining):
                break
            try:
                if not self._ended and not self._pump(remaining, deadline):
                    break
            finally:
                self._rlock.release()
        if not self._ended:
            self._finish()
        return self.close_code_received

    def abort(self) -> None:
        """Drop the TCP connection now, with no close frame (the server should see 1006)."""
        self._local_close = True
        self._finish()

    def _finish(self, now: float | None = None) -> None:
        """Close the socket and tell the protocol the stream is over. Idempotent; takes no lock
        before the socket is shut, so that it also wakes a reader or writer blocked on it."""
        if not self._ended:
            self._ended = True
            self.ended_at = now or perf_counter()
            sock = self._sock
            if sock is not None:
                # OSError: the peer already reset it, or it is closed: nothing left to shut.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        with self._plock:
            if not self._eof_fed:
                self._eof_fed = True
                self._proto.receive_eof()
                self._proto.data_to_send()  # an EOF to echo: the socket is already closed

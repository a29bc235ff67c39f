"""The socket side of the client session: opening TCP, and one I/O policy per kind of socket.

The session does all its I/O through :func:`io_for`'s policy object, so the difference between a
blocking socket (threads, tests, no gevent) and a gevent-patched one (Locust) lives here, once:

- :class:`BlockingIO` waits with the socket's own timeout;
- :class:`GeventIO` leaves the socket without a timeout and bounds each wait with a bare loop
  timer: with a socket timeout gevent builds a ``gevent.Timeout`` per wait (4 us each, measured,
  as much as the rest of a send; the bare timer costs 0.5 us).

Both raise :class:`TimeoutError` when a wait's deadline passes, and :class:`OSError` for a socket
error; the session turns them into its own errors. Nothing here imports gevent unless the socket is
a gevent one, nor Locust.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any, Final

from loadgen.errors import HandshakeFailed, StepTimeout

__all__ = [
    "READ_SIZE",
    "BlockingIO",
    "GeventIO",
    "SocketFactory",
    "SocketIO",
    "bound_connect",
    "io_for",
    "new_lock",
    "open_socket",
    "tcp_connect",
    "unverified_ssl_context",
]

SocketFactory = Callable[[str, int, float], socket.socket]
"""``(host, port, timeout) -> connected socket``. The session adds TLS itself for ``wss://``."""

READ_SIZE: Final = 65536
"""One read's buffer. Kept under glibc's mmap threshold (128 KiB): ``socket.recv`` allocates the
full size before shrinking it, and a bigger buffer turned every small read into an mmap/munmap pair."""


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


IP_BIND_ADDRESS_NO_PORT: Final = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
"""Linux's option (``<linux/in.h>``; Python 3.11 does not name it): a ``bind`` to an address with
port 0 leaves the port to ``connect``, which picks it for the whole 4-tuple. Without it, ``bind``
reserves a port for the address alone, and the ephemeral range runs out at ~28k per address
whatever the destination."""


def bound_connect(source: str) -> SocketFactory:
    """A :data:`SocketFactory` like :func:`tcp_connect` whose connections come from ``source`` (an
    IPv4 address of this machine, e.g. one of 127.0.0.0/8): bound before connecting, the port left
    to the kernel at connect time. Only used when source addresses are asked for."""

    def connect(host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
            sock.settimeout(timeout)
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    return connect


SLOW_READER_BUFFER: Final = 8192
"""Bytes of TCP receive buffer a slow reader asks for (the kernel may round it up)."""


def slow_reader_connect(host: str, port: int, timeout: float) -> socket.socket:
    """A :data:`SocketFactory` for a slow reader: a small TCP receive window, set before connecting
    (that is what sets the window), so the server feels a reader that pauses at once — without it,
    loopback buffers swallow a whole burst and the server never has to hold back."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_READER_BUFFER)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def open_socket(
    factory: SocketFactory,
    host: str,
    port: int,
    connect_timeout: float,
    deadline: float,
    clock: Callable[[], float],
    *,
    secure: bool,
    ssl_context: ssl.SSLContext | None,
) -> socket.socket:
    """A connected socket from ``factory``, wrapped in TLS when ``secure`` (``ssl_context``, or by
    default one that verifies), all by ``deadline`` on ``clock``.

    :class:`~loadgen.errors.StepTimeout` ``("connect", connect_timeout)`` when that took too long,
    :class:`~loadgen.errors.HandshakeFailed` ``(None, ...)`` when TCP or TLS failed."""
    try:
        sock = factory(host, port, connect_timeout)
    except TimeoutError as exc:
        raise StepTimeout("connect", connect_timeout) from exc
    except OSError as exc:
        raise HandshakeFailed(None, f"{type(exc).__name__}: {exc}") from exc
    if not secure:
        return sock
    context = ssl_context or ssl.create_default_context()
    try:
        sock.settimeout(max(deadline - clock(), 1e-3))
        return context.wrap_socket(sock, server_hostname=host)
    except TimeoutError as exc:
        sock.close()
        raise StepTimeout("connect", connect_timeout) from exc
    except OSError as exc:  # ssl.SSLError is one
        sock.close()
        raise HandshakeFailed(None, f"TLS: {exc}") from exc


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


def new_lock() -> Any:
    """``threading.Lock()``, or under gevent's monkey patch the gevent semaphore it is built on.

    gevent's ``threading.Lock`` is its ``BoundedSemaphore`` with an ``acquire`` written in Python
    that only re-checks the arguments; a session takes two locks per round trip, and the shim was
    a tenth of the session's own instructions (callgrind: 5.9k a lock cycle against 4.1k)."""
    lock_type = threading.Lock
    if getattr(lock_type, "__module__", None) == "gevent.thread":
        from gevent.lock import BoundedSemaphore

        return BoundedSemaphore(1)
    return lock_type()


class SocketIO:
    """The policy interface: one read and one whole write, each within a timeout in seconds."""

    def recv(self, timeout: float) -> bytes:
        """Up to :data:`READ_SIZE` bytes (``b""``: EOF); :class:`TimeoutError` after ``timeout``."""
        raise NotImplementedError

    def send(self, data: bytes, timeout: float) -> None:
        """All of ``data``; :class:`TimeoutError` if the peer does not take it within ``timeout``."""
        raise NotImplementedError


class BlockingIO(SocketIO):
    """A blocking socket (or any socket-like object): waits with ``settimeout``."""

    __slots__ = ("_sock", "_timeout")

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._timeout: float | None = None  # the socket's timeout as last set here

    def recv(self, timeout: float) -> bytes:
        sock = self._sock
        self._timeout = timeout
        sock.settimeout(timeout)
        return sock.recv(READ_SIZE)

    def send(self, data: bytes, timeout: float) -> None:
        sock = self._sock
        if self._timeout != timeout:
            self._timeout = timeout
            sock.settimeout(timeout)
        # One send() nearly always takes it all; sendall() costs more under gevent (a getsockopt
        # system call and three Python calls per write), so it only does the rest.
        sent = sock.send(data)
        if sent != len(data):
            sock.sendall(memoryview(data)[sent:])


class _WaitTimedOut(TimeoutError):
    """A wait's deadline passed (raised into the waiting greenlet by a gevent timer)."""


class GeventIO(SocketIO):
    """A gevent socket, left without a timeout; each wait is bounded by a bare loop timer that
    throws :class:`TimeoutError` into the waiting greenlet (what ``gevent.Timeout`` does, minus its
    cost). The timer cannot fire before the greenlet waits: only the hub runs timers."""

    __slots__ = ("_getcurrent", "_loop", "_sock", "_try_first")

    def __init__(self, sock: Any, secure: bool) -> None:
        from greenlet import getcurrent

        self._sock = sock
        self._loop = sock.hub.loop
        self._getcurrent = getcurrent
        # gevent's send ignores its timeout argument over TLS, so the no-wait first try is for TCP.
        self._try_first = not secure
        sock.settimeout(None)

    def _timer(self, seconds: float) -> Any:
        timer = self._loop.timer(seconds)
        timer.start(self._getcurrent().throw, _WaitTimedOut)
        return timer

    def recv(self, timeout: float) -> bytes:
        timer = self._timer(timeout)
        try:
            return self._sock.recv(READ_SIZE)
        finally:
            timer.close()

    def send(self, data: bytes, timeout: float) -> None:
        sock = self._sock
        if self._try_first:
            # A write nearly always fits in the socket's buffer at once: try it without waiting
            # (gevent's timeout argument 0.0), and arm a timer only for the rest.
            try:
                sent = sock.send(data, 0, 0.0)
            except BlockingIOError:
                sent = 0
            if sent == len(data):
                return
            timer = self._timer(timeout)
            try:
                sock.sendall(memoryview(data)[sent:])
            finally:
                timer.close()
            return
        timer = self._timer(timeout)
        try:
            sent = sock.send(data)
            if sent != len(data):
                sock.sendall(memoryview(data)[sent:])
        finally:
            timer.close()


def io_for(sock: Any, secure: bool) -> SocketIO:
    """The policy for ``sock``: :class:`GeventIO` for a gevent socket, else :class:`BlockingIO`."""
    if type(sock).__module__.startswith("gevent."):
        return GeventIO(sock, secure)
    return BlockingIO(sock)

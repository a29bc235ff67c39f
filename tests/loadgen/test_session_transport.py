"""loadgen.session.transport: the blocking I/O policy over a socketpair (gevent's is in
test_session_gevent.py, which runs monkey-patched)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from loadgen.session.transport import READ_SIZE, BlockingIO, io_for

MS = 0.001 * float(__import__("os").environ.get("WSRACE_TEST_TIME_SCALE", "1"))


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_a_plain_socket_gets_the_blocking_policy(pair: tuple[socket.socket, socket.socket]) -> None:
    """io_for picks BlockingIO for a socket that is not gevent's."""
    assert isinstance(io_for(pair[0], secure=False), BlockingIO)


def test_blocking_recv_and_send(pair: tuple[socket.socket, socket.socket]) -> None:
    """recv returns what the peer wrote (up to READ_SIZE), and b"" at its EOF; send writes it all."""
    a, b = pair
    io = BlockingIO(a)
    b.sendall(b"x" * (READ_SIZE + 10))
    assert len(io.recv(1.0)) == READ_SIZE
    io.send(b"hello", 1.0)
    assert b.recv(10) == b"hello"
    b.shutdown(socket.SHUT_WR)
    assert io.recv(1.0) == b"x" * 10
    assert io.recv(1.0) == b""


def test_blocking_waits_end_with_timeout_error(pair: tuple[socket.socket, socket.socket]) -> None:
    """A read with nothing to read, and a write to a peer that never reads, raise TimeoutError."""
    io = BlockingIO(pair[0])
    with pytest.raises(TimeoutError):
        io.recv(20 * MS)
    with pytest.raises(TimeoutError):
        for _ in range(1000):  # bounded: the socket buffers fill long before
            io.send(b"y" * 65536, 20 * MS)


def test_slow_reader_connect_asks_for_a_small_window_before_connecting() -> None:
    """The slow reader's socket has its small receive buffer (the kernel doubles what it is asked,
    and may round up, but stays far below loopback's default) and reaches the listener."""
    import socket

    from loadgen.session import slow_reader_connect
    from loadgen.session.transport import SLOW_READER_BUFFER

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        default = socket.socket()
        try:
            default_size = default.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        finally:
            default.close()
        sock = slow_reader_connect("127.0.0.1", port, 5.0)
        try:
            peer, _ = listener.accept()
            peer.close()
            size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            assert SLOW_READER_BUFFER <= size <= 4 * SLOW_READER_BUFFER < default_size
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        finally:
            sock.close()

"""``loadgen.session.tcp_connect``: an IP address is connected to without a resolver round trip
(under gevent a thread-pool hop per connection, found by the benchmark); a name still resolves."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from loadgen.session import tcp_connect


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def _no_resolver(*args: object, **kwargs: object) -> object:
    raise AssertionError("getaddrinfo was called for an IP address")


def test_an_ip_address_needs_no_resolver(listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "getaddrinfo", _no_resolver)
    sock = tcp_connect("127.0.0.1", listener.getsockname()[1], 5.0)
    try:
        peer, _ = listener.accept()
        peer.close()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert sock.gettimeout() == 5.0
    finally:
        sock.close()


def test_a_name_is_resolved(listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    """A name goes through getaddrinfo, and the connection it gives reaches the listener."""
    asked: list[object] = []
    real = socket.getaddrinfo

    def spy(host: object, *args: object, **kwargs: object) -> object:
        asked.append(host)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    sock = tcp_connect("localhost", listener.getsockname()[1], 5.0)
    try:
        listener.settimeout(5.0)
        peer, _ = listener.accept()
        try:
            assert peer.getpeername() == sock.getsockname()  # this connection, not another
        finally:
            peer.close()
    finally:
        sock.close()
    assert asked == ["localhost"]


def test_ipv6_address(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    monkeypatch.setattr(socket, "getaddrinfo", _no_resolver)
    try:
        sock = tcp_connect("::1", server.getsockname()[1], 5.0)
        assert sock.family == socket.AF_INET6
        sock.close()
    finally:
        server.close()


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound by us (so no one else takes it), never
    listening."""
    bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bound.bind(("127.0.0.1", 0))
    yield bound.getsockname()[1]
    bound.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_refused_is_an_os_error_and_leaks_no_socket(
    host: str, refusing_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused connect raises ConnectionRefusedError, and every socket it opened is closed again
    (by the IP path and by the resolver path)."""
    opened: list[socket.socket] = []

    class Recorded(socket.socket):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            opened.append(self)

    if host == "localhost":  # only the address our refusing socket holds, not ::1 as well
        real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo",
                            lambda h, *a, **k: [ai for ai in real(h, *a, **k) if ai[0] == socket.AF_INET])
    monkeypatch.setattr(socket, "socket", Recorded)
    with pytest.raises(ConnectionRefusedError):
        tcp_connect(host, refusing_port, 5.0)
    assert opened, "no socket was opened: the connect was never tried"
    assert [sock.fileno() for sock in opened] == [-1] * len(opened), "a socket was left open"

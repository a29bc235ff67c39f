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


def test_a_name_is_resolved(listener: socket.socket) -> None:
    sock = tcp_connect("localhost", listener.getsockname()[1], 5.0)
    sock.close()


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


def test_refused_is_an_os_error_and_leaks_no_socket(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        tcp_connect("127.0.0.1", port, 5.0)

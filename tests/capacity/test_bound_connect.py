"""loadgen.session.transport.bound_connect: connections from the source address asked for, the
port picked by the kernel at connect time (IP_BIND_ADDRESS_NO_PORT). On loopback, port 0."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from loadgen.session.transport import IP_BIND_ADDRESS_NO_PORT, bound_connect


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


@pytest.mark.parametrize("source", ["127.0.0.2", "127.0.0.77"])
def test_connections_come_from_the_source_address(listener: socket.socket, source: str) -> None:
    """The accepted peer is the address asked for; Nagle is off, as on the default path."""
    port = listener.getsockname()[1]
    client = bound_connect(source)("127.0.0.1", port, 5.0)
    try:
        listener.settimeout(5.0)
        accepted, peer = listener.accept()
        accepted.close()
        assert peer[0] == source
        assert client.getsockname()[0] == source
        assert client.getsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT) == 1
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        client.close()


def test_a_source_address_that_is_not_local_fails_as_an_oserror(listener: socket.socket) -> None:
    """An address of no interface fails at bind, as an OSError (the session turns it into
    HandshakeFailed); ``wsrace run`` refuses such addresses before any load."""
    with pytest.raises(OSError):
        bound_connect("192.0.2.1")("127.0.0.1", listener.getsockname()[1], 5.0)

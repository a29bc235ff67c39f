"""The shared listening port: SO_REUSEPORT sockets for the supervisor and every worker.

The supervisor binds (but never listens on) one socket first: that is how ``--port 0`` gets a port
every worker can then bind too, and it keeps the port ours while a worker restarts. Only listening
sockets take connections, so the kernel spreads them over the workers.
"""

from __future__ import annotations

import socket

from target_app.config import BACKLOG, SEND_BUFFER_BYTES


def address_family(host: str, port: int) -> int:
    """The family of the first address ``host`` resolves to (IPv4 or IPv6)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return int(info[0][0])


def shared_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with SO_REUSEPORT (not listening)."""
    sock = socket.socket(address_family(host, port), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def listening_socket(host: str, port: int) -> socket.socket:
    """A worker's socket: shared, listening with a deep backlog, non-blocking."""
    sock = shared_socket(host, port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)  # accepted ones inherit
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock

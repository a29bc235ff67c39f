"""A small protocol client for the direct checks: websockets' sync client, independent of wsrace's.

:class:`Peer` checks the one rule every message must keep (``seq`` one more than the last) and
hands back parsed messages; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
import urllib.request
import warnings
from collections.abc import Iterator
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning
from prometheus_client.parser import text_string_to_metric_families
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.uri import parse_uri

from loadgen.protocol.tokens import DEV_SECRET

TIMEOUT_S = 5.0


def token(sub: str | None = "alice", *, secret: str = DEV_SECRET, ttl_s: float = 600.0,
          algorithm: str = "HS256", **claims: Any) -> str:
    """A JWT like wsrace mints (or, through the keywords, one the server must refuse)."""
    body: dict[str, Any] = {"exp": int(time.time() + ttl_s), **claims}
    if sub is not None:
        body["sub"] = sub
    with warnings.catch_warnings():  # the development secret is short for HS512: that case is refused anyway
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode(body, None if algorithm == "none" else secret, algorithm=algorithm)


class Peer:
    """One client connection: JSON in and out, ``seq`` checked on every numbered message."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.next_seq = 0

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def recv(self, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        msg = json.loads(self.ws.recv(timeout))
        if "seq" in msg:
            assert msg["seq"] == self.next_seq, f"seq {msg['seq']} where {self.next_seq} was due: {msg}"
            self.next_seq += 1
        return msg

    def ready(self, user: str = "alice") -> dict[str, Any]:
        msg = self.recv()
        assert msg["type"] == "ready" and msg["seq"] == 0 and msg["user"] == user, msg
        assert isinstance(msg["session"], str) and msg["session"], msg
        return msg

    def ask(self, message: dict[str, Any], expected_type: str) -> dict[str, Any]:
        """Send an op and return its reply, which must be the next message."""
        self.send(message)
        reply = self.recv()
        assert reply["type"] == expected_type and reply["id"] == message.get("id"), (message, reply)
        return reply

    def closed_code(self, timeout: float = TIMEOUT_S) -> tuple[int | None, list[dict[str, Any]]]:
        """Read until the server's close: its code (None: no close frame) and the messages before it."""
        deadline = time.monotonic() + timeout
        before = []
        try:
            while True:
                before.append(self.recv(max(0.01, deadline - time.monotonic())))
        except ConnectionClosed as closed:
            return (None if closed.rcvd is None else closed.rcvd.code), before


@contextlib.contextmanager
def open_peer(url: str, tok: str | None = None, *, mode: str = "header", receive_buffer: int | None = None
              ) -> Iterator[Peer]:
    """Connect (``mode``: ``header``, ``query``; with ``tok`` None no token, for in-band auth).

    ``receive_buffer`` sets ``SO_RCVBUF`` before connecting: a small TCP window, so that a client
    that stops reading is felt by the server at once, not after the many MB loopback can buffer."""
    headers = {"Authorization": f"Bearer {tok}"} if tok is not None and mode == "header" else None
    if tok is not None and mode == "query":
        url = f"{url}?token={tok}"
    uri = parse_uri(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.settimeout(TIMEOUT_S)
        sock.connect((uri.host, uri.port))
    except OSError:
        sock.close()
        raise
    with connect(url, sock=sock, additional_headers=headers, open_timeout=TIMEOUT_S, close_timeout=2,
                 ping_interval=None, max_size=None) as ws:
        yield Peer(ws)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` as {(sample name, labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT_S) as resp:
        text = resp.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def counter(port: int, name: str, **labels: str) -> float:
    return scrape(port).get((name, tuple(sorted(labels.items()))), 0.0)


def wait_for_counter(port: int, name: str, above: float, timeout: float = 15.0) -> float:
    """Poll ``/metrics`` until counter ``name`` is above ``above``; its value (AssertionError in time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = counter(port, name)
        if value > above:
            return value
        assert time.monotonic() < deadline, f"{name} stayed at {value} for {timeout} s"
        time.sleep(0.1)


def wait_until_steady(port: int, name: str, timeout: float = 15.0, settle_s: float = 0.5) -> float:
    """Poll counter ``name`` until it stops moving for ``settle_s``; that value."""
    deadline = time.monotonic() + timeout
    last = counter(port, name)
    while True:
        time.sleep(settle_s)
        value = counter(port, name)
        if value == last:
            return value
        assert time.monotonic() < deadline, f"{name} still moving after {timeout} s"
        last = value


def pipeline_after_101(url: str, frames: list[dict[str, Any]], count: int, *, tok: str | None = None,
                       timeout: float = TIMEOUT_S) -> list[dict[str, Any]]:
    """Connect, and the instant the 101 is read write ``frames`` in one write (RFC 6455 §4.1 allows
    nothing earlier); return the first ``count`` messages the server sends.

    websockets' sans-I/O client on a plain socket, so that the order and grouping of bytes on the
    wire is exactly this: the upgrade request, the 101 read, then every frame at once."""
    uri = parse_uri(url)
    proto = ClientProtocol(uri, max_size=None)
    deadline = time.monotonic() + timeout
    with socket.create_connection((uri.host, uri.port), timeout=timeout) as sock:
        request = proto.connect()
        if tok is not None:
            request.headers["Authorization"] = f"Bearer {tok}"
        proto.send_request(request)
        sock.sendall(b"".join(proto.data_to_send()))
        messages: list[dict[str, Any]] = []
        sent = False
        while len(messages) < count:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            assert data, f"connection ended after {len(messages)} of {count} messages"
            proto.receive_data(data)
            for event in proto.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    messages.append(json.loads(event.data))
            assert proto.handshake_exc is None, proto.handshake_exc
            if not sent and proto.state is State.OPEN:
                for frame in frames:
                    proto.send_text(json.dumps(frame).encode())
                sock.sendall(b"".join(proto.data_to_send()))
                sent = True
        return messages[:count]

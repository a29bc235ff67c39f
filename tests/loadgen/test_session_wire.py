"""RFC 6455 §4.1 order on the wire: the upgrade request alone, the 101 read, then the pipeline.

A recording socket (handed to the session as its socket factory) logs every send and recv in
order, so the order is checked on the session's own calls, not guessed from timing. Then the same
pipeline end to end against uvicorn, which, unlike websockets' server, never reads frames written
before its 101.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import orjson
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from loadgen.session import Session, ws_url

PIPELINE = [{"op": "auth", "token": "t0k"}, {"op": "echo", "id": 1}, '{"op":"echo","id":2}']
EXPECTED = [m if isinstance(m, dict) else orjson.loads(m) for m in PIPELINE]


class RecordingSocket:
    """One end of a socketpair that logs ``("send", bytes)`` and ``("recv", bytes)`` in call order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.log: list[tuple[str, bytes]] = []

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def send(self, data: bytes) -> int:
        sent = self.sock.send(data)
        self.log.append(("send", bytes(data[:sent])))
        return sent

    def sendall(self, data: bytes | memoryview) -> None:
        self.sock.sendall(data)
        self.log.append(("send", bytes(data)))

    def recv(self, size: int) -> bytes:
        data = self.sock.recv(size)
        self.log.append(("recv", data))
        return data

    def shutdown(self, how: int) -> None:
        self.sock.shutdown(how)

    def close(self) -> None:
        self.sock.close()


def _client_frames(data: bytes) -> list[Frame]:
    server = ServerProtocol(state=State.OPEN, max_size=None)
    server.receive_data(data)
    return server.events_received()  # type: ignore[return-value]


def _parse_request(data: bytes) -> Request:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Request.parse(reader.read_line)
    try:
        next(parser)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("not one whole HTTP request")


def test_nothing_but_the_request_before_the_101_then_the_pipeline_at_once(peer: Callable[..., Any]) -> None:
    """Before the recv that returns the 101 only the HTTP request is sent; the next call after it
    is one send of the pipelined frames (and the pong for a ping glued to the 101), before any recv."""
    glued = Frame(Opcode.TEXT, b'{"type":"ready","seq":0}').serialize(mask=False)
    glued += Frame(Opcode.PING, b"hi").serialize(mask=False)
    p = peer(after_101=glued, auto=False)
    recorder = RecordingSocket(p.client_sock)
    session = Session("ws://test.invalid/ws", socket_factory=lambda h, port, t: recorder)  # type: ignore[arg-type, return-value]
    session.connect(pipeline=PIPELINE)

    log = recorder.log
    reads = [i for i, (kind, _) in enumerate(log) if kind == "recv"]
    # The recv whose bytes complete the 101's head.
    index = next(i for i in reads if b"\r\n\r\n" in b"".join(log[j][1] for j in reads if j <= i))
    received = b"".join(log[j][1] for j in reads if j <= index)
    before = log[:index]
    assert before and all(kind == "send" for kind, _ in before), before
    request_bytes = b"".join(data for _, data in before)
    assert request_bytes.endswith(b"\r\n\r\n") and request_bytes.count(b"\r\n\r\n") == 1
    assert _parse_request(request_bytes).path == "/ws"
    assert received.startswith(b"HTTP/1.1 101 ")

    after = log[index + 1 :]
    assert after and after[0][0] == "send", after  # the very next call writes, before any recv
    frames = _client_frames(after[0][1])
    assert [orjson.loads(f.data) for f in frames if f.opcode is Opcode.TEXT] == EXPECTED
    assert [(f.opcode, f.data) for f in frames if f.opcode is not Opcode.TEXT] == [(Opcode.PONG, b"hi")]

    assert session.recv(5) == {"type": "ready", "seq": 0}  # bytes glued to the 101 were kept
    server_frames = p.read_frames(0.2)
    assert [orjson.loads(f.data) for f in server_frames if f.opcode is Opcode.TEXT] == EXPECTED
    assert p.before_101 == []


def test_closed_right_after_the_101_sends_no_pipeline(peer: Callable[..., Any]) -> None:
    """A close glued to the 101: the pipeline is not sent, the close is answered, recv sees it."""
    glued = Frame(Opcode.CLOSE, Close(4001, "bye").serialize()).serialize(mask=False)
    p = peer(after_101=glued)
    session = Session("ws://test.invalid/ws", socket_factory=p.factory)
    session.connect(pipeline=PIPELINE)
    p.wait_finished(5)
    assert [f.opcode for f in p.frames] == [Opcode.CLOSE]
    assert session.state == "closed" and session.close_code_received == 4001


def test_pipeline_against_uvicorn(uvicorn_server: Any) -> None:
    """uvicorn (wsproto, websockets-sansio) reads and answers every pipelined message, in order,
    after its ready: the early-message race inside what RFC 6455 allows."""
    session = Session(ws_url(uvicorn_server.base))
    session.connect(pipeline=PIPELINE)
    got = session.recv_many(1 + len(PIPELINE), 5)
    assert got[0] == {"type": "ready"}
    assert got[1:] == EXPECTED
    assert [orjson.loads(t) for t in uvicorn_server.received] == EXPECTED
    assert session.close() == 1000

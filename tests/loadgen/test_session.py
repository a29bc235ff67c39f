"""loadgen.session: URLs, the opening and closing handshakes, deadlines and races.

Three kinds of peer: a scripted fake socket (exact read boundaries, no network), a sans-I/O
``ServerProtocol`` over a ``socketpair()`` (what the session wrote, byte for byte), and a real
``websockets.asyncio.server`` on port 0. Threads stand in for greenlets here; the gevent runs are in
``test_session_gevent.py``. The pure parts have their own files (``test_session_frames.py``,
``test_session_lifecycle.py``), as do the order on the wire (``test_session_wire.py``), the deadline
arithmetic on a fake clock (``test_session_deadlines.py``) and the I/O policy
(``test_session_transport.py``).
"""

from __future__ import annotations

import itertools
import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from websockets.datastructures import Headers
from websockets.exceptions import PayloadTooBig
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

import loadgen.session as session_module
from loadgen.errors import BadReply, HandshakeFailed, SessionClosedError, StepTimeout
from loadgen.session import ConnectionEnded, Session, unverified_ssl_context, ws_url
from tests.loadgen.threads import run_thread, wait_for

MS = 0.001 * float(__import__("os").environ.get("WSRACE_TEST_TIME_SCALE", "1"))


# --------------------------------------------------------------------------- pure parts


def test_public_names() -> None:
    """__all__ lists exactly the public API."""
    assert sorted(session_module.__all__) == [
        "ConnectionEnded",
        "Session",
        "SocketFactory",
        "bound_connect",
        "slow_reader_connect",
        "tcp_connect",
        "unverified_ssl_context",
        "ws_url",
    ]


@pytest.mark.parametrize(
    ("host", "token", "url"),
    [
        ("ws://127.0.0.1:8765", None, "ws://127.0.0.1:8765/ws"),
        ("ws://127.0.0.1:8765/", None, "ws://127.0.0.1:8765/ws"),
        ("http://h:1", None, "ws://h:1/ws"),
        ("https://h", None, "wss://h/ws"),
        ("wss://h/base", "a.b/c+d", "wss://h/base/ws?token=a.b%2Fc%2Bd"),
    ],
)
def test_ws_url(host: str, token: str | None, url: str) -> None:
    """A base URL (ws, wss or Locust's http(s)) becomes the /ws URL, with the token quoted."""
    assert ws_url(host, token=token) == url


@pytest.mark.parametrize("host", ["ftp://h", "127.0.0.1:8765", ""])
def test_ws_url_rejects(host: str) -> None:
    """Anything but a ws/wss/http/https base URL is a ValueError."""
    with pytest.raises(ValueError):
        ws_url(host)


def test_bad_url_and_close_args() -> None:
    """A bad URL, close code or reason is a ValueError before any I/O."""
    with pytest.raises(ValueError):
        Session("http://not-a-ws-url")
    session = Session("ws://127.0.0.1:1/ws")
    for code, reason in [(1005, ""), (999, ""), (1000, "x" * 124)]:
        with pytest.raises(ValueError):
            session.close(code, reason)


def test_state_before_connect() -> None:
    """A new session is connecting, send/recv before connect are errors, close is a no-op."""
    session = Session("ws://127.0.0.1:1/ws")
    assert session.state == "connecting"
    with pytest.raises(RuntimeError):
        session.send({"op": "echo"})
    with pytest.raises(RuntimeError):
        session.recv(1)
    assert session.close() is None
    assert session.state == "closed"


# --------------------------------------------------------------------------- read boundaries


class ScriptedSocket:
    """A fake socket: answers the upgrade request with a 101 (cut as ``head_cuts`` says, with
    ``glue`` stream bytes in its last piece), then returns one ``chunks`` item per ``recv``, then EOF.
    What the client writes is decoded by a ``ServerProtocol`` into ``frames``."""

    def __init__(self, chunks: list[bytes], glue: bytes = b"", head_cuts: int = 1) -> None:
        self.chunks = deque(chunks)
        self.glue = glue
        self.head_cuts = head_cuts
        self.proto = ServerProtocol(max_size=None)
        self.frames: list[Frame] = []
        self.closed = False

    def settimeout(self, timeout: float | None) -> None:
        pass

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def sendall(self, data: bytes | memoryview) -> None:
        self.proto.receive_data(bytes(data))
        for event in self.proto.events_received():
            if isinstance(event, Request):
                self.proto.send_response(self.proto.accept(event))
                head = b"".join(self.proto.data_to_send())
                cut = len(head) // self.head_cuts
                pieces = [head[i * cut : (i + 1) * cut] for i in range(self.head_cuts - 1)]
                pieces.append(head[(self.head_cuts - 1) * cut :] + self.glue)
                self.chunks.extendleft(reversed(pieces))
            else:
                self.frames.append(event)
        self.proto.data_to_send()

    def recv(self, size: int) -> bytes:
        if not self.chunks:
            return b""
        chunk = self.chunks.popleft()
        if len(chunk) > size:
            self.chunks.appendleft(chunk[size:])
            chunk = chunk[:size]
        return chunk

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _server_frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=False)


BIG_A = orjson.dumps({"d": "x" * 300})
BIG_B = orjson.dumps({"e": "y" * 70000})
STREAM_FRAMES = [
    _server_frame(Opcode.TEXT, b'{"a":1}'),
    _server_frame(Opcode.PING, b"p1"),
    _server_frame(Opcode.TEXT, b'{"b":', fin=False),
    _server_frame(Opcode.CONT, b"2}"),
    _server_frame(Opcode.BINARY, b"\x00\x01"),
    _server_frame(Opcode.TEXT, BIG_A),
    _server_frame(Opcode.TEXT, BIG_B),
    _server_frame(Opcode.TEXT, b'{"c":3}'),
    _server_frame(Opcode.CLOSE, Close(4001, "bye").serialize()),
]
STREAM = b"".join(STREAM_FRAMES)
BOUNDARIES = [sum(len(f) for f in STREAM_FRAMES[:i]) for i in range(len(STREAM_FRAMES) + 1)]


def _read_stream(sock: ScriptedSocket) -> list[Any]:
    session = Session("ws://h/ws", socket_factory=lambda h, p, t: sock)  # type: ignore[arg-type, return-value]
    session.connect()
    got = _read_to_the_end(session)
    assert session.state == "closed" and sock.closed
    return got


def _read_to_the_end(session: Session) -> list[Any]:
    """Every message, bad frame and the end of the stream, as the session reports them."""
    got: list[Any] = []
    while True:
        try:
            got.append(session.recv(1))
        except BadReply as exc:
            got.append(("bad", str(exc)))
        except ConnectionEnded as end:
            got.append(("end", end.code, end.reason, end.sent_code))
            return got


EXPECTED = [
    {"a": 1},
    {"b": 2},
    ("bad", "recv: a binary frame of 2 bytes"),
    orjson.loads(BIG_A),
    orjson.loads(BIG_B),
    {"c": 3},
    ("end", 4001, "bye", 4001),
]


def _check_replies(sock: ScriptedSocket) -> None:
    assert [(f.opcode, f.data) for f in sock.frames] == [
        (Opcode.PONG, b"p1"),
        (Opcode.CLOSE, Close(4001, "bye").serialize()),
    ]


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def test_stream_in_one_read() -> None:
    """Every kind of frame in one read: data in order, a pong, the close echoed, 4001 seen."""
    sock = ScriptedSocket([STREAM])
    assert _read_stream(sock) == EXPECTED
    _check_replies(sock)


@pytest.mark.parametrize("glue", [len(STREAM_FRAMES[0]), BOUNDARIES[3] + 1, len(STREAM)])
@pytest.mark.parametrize("head_cuts", [1, 3])
def test_frames_in_the_same_read_as_the_101(glue: int, head_cuts: int) -> None:
    """Frames glued to the 101 (even a cut one, even with the 101 itself cut) are all read."""
    sock = ScriptedSocket([STREAM[glue:]], glue=STREAM[:glue], head_cuts=head_cuts)
    assert _read_stream(sock) == EXPECTED
    _check_replies(sock)


def _reachable(root: object, kind: type) -> bool:
    """Whether an object of ``kind`` can be reached from ``root`` through references, not counting
    classes, modules and functions (shared by every session) nor the fake socket (the peer's side)."""
    import gc
    import types

    shared = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, logging.Logger, ScriptedSocket)
    seen: set[int] = set()
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, shared):
            continue
        if isinstance(obj, kind):
            return True
        seen.add(id(obj))
        todo.extend(gc.get_referents(obj))
    return False


@pytest.mark.parametrize("glue", [0, len(STREAM_FRAMES[0]), len(STREAM_FRAMES[0]) + 1])
def test_the_handshake_response_is_not_kept(glue: int) -> None:
    """Once the 101 is read at a frame boundary (with or without whole frames glued to it), nothing
    of the session holds the handshake response or its headers (an idle connection's memory); after
    a cut frame the parser that holds it stays, and the stream is read the same either way."""
    sock = ScriptedSocket([STREAM[glue:]], glue=STREAM[:glue])
    session = Session("ws://h/ws", socket_factory=lambda h, p, t: sock)  # type: ignore[arg-type, return-value]
    session.connect()
    at_boundary = glue in BOUNDARIES
    assert _reachable(session, Response) is not at_boundary
    assert _reachable(session, Headers) is not at_boundary
    assert _read_to_the_end(session) == EXPECTED
    _check_replies(sock)


def test_every_cut_near_frame_boundaries() -> None:
    """A read that ends anywhere near a frame boundary, or anywhere in the small frames, changes nothing."""
    offsets = set(range(1, BOUNDARIES[6] + 12))
    for edge in BOUNDARIES[1:-1]:
        offsets.update(range(max(1, edge - 11), min(len(STREAM), edge + 12)))
    for offset in sorted(offsets):
        sock = ScriptedSocket(_cut(STREAM, [offset]))
        assert _read_stream(sock) == EXPECTED, offset
        _check_replies(sock)


def test_random_cuts() -> None:
    """Reads cut at random places, many at a time, change nothing."""
    rng = random.Random(6455)
    for _ in range(300):
        cuts = [rng.randrange(1, len(STREAM)) for _ in range(rng.randrange(1, 12))]
        sock = ScriptedSocket(_cut(STREAM, cuts))
        assert _read_stream(sock) == EXPECTED, cuts
        _check_replies(sock)


def test_max_size_on_the_fast_path() -> None:
    """A whole frame over max_size in one read is refused like the protocol does: 1009 sent."""
    sock = ScriptedSocket([_server_frame(Opcode.TEXT, b'{"a":1}') + _server_frame(Opcode.TEXT, b"x" * 100)])
    session = Session("ws://h/ws", max_size=50, socket_factory=lambda h, p, t: sock)  # type: ignore[arg-type, return-value]
    session.connect()
    assert session.recv(1) == {"a": 1}
    with pytest.raises(ConnectionEnded) as info:
        session.recv(1)
    assert (info.value.code, info.value.sent_code) == (None, 1009)
    assert isinstance(info.value.__cause__, PayloadTooBig)
    assert sock.frames[-1].opcode is Opcode.CLOSE


# --------------------------------------------------------------------------- over a socketpair


def _session(p: Any, **options: Any) -> Session:
    return Session("ws://test.invalid/ws", socket_factory=p.factory, **options)


def test_handshake_success(peer: Callable[..., Any]) -> None:
    """A 101 opens the session; connect returns the handshake time in ms; headers are sent."""
    p = peer()
    session = _session(p, headers={"Authorization": "Bearer t0k"})
    ms = session.connect()
    assert 0 < ms < 10_000
    assert session.state == "open" and session.opened_at is not None
    assert p.request.path == "/ws" and p.request.headers["Authorization"] == "Bearer t0k"
    assert session.close() == 1000
    assert session.state == "closed"
    p.wait_finished(5)
    assert [f.opcode for f in p.frames] == [Opcode.CLOSE]


def test_handshake_401(peer: Callable[..., Any]) -> None:
    """An HTTP 401 answer is HandshakeFailed(401) and leaves the session closed."""
    p = peer(status=401)
    session = _session(p)
    with pytest.raises(HandshakeFailed) as info:
        session.connect()
    assert info.value.status == 401
    assert session.state == "closed"
    with pytest.raises(SessionClosedError):
        session.send({"op": "echo"})


def test_handshake_no_answer_times_out(peer: Callable[..., Any]) -> None:
    """A server that never answers the upgrade is StepTimeout('connect', connect_timeout)."""
    p = peer(status=None)
    session = _session(p, connect_timeout=100 * MS)
    started = time.monotonic()
    with pytest.raises(StepTimeout) as info:
        session.connect()
    assert (info.value.step, info.value.seconds) == ("connect", 100 * MS)
    assert time.monotonic() - started < 2
    assert session.state == "closed"


def test_handshake_eof_is_no_http_answer(peer: Callable[..., Any]) -> None:
    """TCP closed before any HTTP answer is HandshakeFailed(None)."""
    p = peer(status=None)
    session = _session(p)
    thread, out = run_thread(session.connect)
    assert p.handshake_done.wait(5)
    p.sock.shutdown(socket.SHUT_RDWR)
    thread.join(5)
    assert isinstance(out[0], HandshakeFailed) and out[0].status is None


def test_pipeline_goes_out_right_after_the_101(peer: Callable[..., Any]) -> None:
    """Pipelined messages reach the server in order, none before it has written its 101."""
    p = peer(echo=True)
    session = _session(p)
    pipeline = [{"op": "auth", "token": "t"}, '{"op":"echo","id":1}', {"id": 2}]
    session.connect(pipeline=pipeline)
    expected = [m if isinstance(m, dict) else orjson.loads(m) for m in pipeline]
    assert session.recv_many(len(pipeline), 5) == expected  # echoed: the server read them all
    assert p.before_101 == []
    assert [orjson.loads(f.data) for f in p.frames] == expected
    assert session.close() == 1000


def test_pipeline_with_a_message_glued_to_the_101(peer: Callable[..., Any]) -> None:
    """A server message in the same read as the 101 (an early ready) is kept, and the pipeline
    still goes out after the 101."""
    ready = orjson.dumps({"type": "ready", "seq": 0})
    p = peer(after_101=_server_frame(Opcode.TEXT, ready), echo=True)
    session = _session(p)
    session.connect(pipeline=[{"id": 1}])
    assert session.recv_many(2, 5) == [orjson.loads(ready), {"id": 1}]
    assert p.before_101 == []
    assert session.close() == 1000


def test_send_while_the_101_is_in_flight_waits_for_it(peer: Callable[..., Any]) -> None:
    """send() from another thread while connect() awaits the 101 writes nothing before it, then
    goes out behind the pipeline."""
    p = peer(status=None)
    session = _session(p)
    thread, out = run_thread(lambda: session.connect(pipeline=[{"op": "piped"}]))
    assert p.handshake_done.wait(5)
    sender, sent = run_thread(lambda: session.send({"op": "early"}))
    assert p.read_frames(100 * MS) == []  # nothing but the request so far
    assert sender.is_alive() and sent == []  # the send is still waiting for the 101
    p.proto.send_response(p.proto.accept(p.request))
    p.write(b"".join(p.proto.data_to_send()))
    thread.join(5)
    sender.join(5)
    assert isinstance(out[0], float) and sent == [None] and session.state == "open"
    frames = p.read_frames(200 * MS)
    assert [orjson.loads(f.data) for f in frames] == [{"op": "piped"}, {"op": "early"}]


def test_recv_timeout(peer: Callable[..., Any]) -> None:
    """No message within the deadline is StepTimeout(step, timeout), and the session stays open."""
    p = peer()
    session = _session(p)
    session.connect()
    started = time.monotonic()
    with pytest.raises(StepTimeout) as info:
        session.recv(50 * MS, "ready")
    assert (info.value.step, info.value.seconds) == ("ready", 50 * MS)
    assert 40 * MS <= time.monotonic() - started < 2
    assert session.state == "open"


def test_server_close_code_seen_exactly(peer: Callable[..., Any]) -> None:
    """The server's 4001 is seen exactly: by recv (after earlier messages), and in the session."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    p.send_text('{"n":1}')
    p.close_with(4001, "asked")
    assert session.recv(1) == {"n": 1}
    with pytest.raises(ConnectionEnded) as info:
        session.recv(1)
    end = info.value
    assert (end.code, end.reason, end.sent_code) == (4001, "asked", 4001)
    assert end.at == session.close_received_at
    assert session.state == "closed"
    assert (session.close_code_received, session.close_reason_received) == (4001, "asked")
    with pytest.raises(ConnectionEnded):  # every time, not just once
        session.recv(1)
    [reply] = p.read_frames(200 * MS)
    assert reply.opcode is Opcode.CLOSE and Close.parse(reply.data).code == 4001
    assert session.close() == 4001  # closing an ended session is a no-op that says the code


def test_eof_without_close_frame(peer: Callable[..., Any]) -> None:
    """TCP ended with no close frame is ConnectionEnded(None): a 1006."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    p.sock.shutdown(socket.SHUT_RDWR)
    with pytest.raises(ConnectionEnded) as info:
        session.recv(1)
    assert info.value.code is None and session.close_code_received is None
    assert session.close() is None


def test_send_after_server_close(peer: Callable[..., Any]) -> None:
    """A send after the server's close was read is SessionClosedError('closed', 4001)."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    p.close_with(4001)
    with pytest.raises(ConnectionEnded):
        session.recv(1)
    with pytest.raises(SessionClosedError) as info:
        session.send({"op": "echo"})
    assert (info.value.state, info.value.close_code) == ("closed", 4001)


def test_send_and_recv_after_local_close(peer: Callable[..., Any]) -> None:
    """After close(), send and recv are SessionClosedError with the state and the code received."""
    p = peer()
    session = _session(p)
    session.connect()
    assert session.close(4002, "done") == 4002
    with pytest.raises(SessionClosedError) as info:
        session.send({"op": "echo"})
    assert (info.value.state, info.value.close_code) == ("closed", 4002)
    with pytest.raises(SessionClosedError):
        session.recv(1)


def test_close_frame_then_send_while_closing(peer: Callable[..., Any]) -> None:
    """A send while our close awaits its answer is SessionClosedError('closing'), and no frame."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    thread, out = run_thread(lambda: session.close(timeout=5))
    [close] = p.read_frames(200 * MS)
    assert close.opcode is Opcode.CLOSE
    with pytest.raises(SessionClosedError) as info:
        session.send({"op": "echo"})
    assert info.value.state == "closing" and info.value.close_code is None
    p.answer()
    thread.join(5)
    assert out == [1000]
    assert p.read_frames(100 * MS) == []


def test_ping_answered(peer: Callable[..., Any]) -> None:
    """A ping is answered with a pong of the same payload while the client waits in recv."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    p.send_frame(Opcode.PING, b"are you there")
    with pytest.raises(StepTimeout):
        session.recv(100 * MS)
    [pong] = p.read_frames(200 * MS)
    assert (pong.opcode, pong.data) == (Opcode.PONG, b"are you there")


def test_message_over_max_size(peer: Callable[..., Any]) -> None:
    """A message over max_size ends the session: 1009 sent, ConnectionEnded, PayloadTooBig as cause."""
    p = peer()
    session = _session(p, max_size=1000)
    session.connect()
    p.send_text(orjson.dumps({"big": "x" * 2000}).decode())
    with pytest.raises(ConnectionEnded) as info:
        session.recv(2)
    assert info.value.sent_code == 1009 and isinstance(info.value.__cause__, PayloadTooBig)
    p.wait_finished(5)
    assert Close.parse(p.frames_of(Opcode.CLOSE)[0].data).code == 1009
    assert session.state == "closed"


def test_bad_frames_are_bad_replies(peer: Callable[..., Any]) -> None:
    """Text that is not JSON, JSON that is not an object and binary frames are BadReply, one each."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    p.send_text("not json")
    p.send_text("[1, 2]")
    p.send_frame(Opcode.BINARY, b"\x01")
    p.send_text('{"ok":true}')
    for _ in range(3):
        with pytest.raises(BadReply):
            session.recv(1)
    assert session.recv(1) == {"ok": True}


def test_raw_sends(peer: Callable[..., Any]) -> None:
    """send_text and send_bytes put exactly one raw frame each on the wire."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    session.send_text("not json {")
    session.send_bytes(b"\x00\xff")
    frames = p.read_frames(200 * MS)
    assert [(f.opcode, f.data) for f in frames] == [
        (Opcode.TEXT, b"not json {"),
        (Opcode.BINARY, b"\x00\xff"),
    ]


def test_timestamps(peer: Callable[..., Any]) -> None:
    """last_recv_at is when the bytes were read, not when recv returned them."""
    p = peer(echo=True)
    session = _session(p)
    session.connect()
    session.send({"n": 1})
    session.send({"n": 2})
    wait_for(lambda: len(p.frames) == 2, 5)
    assert session.recv(1) == {"n": 1}
    first_read = session.last_recv_at
    assert session.last_sent_at is not None and first_read is not None
    assert first_read > session.last_sent_at
    time.sleep(20 * MS)
    assert session.recv(1) == {"n": 2}
    assert session.last_recv_at is not None and session.last_recv_at - first_read < 20 * MS


def test_close_timeout_drops_a_silent_peer(peer: Callable[..., Any]) -> None:
    """A peer that never answers our close is dropped after the close timeout; close returns None."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    started = time.monotonic()
    assert session.close(timeout=100 * MS) is None
    assert 90 * MS <= time.monotonic() - started < 2
    assert session.state == "closed"


def test_send_timeout_when_the_peer_stops_reading(peer: Callable[..., Any]) -> None:
    """A peer that reads nothing makes send fail by send_timeout (StepTimeout), never hang."""
    p = peer(auto=False)
    session = _session(p, send_timeout=100 * MS)
    session.connect()
    started = time.monotonic()
    with pytest.raises(StepTimeout) as info:
        for _ in range(1000):
            session.send({"fill": "x" * 65536})
    assert info.value.step == "send"
    assert time.monotonic() - started < 5
    assert session.state == "closed"


# --------------------------------------------------------------------------- races (threads)


def test_concurrent_close_and_send(peer: Callable[..., Any]) -> None:
    """close() racing a stream of sends: both end cleanly, sends stop with SessionClosedError."""
    for _ in range(20):
        p = peer()
        session = _session(p)
        session.connect()

        def sender(session: Session = session) -> int:
            sent = 0
            try:
                while True:
                    session.send({"op": "echo", "id": sent})
                    sent += 1
            except SessionClosedError:
                return sent

        thread, out = run_thread(sender)
        time.sleep(MS)
        assert session.close() == 1000
        thread.join(5)
        assert not thread.is_alive() and isinstance(out[0], int)
        p.wait_finished(5)
        assert len(p.frames_of(Opcode.CLOSE)) == 1


def test_two_closes_send_one_close_frame(peer: Callable[..., Any]) -> None:
    """Two threads closing at once both return the code; one close frame goes out."""
    p = peer(auto=False)
    session = _session(p)
    session.connect()
    barrier = threading.Barrier(2)

    def closer() -> int | None:
        barrier.wait(5)
        return session.close(timeout=5)

    threads = [run_thread(closer) for _ in range(2)]
    frames = p.read_frames(200 * MS)
    assert [f.opcode for f in frames] == [Opcode.CLOSE]
    p.answer()
    for thread, out in threads:
        thread.join(5)
        assert out == [1000]


def test_close_wakes_a_blocked_recv(peer: Callable[..., Any]) -> None:
    """A thread proved to be waiting in recv's read returns (SessionClosedError) when another closes."""
    p = peer()
    session = _session(p)
    session.connect()
    thread, out = run_thread(lambda: session.recv(30))
    wait_for(lambda: session.readers_waiting == 1, 5)  # in the socket read, no message to come
    assert out == [] and thread.is_alive()
    assert session.close() == 1000
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(out[0], SessionClosedError)


def test_abort_wakes_a_blocked_recv(peer: Callable[..., Any]) -> None:
    """abort() drops TCP at once: a recv proved blocked in its read returns, the server sees EOF
    and no close frame."""
    p = peer()
    session = _session(p)
    session.connect()
    thread, out = run_thread(lambda: session.recv(30))
    wait_for(lambda: session.readers_waiting == 1, 5)  # in the socket read, no message to come
    assert out == [] and thread.is_alive()
    session.abort()
    thread.join(5)
    assert isinstance(out[0], SessionClosedError) and out[0].state == "closed"
    p.wait_finished(5)
    assert p.frames == []
    session.abort()  # again: no error
    assert session.close() is None


def test_server_close_races_sends(peer: Callable[..., Any]) -> None:
    """Sends racing the server's close end in SessionClosedError, and recv sees the exact code."""
    for _ in range(20):
        p = peer(auto=False)
        session = _session(p)
        session.connect()

        def sender(session: Session = session) -> Exception:
            try:
                while True:
                    session.send({"op": "echo"})
            except Exception as exc:
                return exc

        thread, out = run_thread(sender)
        p.close_with(4003, "race")
        with pytest.raises(ConnectionEnded) as info:
            while True:
                session.recv(5)
        thread.join(5)
        assert isinstance(out[0], SessionClosedError)
        assert info.value.code == 4003 and session.close_code_received == 4003
        p.stop()


# --------------------------------------------------------------------------- a real server


def test_echo_against_websockets_server(ws_server: Any) -> None:
    """Round trips against websockets' asyncio server; close with 1000 is seen by the server."""
    with Session(ws_url(ws_server.base)) as session:
        session.connect()
        for i in range(100):
            session.send({"op": "echo", "id": i})
            assert session.recv(5) == {"op": "echo", "id": i}
    assert session.state == "closed"
    wait_for(lambda: ws_server.client_codes == [1000], 5)


def test_pipeline_against_websockets_server(ws_server: Any) -> None:
    """Messages pipelined behind the upgrade request are received and answered in order."""
    session = Session(ws_url(ws_server.base), headers={"x-test-id": "pipe"})
    session.connect(pipeline=[{"i": i} for i in range(10)])
    assert session.recv_many(10, 5) == [{"i": i} for i in range(10)]
    assert ws_server.received["pipe"] == [orjson.dumps({"i": i}).decode() for i in range(10)]
    session.send({"last": True})
    assert session.recv_until(lambda m: "last" in m, 5) == [{"last": True}]
    session.close()


def test_server_close_4001(ws_server: Any) -> None:
    """A real server's close(4001) after a message: ConnectionEnded(4001), clean close both ways."""
    session = Session(f"{ws_server.base}/close/4001")
    session.connect()
    session.send({"op": "close"})
    with pytest.raises(ConnectionEnded) as info:
        session.recv(5)
    assert (info.value.code, info.value.reason) == (4001, "asked")
    assert session.state == "closed"
    wait_for(lambda: ws_server.client_codes == [4001], 5)


def test_401_from_websockets_server(ws_server: Any) -> None:
    """A real server refusing the upgrade with 401 is HandshakeFailed(401)."""
    with pytest.raises(HandshakeFailed) as info:
        Session(f"{ws_server.base}/deny").connect()
    assert info.value.status == 401


def test_connection_refused() -> None:
    """Nothing listening on the port is HandshakeFailed(None)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    session = Session(f"ws://127.0.0.1:{port}/ws", connect_timeout=5)
    with pytest.raises(HandshakeFailed) as info:
        session.connect()
    assert info.value.status is None and isinstance(info.value.__cause__, ConnectionRefusedError)
    assert session.state == "closed"


def test_wss(wss_server: Any) -> None:
    """wss:// works with an unverified context, and fails verification without one."""
    session = Session(ws_url(wss_server.base), ssl_context=unverified_ssl_context())
    session.connect()
    session.send({"tls": 1})
    assert session.recv(5) == {"tls": 1}
    assert session.close() == 1000
    with pytest.raises(HandshakeFailed) as info:
        Session(ws_url(wss_server.base)).connect()
    assert info.value.status is None and "TLS" in str(info.value)


def test_close_during_connect_ends_it(peer: Callable[..., Any]) -> None:
    """close() from another thread while connect() is blocked awaiting the 101 ends connect."""
    p = peer(status=None)
    session = _session(p, connect_timeout=30)
    thread, out = run_thread(session.connect)
    wait_for(lambda: session.readers_waiting == 1, 5)  # connect() is in the read, awaiting the 101
    assert session.close() is None
    thread.join(5)
    assert not thread.is_alive() and isinstance(out[0], HandshakeFailed)
    assert session.state == "closed"

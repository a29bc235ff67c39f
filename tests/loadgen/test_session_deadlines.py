"""Deadlines that never restart: every read is bounded by what is left of its caller's deadline.

The session is handed a fake clock and a socket whose reads the test releases one by one; the
socket logs, for each read, the fake time and the timeout the session set for it. So the test
checks the deadline arithmetic the session does, never the wall clock.
"""

from __future__ import annotations

import queue
from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from loadgen.errors import StepTimeout
from loadgen.session import Session
from tests.loadgen.threads import run_thread, wait_for

REAL_WAIT = 5.0  # real seconds any step of these tests may take before it fails


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ControlledSocket:
    """Answers the upgrade with a 101; then each ``recv`` logs ``(fake now, timeout)`` and waits
    for the test to :meth:`feed` it bytes, or an exception to raise (``TimeoutError``)."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.timeout: float | None = None
        self.reads: list[tuple[float, float | None]] = []
        self._items: queue.Queue[bytes | BaseException] = queue.Queue()
        self._proto = ServerProtocol(max_size=None)

    def feed(self, item: bytes | BaseException) -> None:
        self._items.put(item)

    def feed_text(self, text: str) -> None:
        self.feed(Frame(Opcode.TEXT, text.encode()).serialize(mask=False))

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def send(self, data: bytes) -> int:
        self.sendall(data)
        return len(data)

    def sendall(self, data: bytes | memoryview) -> None:
        self._proto.receive_data(bytes(data))
        for event in self._proto.events_received():
            if isinstance(event, Request):
                self._proto.send_response(self._proto.accept(event))
                self.feed(b"".join(self._proto.data_to_send()))
        self._proto.data_to_send()

    def recv(self, size: int) -> bytes:
        self.reads.append((self.clock.now, self.timeout))
        item = self._items.get(timeout=REAL_WAIT)
        if isinstance(item, BaseException):
            raise item
        return item

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        self.feed(b"")  # wake a read still waiting: EOF


@pytest.fixture
def opened() -> Any:
    clock = FakeClock(100.0)
    sock = ControlledSocket(clock)
    session = Session("ws://h/ws", clock=clock, socket_factory=lambda h, p, t: sock)  # type: ignore[arg-type, return-value]
    session.connect()
    yield clock, sock, session
    session.abort()


def test_a_second_reader_is_bounded_by_its_own_deadline(opened: Any) -> None:
    """Two readers: whichever is left reading after the other got the message reads with exactly
    its own deadline minus now (the wait behind the other's read counts, nothing restarts it), and
    again after a read that brought only a ping; then it times out at its deadline."""
    clock, sock, session = opened
    reads_at_start = len(sock.reads)
    first, first_out = run_thread(lambda: session.recv(10, "first"))  # deadline 110
    wait_for(lambda: session.readers_waiting == 1 and len(sock.reads) == reads_at_start + 1, REAL_WAIT)
    assert sock.reads[-1] == (100.0, 10.0)

    clock.now = 103.0
    second, second_out = run_thread(lambda: session.recv(10, "second"))  # deadline 113
    wait_for(lambda: session.readers_waiting == 2, REAL_WAIT)  # waiting behind the first one's read

    clock.now = 105.0
    sock.feed_text('{"n":1}')  # one message for two readers: one returns, the other reads on
    wait_for(lambda: bool(first_out) or bool(second_out), REAL_WAIT)
    wait_for(lambda: len(sock.reads) == reads_at_start + 2, REAL_WAIT)
    if first_out:
        assert first_out == [{"n": 1}]
        left, left_out, deadline, step = second, second_out, 113.0, "second"
    else:
        assert second_out == [{"n": 1}]
        left, left_out, deadline, step = first, first_out, 110.0, "first"
    assert sock.reads[-1] == (105.0, deadline - 105.0)

    clock.now = 108.0
    sock.feed(Frame(Opcode.PING, b"p").serialize(mask=False))  # a read with no message: retry
    wait_for(lambda: len(sock.reads) == reads_at_start + 3, REAL_WAIT)
    assert sock.reads[-1] == (108.0, deadline - 108.0)

    clock.now = deadline
    sock.feed(TimeoutError())
    left.join(REAL_WAIT)
    [error] = left_out
    assert isinstance(error, StepTimeout) and (error.step, error.seconds) == (step, 10)
    assert session.state == "open"


def test_recv_many_shares_one_deadline(opened: Any) -> None:
    """recv_many(3, 10): each read after a message is bounded by what is left of the one deadline."""
    clock, sock, session = opened
    reads_at_start = len(sock.reads)
    thread, out = run_thread(lambda: session.recv_many(3, 10))  # deadline 110
    for n, now in enumerate([104.0, 107.0], start=1):
        wait_for(lambda n=n: len(sock.reads) == reads_at_start + n, REAL_WAIT)
        clock.now = now
        sock.feed_text(f'{{"n":{n}}}')
    wait_for(lambda: len(sock.reads) == reads_at_start + 3, REAL_WAIT)
    assert [timeout for _, timeout in sock.reads[reads_at_start:]] == [10.0, 6.0, 3.0]
    sock.feed_text('{"n":3}')
    thread.join(REAL_WAIT)
    assert out == [[{"n": 1}, {"n": 2}, {"n": 3}]]

"""loadgen.session under gevent monkey-patching, as Locust runs it: greenlets racing one session.

Each test runs this file in a child process that monkey-patches first (the pytest process must stay
unpatched) and talks to the asyncio server of the ``ws_server`` fixture in this process. The child
prints one JSON object with what it saw; the test judges it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

CHILD_TIMEOUT = 60 * float(os.environ.get("WSRACE_TEST_TIME_SCALE", "1"))


def run_child(case: str, base: str) -> dict[str, Any]:
    code = (
        "from gevent import monkey; monkey.patch_all()\n"
        "import runpy, sys\n"
        f"runpy.run_path({__file__!r}, run_name='gevent_child')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, case, base],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_one_greenlet_per_user(ws_server: Any) -> None:
    """50 sessions add no greenlet or thread; websockets.sync adds one per connection."""
    got = run_child("greenlets", ws_server.base)
    assert got["session_extra"] == 0
    assert got["sync_extra"] >= 50
    assert got["echoes"] == 50 * 20


def test_close_races_sends(ws_server: Any) -> None:
    """A greenlet sending while another closes: the sends stop cleanly, one close frame, 1000."""
    got = run_child("close_vs_send", ws_server.base)
    assert got["closed"] == [1000] * 20
    assert got["sender"] == ["SessionClosedError"] * 20
    assert got["close_frames"] == [1] * 20


def test_two_greenlets_close(ws_server: Any) -> None:
    """Two greenlets closing at once both return 1000, and one close frame goes out."""
    got = run_child("two_closes", ws_server.base)
    assert got["codes"] == [[1000, 1000]] * 10
    assert got["close_frames"] == [1] * 10


def test_close_wakes_a_blocked_recv(ws_server: Any) -> None:
    """A greenlet proved blocked in recv's read raises SessionClosedError promptly when another closes."""
    got = run_child("recv_vs_close", ws_server.base)
    assert got["blocked"] is True
    assert got["recv"] == "SessionClosedError" and got["closed"] == 1000
    assert got["recv_seconds"] < 1.0


def test_abort_wakes_a_blocked_recv(ws_server: Any) -> None:
    """abort() from another greenlet ends a recv proved blocked in its read with SessionClosedError."""
    got = run_child("recv_vs_abort", ws_server.base)
    assert got["blocked"] is True
    assert got["recv"] == "SessionClosedError" and got["state"] == "closed"
    assert got["recv_seconds"] < 1.0


def test_server_close_races_sends(ws_server: Any) -> None:
    """The server closing with 4001 while a greenlet sends: 4001 seen exactly, sends stop cleanly."""
    got = run_child("server_close_vs_send", ws_server.base)
    assert got["codes"] == [4001] * 20
    assert got["sender"] == ["SessionClosedError"] * 20


def test_gevent_sockets_get_the_gevent_policy(ws_server: Any) -> None:
    """Monkey-patched, a TCP socket gets GeventIO, whose waits end with TimeoutError by their deadline."""
    got = run_child("policy", ws_server.base)
    assert got == {"policy": "GeventIO", "recv": "TimeoutError", "session": "GeventIO"}


def test_interrupted_send_poisons_the_stream(ws_server: Any) -> None:
    """A send cut by gevent.Timeout may leave half a frame: the session drops TCP, later sends fail."""
    got = run_child("interrupted_send", ws_server.base)
    assert got == {"interrupted": True, "after": "SessionClosedError", "state": "closed"}


def test_deadlines_under_gevent(ws_server: Any) -> None:
    """recv, connect and send deadlines hold under gevent, and a recv timeout leaves the session open."""
    got = run_child("deadlines", ws_server.base)
    for step, key in [("ready", "recv"), ("connect", "connect"), ("send", "send")]:
        name, seconds = got[key]
        assert name == f"StepTimeout:{step}" and 0.09 <= seconds < 2, (key, got[key])
    assert got["after"] == {"still": "open"}


# --------------------------------------------------------------------------- the child


def _child(case: str, base: str) -> dict[str, Any]:
    import gc
    import threading
    import time

    import gevent
    from greenlet import greenlet
    from websockets.frames import Opcode
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    from loadgen.session import ConnectionEnded, Session, tcp_connect, ws_url

    url = ws_url(base)

    class Tap:
        """A socket_factory that keeps a copy of what the client writes, to count close frames."""

        def __init__(self) -> None:
            self.written = bytearray()

        def __call__(self, host: str, port: int, timeout: float) -> Any:
            sock = tcp_connect(host, port, timeout)
            tap = self

            class Tapped:
                def __getattr__(self, name: str) -> Any:
                    return getattr(sock, name)

                def send(self, data: Any) -> int:
                    sent = sock.send(data)
                    tap.written += bytes(data)[:sent]
                    return sent

                def sendall(self, data: Any) -> None:
                    sock.sendall(data)
                    tap.written += bytes(data)

            return Tapped()

        def close_frames(self) -> int:
            head_end = self.written.find(b"\r\n\r\n") + 4
            server = ServerProtocol(state=State.OPEN, max_size=None)
            server.receive_data(bytes(self.written[head_end:]))
            return sum(1 for e in server.events_received() if e.opcode is Opcode.CLOSE)

    def greenlets() -> int:
        return sum(1 for o in gc.get_objects() if isinstance(o, greenlet))

    def sender(session: Session) -> str:
        try:
            while True:
                session.send({"op": "echo"})
                gevent.sleep(0)
        except Exception as exc:
            return type(exc).__name__

    if case == "greenlets":
        from websockets.sync.client import connect

        Session(url).connect()  # warm up: gevent's resolver starts its thread pool once
        before = greenlets(), threading.active_count()
        sessions = [Session(url) for _ in range(50)]
        for s in sessions:
            s.connect()
        session_extra = greenlets() - before[0] + threading.active_count() - before[1]

        def user(s: Session) -> int:
            for i in range(20):
                s.send({"i": i})
                assert s.recv(10) == {"i": i}
            return 20

        jobs = [gevent.spawn(user, s) for s in sessions]
        gevent.joinall(jobs, raise_error=True)
        echoes = sum(job.value for job in jobs)
        for s in sessions:
            s.close()
        before = greenlets(), threading.active_count()
        conns = [connect(url) for _ in range(50)]
        sync_extra = greenlets() - before[0] + threading.active_count() - before[1]
        for c in conns:
            c.close()
        return {"session_extra": session_extra, "sync_extra": sync_extra, "echoes": echoes}

    if case == "close_vs_send":
        closed, senders, frames = [], [], []
        for _ in range(20):
            tap = Tap()
            s = Session(url, socket_factory=tap)
            s.connect()
            g = gevent.spawn(sender, s)
            gevent.sleep(0.005)
            closed.append(s.close())
            senders.append(g.get(timeout=10))
            frames.append(tap.close_frames())
        return {"closed": closed, "sender": senders, "close_frames": frames}

    if case == "two_closes":
        codes, frames = [], []
        for _ in range(10):
            tap = Tap()
            s = Session(url, socket_factory=tap)
            s.connect()
            pair = [gevent.spawn(s.close), gevent.spawn(s.close)]
            codes.append([g.get(timeout=10) for g in pair])
            frames.append(tap.close_frames())
        return {"codes": codes, "close_frames": frames}

    if case in ("recv_vs_close", "recv_vs_abort"):
        s = Session(url)
        s.connect()

        def receiver() -> tuple[str, float]:
            started = time.perf_counter()
            try:
                s.recv(30)
                return "message", 0.0
            except Exception as exc:
                return type(exc).__name__, time.perf_counter() - started

        g = gevent.spawn(receiver)
        # Proof that it is blocked: it counts itself as in the read, and this greenlet runs again,
        # so it yielded there (greenlets switch only when one waits).
        for _ in range(1000):
            if s.readers_waiting == 1:
                break
            gevent.sleep(0.001)
        blocked = s.readers_waiting == 1 and not g.dead
        t0 = time.perf_counter()
        closed = s.close() if case == "recv_vs_close" else s.abort()
        name, _ = g.get(timeout=10)
        return {"blocked": blocked, "recv": name, "recv_seconds": time.perf_counter() - t0,
                "closed": closed, "state": s.state}  # fmt: skip

    if case == "server_close_vs_send":
        codes, senders = [], []
        for _ in range(20):
            s = Session(f"{base}/close/4001")
            s.connect()
            g = gevent.spawn(sender, s)  # its first message makes the server close
            try:
                while True:
                    s.recv(10)
            except ConnectionEnded as end:
                codes.append(end.code)
            senders.append(g.get(timeout=10))
        return {"codes": codes, "sender": senders}

    if case == "policy":
        import socket

        from loadgen.session.transport import io_for

        client, server = socket.socketpair()
        io = io_for(client, secure=False)
        try:
            io.recv(0.05)
            recv = "returned"
        except TimeoutError:
            recv = "TimeoutError"
        s = Session(url)
        s.connect()
        session_policy = type(s._io_recv.__self__).__name__  # type: ignore[attr-defined]
        s.close()
        return {"policy": type(io).__name__, "recv": recv, "session": session_policy}

    if case == "interrupted_send":
        import socket

        client, server = socket.socketpair()

        def accept() -> None:  # answer the upgrade, then never read again
            proto = ServerProtocol()
            while not (events := proto.events_received()):
                proto.receive_data(server.recv(65536))
            proto.send_response(proto.accept(events[0]))
            server.sendall(b"".join(proto.data_to_send()))

        gevent.spawn(accept)
        s = Session(url, socket_factory=lambda h, p, t: client)
        s.connect()
        try:
            with gevent.Timeout(0.1):
                while True:
                    s.send({"fill": "x" * 65536})
        except gevent.Timeout:
            interrupted = True
        try:
            s.send({"after": 1})
            after = "sent"
        except Exception as exc:
            after = type(exc).__name__
        return {"interrupted": interrupted, "after": after, "state": s.state}

    if case == "deadlines":
        import socket

        from loadgen.errors import StepTimeout

        def timed(call: Any) -> tuple[str, float]:
            started = time.perf_counter()
            try:
                call()
                return "returned", time.perf_counter() - started
            except StepTimeout as exc:
                return f"StepTimeout:{exc.step}", time.perf_counter() - started

        out: dict[str, Any] = {}
        s = Session(url)
        s.connect()
        out["recv"] = timed(lambda: s.recv(0.1, "ready"))
        s.send({"still": "open"})
        out["after"] = s.recv(5)
        s.close()

        client, server = socket.socketpair()  # a peer that never answers the upgrade
        quiet = Session(url, connect_timeout=0.1, socket_factory=lambda h, p, t: client)
        out["connect"] = timed(quiet.connect)

        client, server = socket.socketpair()

        def accept() -> None:  # answer the upgrade, then never read again
            proto = ServerProtocol()
            while not (events := proto.events_received()):
                proto.receive_data(server.recv(65536))
            proto.send_response(proto.accept(events[0]))
            server.sendall(b"".join(proto.data_to_send()))

        gevent.spawn(accept)
        stuck = Session(url, send_timeout=0.1, socket_factory=lambda h, p, t: client)
        stuck.connect()

        def fill() -> None:
            while True:
                stuck.send({"fill": "x" * 65536})

        out["send"] = timed(fill)
        return out

    raise ValueError(case)


if __name__ == "gevent_child":
    print(json.dumps(_child(sys.argv[1], sys.argv[2])))

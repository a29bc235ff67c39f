"""Peers for the session tests: a sans-I/O server over a socketpair, and a real asyncio server.

Both bind nothing fixed (socketpair, or port 0), wait only with deadlines, and stop in teardown.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

MS = 0.001 * float(os.environ.get("WSRACE_TEST_TIME_SCALE", "1"))
"""One millisecond of test time; scale it up on a slow machine."""


class Peer:
    """The server end of a ``socketpair()``, speaking through websockets' ``ServerProtocol``.

    A thread answers the opening handshake (``status`` 101 accepts; None never answers) and writes
    ``after_101`` in the same ``sendall`` as the 101. Then, with ``auto``, the thread keeps reading:
    it records every frame, echoes text frames if ``echo``, and answers a close like a websockets
    server (close reply, then TCP close). Without ``auto`` the test drives the server side itself
    with :meth:`read_frames` and :meth:`write`.
    """

    def __init__(
        self,
        *,
        status: int | None = 101,
        after_101: bytes = b"",
        auto: bool = True,
        echo: bool = False,
    ) -> None:
        self.client_sock, self.sock = socket.socketpair()
        self.proto = ServerProtocol(max_size=None)
        self.status = status
        self.after_101 = after_101
        self.auto = auto
        self.echo = echo
        self.request: Request | None = None
        self.before_101: list[Frame] = []  # frames that came in before the 101 was written
        self.frames: list[Frame] = []  # every frame received, in order
        self.handshake_done = threading.Event()
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="peer", daemon=True)
        self._thread.start()

    def factory(self, host: str, port: int, timeout: float) -> socket.socket:
        """The ``socket_factory`` to hand the session."""
        return self.client_sock

    # -- the server side, driven by the test

    def write(self, data: bytes) -> None:
        with self._lock:
            self.sock.sendall(data)

    def send_frame(self, opcode: Opcode, data: bytes, fin: bool = True) -> None:
        self.write(Frame(opcode, data, fin).serialize(mask=False))

    def send_text(self, text: str) -> None:
        self.send_frame(Opcode.TEXT, text.encode())

    def close_with(self, code: int, reason: str = "") -> None:
        """Send a close frame and end TCP at once (the client's reply stays readable)."""
        with self._lock:
            self.proto.send_close(code, reason)
            self.sock.sendall(b"".join(self.proto.data_to_send()))
            self.sock.shutdown(socket.SHUT_WR)

    def answer(self) -> None:
        """Write what the protocol queued in answer to frames read (pongs, the close reply, EOF)."""
        with self._lock:
            for chunk in self.proto.data_to_send():
                if chunk:
                    self.sock.sendall(chunk)
                else:
                    self.sock.shutdown(socket.SHUT_WR)

    def read_frames(self, timeout: float) -> list[Frame]:
        """Frames read until nothing more comes for ``timeout`` (or EOF)."""
        got: list[Frame] = []
        self.sock.settimeout(timeout)
        while True:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, OSError):
                return got
            if not data:
                return got
            self.proto.receive_data(data)
            got += [e for e in self.proto.events_received() if isinstance(e, Frame)]

    def frames_of(self, opcode: Opcode) -> list[Frame]:
        return [f for f in self.frames if f.opcode is opcode]

    def wait_finished(self, timeout: float) -> None:
        assert self.finished.wait(timeout), "peer thread did not finish"

    def stop(self) -> None:
        for sock in (self.sock, self.client_sock):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._thread.join(timeout=5)

    # -- the thread

    def _run(self) -> None:
        try:
            self._handshake()
            if self.auto and self.status == 101:
                self._serve()
        except OSError:
            pass  # the test closed the sockets: nothing left to serve
        finally:
            self.finished.set()

    def _handshake(self) -> None:
        proto = self.proto
        self.sock.settimeout(10)
        while self.request is None:
            data = self.sock.recv(65536)
            if not data:
                return
            proto.receive_data(data)
            for event in proto.events_received():
                if isinstance(event, Request):
                    self.request = event
                elif isinstance(event, Frame):
                    self.before_101.append(event)
                    self.frames.append(event)
        if self.status is None:
            self.handshake_done.set()
            return
        if self.status == 101:
            response = proto.accept(self.request)
        else:
            response = proto.reject(http.HTTPStatus(self.status), "refused by the test\n")
        proto.send_response(response)
        with self._lock:
            self.sock.sendall(b"".join(proto.data_to_send()) + self.after_101)
        self.handshake_done.set()

    def _serve(self) -> None:
        proto = self.proto
        self.sock.settimeout(None)
        while True:
            data = self.sock.recv(65536)
            with self._lock:
                if data:
                    proto.receive_data(data)
                else:
                    proto.receive_eof()
                for event in proto.events_received():
                    assert isinstance(event, Frame)
                    self.frames.append(event)
                    if self.echo and event.opcode is Opcode.TEXT and proto.state.name == "OPEN":
                        proto.send_text(event.data)
                out = proto.data_to_send()
                for chunk in out:
                    if chunk:
                        self.sock.sendall(chunk)
                    else:
                        self.sock.shutdown(socket.SHUT_WR)
            if not data:
                return


@pytest.fixture
def peer() -> Iterator[Callable[..., Peer]]:
    """Make :class:`Peer` objects; all are stopped at teardown."""
    made: list[Peer] = []

    def make(**options: Any) -> Peer:
        made.append(Peer(**options))
        return made[-1]

    yield make
    for p in made:
        p.stop()


@dataclass
class AsyncServer:
    """A ``websockets.asyncio.server`` on 127.0.0.1, port 0, in its own thread and event loop.

    Paths: ``/ws`` echoes text; ``/close/<code>`` closes with that code after the first message;
    ``/deny`` answers the handshake with 401. ``received`` has the messages of each connection in
    arrival order (keyed by the client's ``x-test-id`` header); ``client_codes`` the close codes the
    server got from clients.
    """

    port: int = 0
    received: dict[str, list[str]] = field(default_factory=dict)
    client_codes: list[int | None] = field(default_factory=list)
    tls: ssl.SSLContext | None = None

    @property
    def base(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}"

    async def handler(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else ""
        key = ws.request.headers.get("x-test-id", "") if ws.request else ""
        got = self.received.setdefault(key, [])
        try:
            async for message in ws:
                assert isinstance(message, str)
                got.append(message)
                if path.startswith("/close/"):
                    await ws.close(int(path.rsplit("/", 1)[1]), "asked")
                    break
                await ws.send(message)
        finally:
            await ws.wait_closed()
            self.client_codes.append(ws.close_code)

    def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/deny"):
            return ws.respond(http.HTTPStatus.UNAUTHORIZED, "no\n")
        return None


@pytest.fixture
def ws_server() -> Iterator[AsyncServer]:
    """A running :class:`AsyncServer` (plain ws://)."""
    yield from _run_server(AsyncServer())


def _run_server(server: AsyncServer) -> Iterator[AsyncServer]:
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop: asyncio.Future[None] = loop.create_future()

    async def main() -> None:
        async with serve(
            server.handler,
            "127.0.0.1",
            0,
            process_request=server.process_request,
            compression=None,
            # Never pause reading: a handler busy closing must still read the client's close reply
            # behind a flood of messages (with a bounded queue that takes its close_timeout).
            max_queue=None,
            ssl=server.tls,
        ) as srv:
            server.port = next(iter(srv.sockets)).getsockname()[1]
            started.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        assert started.wait(10), "server did not start"
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def wss_server(tmp_path: Any) -> Iterator[AsyncServer]:
    """A running :class:`AsyncServer` over TLS, with a self-signed certificate (needs openssl)."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    yield from _run_server(AsyncServer(tls=context))


@dataclass
class UvicornServer:
    """An ASGI echo server on uvicorn, the stack FastAPI and Starlette apps run on (127.0.0.1,
    port 0). On accept it sends ``{"type": "ready"}``, then echoes every text message.
    Unlike websockets' server, it does not read frames a client wrote before the 101."""

    ws: str
    port: int = 0
    received: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket", scope["type"]
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": '{"type":"ready"}'})
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                return
            text = event.get("text")
            if text is not None:
                self.received.append(text)
                await send({"type": "websocket.send", "text": text})


@pytest.fixture(params=["wsproto", "websockets-sansio"])
def uvicorn_server(request: pytest.FixtureRequest) -> Iterator[UvicornServer]:
    """A running :class:`UvicornServer`, with each of two of uvicorn's WebSocket implementations."""
    import uvicorn

    server = UvicornServer(ws=request.param)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound here and handed to uvicorn: the OS picks, nothing reuses
    server.port = sock.getsockname()[1]
    config = uvicorn.Config(server.app, ws=request.param, interface="asgi3", lifespan="off", log_level="warning")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(1000):  # up to 10 s
            if runner.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        assert runner.started, "uvicorn did not start"
        yield server
    finally:
        runner.should_exit = True
        thread.join(timeout=10)
        sock.close()

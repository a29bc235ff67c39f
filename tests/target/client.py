"""A small asyncio protocol client for the target tests.

Every wait has a deadline (``WAIT_S`` by default), every server message's ``seq`` is checked as it
arrives (a gap or a repeat fails the test at once) and ``ready`` is judged, by the same conversation
rules the load side uses (:mod:`loadgen.protocol.conversation`); ``/metrics`` is read by name. Ops
are built with :mod:`loadgen.protocol.wire`'s builders where the client sends them itself.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

import orjson
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadgen.protocol import tokens, wire
from loadgen.protocol.conversation import Conversation, check_seq
from target_app.ids import worker_of
from tests.support.target import Target

WAIT_S = 5.0
T = TypeVar("T")
AuthMode = Literal["header", "query", "inband", "none"]


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one async test body with an overall deadline."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def token(target: Target, user: str, **kwargs: Any) -> str:
    return tokens.mint(target.secret, user, **kwargs)


class Client:
    def __init__(self, ws: ClientConnection, user: str) -> None:
        self.ws = ws
        self.conversation = Conversation(user)
        self.user: str | None = None
        self.session: str | None = None

    @classmethod
    async def open(
        cls, target: Target, user: str = "alice", *, auth: AuthMode = "header",
        bearer: str | None = None, rcvbuf: int | None = None, **connect_kwargs: Any,
    ) -> Client:
        """Connect; ``auth`` says where the token goes (``none``: nowhere, the caller sends it).

        ``rcvbuf`` fixes the socket's receive buffer (no autotuning), so that a test that stops
        reading knows how little the kernel holds for it.
        """
        jwt = bearer if bearer is not None else token(target, user)
        url = f"{target.url}/ws"
        headers: dict[str, str] = {}
        if auth == "header":
            headers["Authorization"] = f"Bearer {jwt}"
        elif auth == "query":
            url += f"?token={jwt}"
        kwargs: dict[str, Any] = {
            "additional_headers": headers, "compression": None, "ping_interval": None,
            "max_size": None, "open_timeout": 10, "close_timeout": 5,
        }
        kwargs.update(connect_kwargs)
        if rcvbuf is not None:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", target.port))
            kwargs["sock"] = sock
        client = cls(await connect(url, **kwargs), user)
        if auth == "inband":
            await client.send(wire.auth_op(jwt))
        return client

    @classmethod
    async def ready(cls, target: Target, user: str = "alice", **kwargs: Any) -> Client:
        """Connect and wait for ``ready``: the first message, seq 0, for ``user`` (the conversation's rule)."""
        client = await cls.open(target, user, **kwargs)
        msg = client.conversation.first(await client._read(WAIT_S))
        client.user, client.session = msg["user"], msg["session"]
        return client

    @property
    def worker(self) -> int | None:
        return None if self.session is None else worker_of(self.session)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(message).decode())

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def _read(self, timeout: float) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            raw = await self.ws.recv()
        msg: dict[str, Any] = orjson.loads(raw)
        return msg

    async def recv(self, timeout: float = WAIT_S) -> dict[str, Any]:
        """The next message; its ``seq`` must be the next one (``SeqGap`` / ``OutOfOrder`` otherwise)."""
        msg = await self._read(timeout)
        check_seq(self.conversation.seq, msg)
        return msg

    async def request(self, message: dict[str, Any], timeout: float = WAIT_S) -> dict[str, Any]:
        """Send an op and return the next message (the reply when nothing else is flowing)."""
        await self.send(message)
        return await self.recv(timeout)

    async def request_raw(self, text: str | bytes, timeout: float = WAIT_S) -> dict[str, Any]:
        await self.send_raw(text)
        return await self.recv(timeout)

    async def closed(self, timeout: float = WAIT_S) -> int | None:
        """Read (discarding) until the server closes; return the close code received."""
        async with asyncio.timeout(timeout):
            try:
                while True:
                    raw = await self.ws.recv()
                    check_seq(self.conversation.seq, orjson.loads(raw))
            except ConnectionClosed:
                pass
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


async def ready_on_worker(target: Target, user: str, worker: int, attempts: int = 60) -> Client:
    """A ready client that landed on ``worker`` (the kernel picks the worker per connection)."""
    for _ in range(attempts):
        client = await Client.ready(target, user)
        if client.worker == worker:
            return client
        await client.close()
    raise AssertionError(f"no connection reached worker {worker} in {attempts} attempts")


def metrics_text(target: Target) -> str:
    with urllib.request.urlopen(f"{target.http_url}/metrics", timeout=WAIT_S) as resp:
        return str(resp.read().decode())


def metric(target: Target, name: str, **labels: str) -> float:
    """The value of one sample on ``/metrics`` (0 if absent), e.g. ``metric(t, CLOSES, code="1013")``."""
    for family in text_string_to_metric_families(metrics_text(target)):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def ametric(target: Target, name: str, **labels: str) -> float:
    return await asyncio.to_thread(metric, target, name, **labels)


async def await_metric(target: Target, name: str, at_least: float, timeout: float = WAIT_S,
                       **labels: str) -> float:
    """Poll ``/metrics`` until the sample reaches ``at_least`` (an explicit acknowledgement)."""
    async with asyncio.timeout(timeout):
        while (value := await ametric(target, name, **labels)) < at_least:
            await asyncio.sleep(0.02)
    return value

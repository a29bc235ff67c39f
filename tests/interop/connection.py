"""One WebSocket conversation on raw ASGI: handshake auth (401), in-band auth, ``ready``, the ops.

Raw ASGI rather than Starlette's ``WebSocket`` wrapper: its state machine marks a close as sent
before the send returns, while here a close may wait behind a slow reader and be replaced (1001 at
shutdown). Every op is handled in plain synchronous code, one message after the other, so messages
that arrived before ``ready`` (uvicorn queues them) are handled in order right after it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.interop.jobs import JobBoard
from tests.interop.metrics import Metrics
from tests.interop.outbox import STALL_TIMEOUT_S, Outbox
from tests.interop.rules import (
    BAD_REQUEST,
    UNAUTHORIZED,
    Op,
    Refusal,
    TokenRefused,
    error,
    handshake_tokens,
    parse,
    verify,
)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger("tests.interop")

AUTH_TIMEOUT_S = 5.0
_JOB_ERRORS = {"not_found": "no such job", "forbidden": "the job belongs to another user"}


@dataclass(frozen=True, slots=True)
class Settings:
    secret: str
    auth_timeout: float = AUTH_TIMEOUT_S
    stall_timeout: float | None = STALL_TIMEOUT_S


@dataclass(eq=False)
class Shared:
    """What every connection of the server shares."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    live: set[Outbox] = field(default_factory=set)
    shutting_down: bool = False
    jobs: JobBoard = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = JobBoard(self.report)

    def report(self, exc: BaseException) -> None:
        """An exception no handler expected: counted, logged, never swallowed silently."""
        self.metrics.unhandled.inc()
        log.error("unhandled error", exc_info=exc)


def _received_code(event: dict[str, Any]) -> int:
    """The close code of a ``websocket.disconnect``. uvicorn reports a connection lost without a close
    frame as 1005 with no ``reason`` key (a close frame always brings one): PROTOCOL.md counts it as 1006."""
    code = int(event.get("code", 1005))
    return 1006 if code == 1005 and "reason" not in event else code


async def _deny(scope: dict[str, Any], send: Send, status: int, why: str) -> None:
    """Refuse the upgrade with an HTTP status (ASGI's WebSocket Denial Response)."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})  # the server can only say 403
        return
    body = f"{why}\n".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})


async def serve(shared: Shared, scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI app of ``/ws``."""
    if (await receive())["type"] != "websocket.connect":
        return
    tokens = handshake_tokens(scope["headers"], scope.get("query_string", b""))
    user = None
    if tokens:
        try:
            users = {verify(shared.settings.secret, token) for token in tokens}
        except TokenRefused as exc:
            shared.metrics.auth_failures.inc()
            await _deny(scope, send, 401, f"invalid token: {exc}")
            return
        if len(users) != 1:
            shared.metrics.auth_failures.inc()
            await _deny(scope, send, 401, "the header and the query string name different users")
            return
        (user,) = users
    if shared.shutting_down:
        await _deny(scope, send, 503, "shutting down")
        return
    try:
        await Connection(shared, receive, send, user).run()
    except OSError:
        return  # uvicorn's ClientDisconnected: the client left before the accept went out
    except Exception as exc:
        shared.report(exc)
        raise


class Connection:
    def __init__(self, shared: Shared, receive: Receive, send: Send, user: str | None) -> None:
        self.shared = shared
        self.receive = receive
        self.send = send
        self.user = user
        self.outbox = Outbox(send, shared.metrics, shared.report, stall_timeout=shared.settings.stall_timeout)
        self.subscribed: set[str] = set()

    async def run(self) -> None:
        shared, metrics = self.shared, self.shared.metrics
        shared.live.add(self.outbox)
        code = 1006
        try:
            await self.send({"type": "websocket.accept"})
            metrics.connections.inc()
            metrics.connections_open.inc()
            try:
                self.outbox.start()
                if self.user is None:
                    ended = await self._auth_in_band()
                    if ended is not None:
                        code = ended
                        return
                self.outbox.put({"type": "ready", "user": self.user, "session": secrets.token_hex(8)})
                code = await self._converse()
            finally:
                metrics.connections_open.dec()
                metrics.closed(self.outbox.close_sent or code)
        finally:
            shared.live.discard(self.outbox)
            for job in self.subscribed:
                shared.jobs.unsubscribe(job, self.outbox)
            self.outbox.stop()

    async def _auth_in_band(self) -> int | None:
        """Wait for the ``auth`` message; None once authenticated, else the close code received."""
        metrics = self.shared.metrics
        try:
            async with asyncio.timeout(self.shared.settings.auth_timeout):
                event = await self.receive()
        except TimeoutError:
            metrics.auth_failures.inc()
            self.outbox.close(1008, "no auth message in time")
            return await self._drain()
        if event["type"] == "websocket.disconnect":
            return _received_code(event)
        metrics.received.inc()
        if event.get("text") is None:
            self.outbox.close(1003, "binary frames are not part of the protocol")
            return await self._drain()
        op = parse(event["text"])
        why = "the first message must be auth"
        if isinstance(op, Op) and op.name == "auth":
            try:
                self.user = verify(self.shared.settings.secret, op.args["token"])
                return None
            except TokenRefused as exc:
                why = f"invalid token: {exc}"
        metrics.auth_failures.inc()
        self.outbox.put(error(UNAUTHORIZED, why), sequenced=False)
        self.outbox.close(1008, "unauthorized")
        return await self._drain()

    async def _drain(self) -> int:
        """Read (and ignore) until the connection ends; the close code received."""
        while True:
            event = await self.receive()
            if event["type"] == "websocket.disconnect":
                return _received_code(event)
            self.shared.metrics.received.inc()

    async def _converse(self) -> int:
        while True:
            event = await self.receive()
            if event["type"] == "websocket.disconnect":
                return _received_code(event)
            self.shared.metrics.received.inc()
            if self.outbox.closing:
                continue  # after a close op, or while closing a slow reader: ignored without error
            text = event.get("text")
            if text is None:
                self.outbox.close(1003, "binary frames are not part of the protocol")
                continue
            try:
                self._handle(text)
            except Exception as exc:
                self.shared.report(exc)
                self.outbox.interrupt(1011, "server error", count_abandoned=False)

    def _handle(self, text: str) -> None:
        outbox, shared = self.outbox, self.shared
        op = parse(text)
        if isinstance(op, Refusal):
            outbox.put(error(op.code, op.message, op.id))
            return
        args = op.args
        if op.name == "echo":
            outbox.put({"type": "echo", "id": op.id, "data": args["data"]})
        elif op.name == "start":
            assert self.user is not None
            job = shared.jobs.start(self.user, args["steps"], args["step_ms"])
            shared.metrics.jobs_started.inc()
            outbox.put({"type": "started", "id": op.id, "job": job.id})
        elif op.name == "subscribe":
            assert self.user is not None
            got = shared.jobs.subscribe(args["job"], self.user, outbox)
            if isinstance(got, str):
                outbox.put(error(got, _JOB_ERRORS[got], op.id))
                return
            if got.state != "halted":
                self.subscribed.add(got.id)
            outbox.put({"type": "subscribed", "id": op.id, "job": got.id, "state": got.state, "step": got.step})
        elif op.name == "close":
            outbox.close(args["code"], args["reason"])
        elif op.name == "burst":
            outbox.put_burst(op.id, args["count"], args["size"])
        else:  # auth, once ready was sent
            outbox.put(error(BAD_REQUEST, "already authenticated", op.id))

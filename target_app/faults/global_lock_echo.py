"""``--fault global-lock-echo``: echo replies are written under one process-wide lock, awaiting the
socket.

The bug: "two tasks must not write to a WebSocket at once", so echo replies are sent directly with
``await ws.send(...)`` under a lock - but one lock for the whole process instead of one per
connection. ``send`` waits while the socket's write buffer is above its high-water mark, so an echo
to a client that does not read (or reads slowly, with a big reply) holds the lock until that client
drains: every other connection's echo on the worker waits behind it. Only echoes take the lock;
every other op is unaffected.

The correct :class:`~target_app.connection.Connection` queues replies on the connection's own
outbox, written by its own writer: one slow reader never holds anyone else.

Detection: one client sends a large echo and does not read; another client's echo is not answered
until the first one drains (or is dropped).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import orjson
from websockets.exceptions import ConnectionClosed

from loadgen.protocol import wire
from target_app.connection import Connection
from target_app.wiring import Parts


class EchoUnderGlobalLockConnection(Connection):
    __slots__ = ()

    SEND_LOCK: ClassVar[asyncio.Lock] = asyncio.Lock()  # one for the whole process: THE BUG

    async def dispatch(self, op: wire.Op) -> None:
        if not isinstance(op, wire.Echo):
            await super().dispatch(op)
            return
        async with self.SEND_LOCK:
            await self.outbox.flushed()  # what is queued before it goes first: order is kept
            frame = orjson.dumps(self.seq.stamp(wire.echo_reply(op.id, op.data)))
            try:
                await self.ws.send(frame, text=True)  # waits for a slow reader, lock held
            except ConnectionClosed:
                return  # the client left: nothing more is owed
            self.context.metrics.messages_sent.inc()


PARTS = Parts(connection=EchoUnderGlobalLockConnection)

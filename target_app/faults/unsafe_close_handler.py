"""``--fault unsafe-close-handler``: handlers write their replies to the socket themselves, unguarded.

The bug, as in many Starlette / FastAPI handlers (``await websocket.send_json(reply)`` right in the
message loop): each reply is sent straight to the socket from the handler. A client that closes
while its ops are still being handled - its close frame read in the same segment as the ops before
it - has its connection closed by the time the handler replies to them, and ``send`` raises
``ConnectionClosedOK`` out of the handler: an unhandled error, logged and counted, for every client
that closes with ops in flight.

The correct :class:`~target_app.connection.Connection` hands replies to its one writer, which
expects ``ConnectionClosed`` at the send site (nothing more can be delivered, nothing is owed).

Detection: send ops and the close frame together; ``wsrace_unhandled_errors_total`` grows.
"""

from __future__ import annotations

import orjson

from target_app.connection import Connection, Message
from target_app.wiring import Parts


class DirectReplyConnection(Connection):
    __slots__ = ()

    async def reply(self, message: Message) -> None:
        await self.outbox.flushed()  # what the writer has queued (ready, events) goes out first
        await self.ws.send(orjson.dumps(self.seq.stamp(message)), text=True)  # THE BUG: unguarded
        self.context.metrics.messages_sent.inc()


PARTS = Parts(connection=DirectReplyConnection)

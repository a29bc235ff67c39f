"""``--fault lossy-queue-buffered``: burst items are skipped while the socket's write buffer is high.

The bug, ported from a Node ``ws`` server that follows the usual advice "check
``ws.bufferedAmount`` before sending, and skip the message if it is too high": the burst producer
looks at the transport's write buffer before queueing each item and, above 16 KiB, skips it as "a
client that is behind anyway". What is skipped was never queued, so the writer's seq numbering
stays continuous: only the content (the burst's ``i``) shows the hole.

The correct :meth:`Connection.burst` waits for room (backpressure) and skips nothing.

Detection: ask for a burst of large items on a small receive window and read slowly: items are
missing, with no seq gap.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from loadgen.protocol import wire
from target_app.connection import Connection
from target_app.wiring import Parts

log = logging.getLogger(__name__)


class BufferedAmountConnection(Connection):
    __slots__ = ()

    HIGH_WATER: ClassVar[int] = 16_384
    """``bufferedAmount`` above which an item is skipped."""

    async def burst(self, op: wire.Burst) -> None:
        data = "x" * op.size
        for i in range(op.count):
            if self._buffered() > self.HIGH_WATER:
                log.debug("bufferedAmount %d: burst item %d skipped", self._buffered(), i)
                continue  # THE BUG: skipped, and nobody is told
            if not await self.outbox.put_flow(wire.burst_item(op.id, i, data)):
                return


PARTS = Parts(connection=BufferedAmountConnection)

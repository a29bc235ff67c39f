"""``--fault lossy-queue``: the outbound queue drops a message that waits 100 ms for room.

The bug, ported from a channel-based design: each connection has a bounded queue of outgoing
messages, and a put that has waited 100 ms is given up so that the producer "never blocks for
long". Replies and events that find it full are dropped at once. Nothing is counted, nothing is
closed: under a slow reader with bursts, items silently go missing.

The correct :class:`~target_app.outbox.Outbox` makes a burst wait as long as the client reads (and
closes a client that makes no progress with 1013, counting what it abandons).

Detection: ask for a large burst and read it slowly; burst items (their ``i``) are missing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

from target_app.outbox import Message, Outbox
from target_app.wiring import Parts

log = logging.getLogger(__name__)


class LossyOutbox(Outbox):
    __slots__ = ()

    FLOW_WINDOW: ClassVar[int] = 64
    """The queue's bound."""
    PUT_TIMEOUT_S: ClassVar[float] = 0.1

    def push(self, message: Message, size: int) -> None:
        if len(self) >= self.FLOW_WINDOW:
            log.debug("outbound queue full: dropped a %s", message.get("type"))
            return  # THE BUG: dropped, and nobody is told
        super().push(message, size)

    def has_flow_room(self) -> bool:
        return len(self) < self.FLOW_WINDOW

    async def put_flow(self, message: Message) -> bool:
        try:
            async with asyncio.timeout(self.PUT_TIMEOUT_S):
                return await super().put_flow(message)
        except TimeoutError:
            log.debug("outbound queue full for 100 ms: dropped a %s", message.get("type"))
            return True  # THE BUG: the producer carries on as if it had been sent


PARTS = Parts(outbox=LossyOutbox)

"""``--fault lossy-queue-ring``: the outbound queue is a ring that evicts its oldest message.

The bug, ported from a design that "never blocks a producer": each connection's outgoing messages
go into a ``collections.deque(maxlen=64)``. A full deque does not refuse the new message, it
silently pushes the *oldest* one out of the other end. Burst items no longer wait for a slow
reader (there is no backpressure at all), so under a slow reader the items still queued when
newer ones arrive are gone. The seq is stamped by the writer, so the numbering on the wire stays
continuous: only the content (the burst's ``i``) shows the loss.

The correct :class:`~target_app.outbox.Outbox` makes a burst wait for room (backpressure) and never
drops what it has accepted, except on a 1013 close, where it counts it.

Detection: ask for a burst larger than the ring and read it slowly; items in the middle are missing
while ``seq`` has no gap.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from target_app.outbox import Message, Outbox
from target_app.wiring import Parts

log = logging.getLogger(__name__)


class RingOutbox(Outbox):
    __slots__ = ()

    MAXLEN: ClassVar[int] = 64
    """The ring's size: ``deque(maxlen=64)``."""

    def has_flow_room(self) -> bool:
        return True  # "the ring always has room": no burst ever waits

    def push(self, message: Message, size: int) -> None:
        super().push(message, size)
        self._evict_oldest()

    async def put_flow(self, message: Message) -> bool:
        queued = await super().put_flow(message)
        self._evict_oldest()
        return queued

    def _evict_oldest(self) -> None:
        while len(self._items) > self.MAXLEN:  # THE BUG: what maxlen does to a full deque
            message, size, flow = self._items.popleft()
            if flow:
                self._flow -= 1
            else:
                self._other_bytes -= size
            log.debug("outbound ring full: the oldest %s fell out", message.get("type"))


PARTS = Parts(outbox=RingOutbox)

"""``--fault lossy-queue-stamped``: messages are numbered when queued, and a burst item that waits
50 ms for room is given up - so the client sees a seq gap.

The bug, ported from a Go design: each message gets its sequence number when it is created (like a
broker offset, "so a retry keeps its number"), then is offered to the connection's bounded queue
with ``select { case ch <- m: case <-time.After(50 * time.Millisecond): }``. An item the queue had
no room for within 50 ms is dropped, its number already spent. Replies and events are numbered the
same way; only burst items wait, and only they are lost.

The correct :class:`~target_app.connection.Connection` numbers each message as its single writer
hands it to the socket (seq order is wire order, no gaps) and lets a burst wait as long as the
client reads.

Detection: ask for a burst and read it slowly: a ``seq`` gap (and the burst's ``i`` skips).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from loadgen.protocol import wire
from loadgen.protocol.sequence import Sequencer
from target_app.connection import Connection, Message
from target_app.wiring import Parts

log = logging.getLogger(__name__)


class NumberedAtCreation(Sequencer):
    """This design's sequencer: :meth:`number` as a message is created; the writer's
    :meth:`stamp` keeps the number it already has."""

    __slots__ = ()

    def number(self, message: dict[str, Any]) -> dict[str, Any]:
        return super().stamp(message)

    def stamp(self, message: dict[str, Any]) -> dict[str, Any]:
        return message


class StampedConnection(Connection):
    __slots__ = ()

    PUT_TIMEOUT_S: ClassVar[float] = 0.05

    async def run(self) -> None:
        self.seq = NumberedAtCreation()
        await super().run()

    def number(self, message: Message) -> Message:
        assert isinstance(self.seq, NumberedAtCreation)
        return self.seq.number(message)

    def send(self, message: Message) -> None:
        super().send(self.number(message))  # numbered as it is created

    async def burst(self, op: wire.Burst) -> None:
        data = "x" * op.size
        for i in range(op.count):
            item = self.number(wire.burst_item(op.id, i, data))
            try:
                async with asyncio.timeout(self.PUT_TIMEOUT_S):
                    if not await self.outbox.put_flow(item):
                        return
            except TimeoutError:
                log.debug("burst item %d found no room for 50 ms: dropped", i)  # THE BUG
                continue


PARTS = Parts(connection=StampedConnection)

"""``--fault global-lock``: one process-wide lock held across every await of handling a message.

The bug: a lock meant to protect shared state is taken around the whole handling of a message,
including its awaits, so while one connection waits (a burst waiting for a slow reader to drain)
every other connection of the worker waits for the lock. Latency explodes under load.

The correct :meth:`Connection.dispatch` holds no lock: shared state (the job registry) is only
touched between awaits, which the event loop already makes atomic.

Detection: one client asks for a large burst and does not read; another client's echo on the same
worker gets no reply until the first one drains (or is closed for stalling).
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from loadgen.protocol import wire
from target_app.connection import Connection
from target_app.wiring import Parts


class GlobalLockConnection(Connection):
    __slots__ = ()

    LOCK: ClassVar[asyncio.Lock] = asyncio.Lock()  # one for the whole process: THE BUG

    async def dispatch(self, op: wire.Op) -> None:
        async with self.LOCK:
            await super().dispatch(op)


PARTS = Parts(connection=GlobalLockConnection)

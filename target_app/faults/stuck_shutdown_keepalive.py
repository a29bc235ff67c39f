"""``--fault stuck-shutdown-keepalive``: every connection's close waits for a keepalive task that
treats its cancellation as a missed beat.

The bug: each connection runs its own keepalive task (a ping every 30 s, as Socket.IO's
``pingInterval`` does), and the connection's cleanup cancels it and waits for it to finish. The
keepalive loop catches "interruptions" - a pong timeout, and ``asyncio.CancelledError`` with it -
and goes on to the next beat. So a closed connection's handler waits up to 30 s after every close
(``wsrace_connections_open`` lags far behind), and at SIGTERM the worker's last cleanup waits for
every keepalive of the last half minute: the worker does not exit within the shutdown timeout, the
supervisor kills it and exits non-zero.

The correct :class:`~target_app.connection.Connection` runs no task that outlives its close: its
writer is stopped, and waited for, with nothing that swallows cancellation.

Detection: connect, close, then SIGTERM the app: it does not exit within the shutdown timeout, and
exits non-zero.
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

from websockets.exceptions import ConnectionClosed

from target_app.connection import Connection
from target_app.wiring import Parts

log = logging.getLogger(__name__)


class KeepaliveConnection(Connection):
    __slots__ = ()

    PING_INTERVAL_S: ClassVar[float] = 30.0

    async def run(self) -> None:
        keepalive = asyncio.get_running_loop().create_task(
            self._beat(), name=f"keepalive of {self.name}"
        )
        try:
            await super().run()
        finally:
            keepalive.cancel()
            await asyncio.wait([keepalive])  # waits out the beat it swallowed

    async def _beat(self) -> None:
        while True:
            try:
                await asyncio.sleep(self.PING_INTERVAL_S)
                pong = await self.ws.ping()
                async with asyncio.timeout(self.PING_INTERVAL_S):
                    await pong
            except (TimeoutError, asyncio.CancelledError):  # THE BUG: cancellation is no missed pong
                log.debug("%s: keepalive interrupted; next beat", self.name)
                continue
            except ConnectionClosed:
                return


PARTS = Parts(connection=KeepaliveConnection)

"""``--fault early-drop``: messages that arrive before the session is ready are discarded.

The bug, as it is usually written: the connection starts reading at once, and verifies the token and
loads the user *beside* the reader (off the event loop, as one is told to do with slow work). Any
message that the reader gets before the user is loaded cannot be attributed to anyone, so it is
dropped. Ops pipelined right behind the handshake or the ``auth`` message get no reply.

The correct :meth:`Connection.authenticate` reads nothing but the auth message until the session
is open, so everything after it waits, in order, in websockets' receive buffer.

Detection: send ops right behind the auth message (or the handshake), before ``ready``; their
replies never come.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from websockets.exceptions import ConnectionClosed

from loadgen.protocol import tokens
from target_app.connection import Connection
from target_app.wiring import Parts

log = logging.getLogger(__name__)

PROFILE_LOOKUP_S: Final = 0.02
"""The user store round trip the buggy code makes while loading the user (simulated)."""


class EarlyDropConnection(Connection):
    __slots__ = ()

    async def authenticate(self) -> str | None:
        user = self.handshake_user()
        token: str | None = None
        if user is None:
            auth = await self.receive_auth()
            if auth is None:
                return None
            token = auth.token
        loading = asyncio.ensure_future(self._load_user(user, token))
        try:
            while True:
                reading = asyncio.ensure_future(self.ws.recv())
                done, _ = await asyncio.wait({loading, reading}, return_when=asyncio.FIRST_COMPLETED)
                if reading in done:
                    try:
                        reading.result()
                    except ConnectionClosed:
                        return None
                    self.context.metrics.messages_received.inc()
                    log.debug("%s: message before the user is loaded; dropped", self.name)
                    continue  # THE BUG: nobody to handle it for yet, so it is thrown away
                reading.cancel()  # cancelling recv() loses nothing
                await asyncio.wait([reading])
                return loading.result()
        finally:
            loading.cancel()

    async def _load_user(self, user: str | None, token: str | None) -> str | None:
        if token is not None:
            try:
                user = await asyncio.to_thread(tokens.verify, self.context.config.secret, token)
            except tokens.TokenError as exc:
                self.reject(str(exc), None)
                return None
        await asyncio.sleep(PROFILE_LOOKUP_S)  # "load the user's profile"
        return user


PARTS = Parts(connection=EarlyDropConnection)

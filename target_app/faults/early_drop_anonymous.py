"""``--fault early-drop-anonymous``: messages that arrive while the user is being loaded are handled
as an anonymous client's.

The bug, as with Socket.IO middleware that loads ``socket.user`` asynchronously: the message loop
starts at once and the user is verified and loaded beside it. A handler that finds no user yet
does what it does for any unauthenticated client: answers ``unauthorized`` - and the connection
stays open, so once the user is loaded the session goes on. Ops pipelined right behind the
handshake or the ``auth`` message get an error instead of their reply, and it arrives before
``ready``.

The correct :meth:`Connection.authenticate` reads nothing but the auth message until the session
is open, so everything after it waits, in order, in websockets' receive buffer.

Detection: send ops right behind the handshake (or the auth message), before ``ready``: the first
message is an ``unauthorized`` error, not ``ready``.
"""

from __future__ import annotations

import asyncio
from typing import Final

from websockets.exceptions import ConnectionClosed

from loadgen.protocol import tokens, wire
from target_app.connection import Connection
from target_app.wiring import Parts

PROFILE_LOOKUP_S: Final = 0.02
"""The user store round trip made while loading the user (simulated)."""


class AnonymousUntilLoadedConnection(Connection):
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
                        data = reading.result()
                    except ConnectionClosed:
                        return None
                    self.context.metrics.messages_received.inc()
                    await self.handle_anonymous(data)
                    continue
                reading.cancel()  # cancelling recv() loses nothing
                await asyncio.wait([reading])
                return loading.result()
        finally:
            loading.cancel()

    async def handle_anonymous(self, data: str | bytes) -> None:
        """What the handlers do for a client with no user: THE BUG is calling it here."""
        op = wire.parse_client_message(data) if isinstance(data, str) else None
        msg_id = getattr(op, "id", None)
        await self.reply(wire.error(wire.UNAUTHORIZED, "not authenticated", msg_id))

    async def _load_user(self, user: str | None, token: str | None) -> str | None:
        if token is not None:
            try:
                user = await asyncio.to_thread(tokens.verify, self.context.config.secret, token)
            except tokens.TokenError as exc:
                self.reject(str(exc), None)
                return None
        await asyncio.sleep(PROFILE_LOOKUP_S)  # "load the user's profile"
        return user


PARTS = Parts(connection=AnonymousUntilLoadedConnection)

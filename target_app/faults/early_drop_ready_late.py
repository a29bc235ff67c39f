"""``--fault early-drop-ready-late``: ``ready`` is sent by a background task after the profile loads,
while the message loop already runs.

The bug: "don't make the client wait for the profile", so the session is opened at once, the
welcome message (``ready``) is sent by a fire-and-forget task once the user's profile is loaded,
and the message loop starts handling ops meanwhile. Ops pipelined right behind the handshake or the
``auth`` message are answered before ``ready``: the client's first message is a reply, and the
session's seq 0 is not ``ready``. A client that waits for ``ready`` before it trusts any reply sees
its replies as coming from nowhere.

The correct :meth:`Connection.open_session` queues ``ready`` before a single op is read.

Detection: send ops right behind the handshake, before ``ready``: their replies arrive first.
"""

from __future__ import annotations

import asyncio
from typing import Final

from loadgen.protocol import wire
from target_app.connection import Connection
from target_app.wiring import Parts

PROFILE_LOOKUP_S: Final = 0.02
"""The user store round trip made before the welcome message (simulated)."""


class ReadyLateConnection(Connection):
    __slots__ = ()

    def open_session(self, user: str) -> None:
        self.user = user
        self.session = self.context.ids.session()
        self.context.tasks.spawn(self._welcome(user, self.session), name=f"welcome {self.session}")

    async def _welcome(self, user: str, session: str) -> None:
        await asyncio.sleep(PROFILE_LOOKUP_S)  # "load the profile for the welcome message"
        self.send(wire.ready(user, session))  # THE BUG: the reader has been answering ops already


PARTS = Parts(connection=ReadyLateConnection)

"""``--fault cross-talk-global``: the connection being served is kept in a module global.

The bug, ported from a thread-per-request design (a Flask-style ``g`` / "current request" global,
which a thread-local made safe there): the handler stores the connection it serves in a module
global, and the helpers that send ("``send_to_client()``") read that global instead of being handed
the connection. In one thread per client that was fine; on one event loop, every await lets another
connection's handler overwrite it. A burst that waits for its slow reader resumes with the global
pointing at whichever connection handled a message last: the rest of the burst (and any reply sent
after an await) goes to another user.

The correct :class:`~target_app.connection.Connection` sends through ``self``, never a global.

Detection: while one client reads a burst slowly, another client sends anything: the second client
receives burst items it never asked for, and the first one misses them.
"""

from __future__ import annotations

from loadgen.protocol import wire
from target_app.connection import Connection, Message
from target_app.wiring import Parts

_current: Connection | None = None
"""The connection whose message is being handled: THE BUG (shared by every connection)."""


def send_to_client(message: Message) -> None:
    assert _current is not None
    _current.send(message)


async def flow_to_client(message: Message) -> bool:
    assert _current is not None
    return await _current.outbox.put_flow(message)


class GlobalContextConnection(Connection):
    __slots__ = ()

    async def handle(self, data: str | bytes) -> None:
        global _current
        _current = self  # "set the request context"
        await super().handle(data)

    async def reply(self, message: Message) -> None:
        send_to_client(message)

    async def burst(self, op: wire.Burst) -> None:
        data = "x" * op.size
        for i in range(op.count):
            if not await flow_to_client(wire.burst_item(op.id, i, data)):  # to the global's client
                return


PARTS = Parts(connection=GlobalContextConnection)

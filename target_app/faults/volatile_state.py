"""``--fault volatile-state``: state events are "volatile": skipped while the connection's writer is busy.

The bug, after Socket.IO's ``socket.volatile.emit`` (engine.io drops a volatile packet when the
transport is not writable) and the many "skip the status update while the client is behind, the
next one will supersede it" optimisations modelled on it: a change of a job's state is pushed only
if the connection's writer is free; while it is blocked handing frames to a socket that does not
drain (a burst in flight to a slow reader), the event is silently skipped. Nothing is counted and
nothing is closed. And since the writer stamps ``seq`` as it hands each frame to the socket, the
numbering of what does go out stays continuous: no client sees a ``seq`` gap. For state events the
shortcut is wrong — each change is promised, and the last one (``halted``) is never superseded — so
a client under load waits for a ``running`` step or a ``halted`` that never comes.

The correct :meth:`~target_app.connection.Connection.deliver` queues every state event like any
reply, and the connection closes with 1013 (counting what it abandons) only when too much piles up
unread.

Detection: subscribe to running jobs while a burst is in flight to a slow reader, and know every
change each subscription is owed (the ``pressure`` scenario): ``missed_event`` naming the lost
change. The older scenarios read state events only on a connection that keeps up (``fast_halt``,
``send_after_close``) or read bursts with no job running (``steady``): they do not see it.
"""

from __future__ import annotations

import logging

from target_app.connection import Connection, Message
from target_app.wiring import Parts

log = logging.getLogger(__name__)


class VolatileStateConnection(Connection):
    __slots__ = ()

    def deliver(self, event: Message) -> None:
        if self._sending:
            # THE BUG: the writer waits for the socket to drain, so the change is "volatile" and
            # skipped, uncounted; seq is stamped at write time, so what goes out shows no gap.
            log.debug("%s: writer busy: skipped a state event", self.name)
            return
        super().deliver(event)


PARTS = Parts(connection=VolatileStateConnection)

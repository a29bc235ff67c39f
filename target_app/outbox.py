"""What one connection owes its client, in order, until its single writer hands it to the socket.

Two ways in, one queue, so the order is the order things happened:

- :meth:`Outbox.push` (replies, state events, errors) never waits: a job ticker or a handler must
  not block on someone else's slow client. The bytes waiting this way are counted; past the limit
  (4 MiB) the owner's ``output_overflowed`` is called and the connection closes with 1013.
- :meth:`Outbox.put_flow` (burst items) waits while ``FLOW_WINDOW`` of them are queued, so a burst
  moves at the pace the client reads: backpressure, not loss.

The writer takes messages with :meth:`take`, which never waits: it returns None once the outbox is
empty, and the writer then ends. The owner's ``output_ready`` is called each time a message is
queued, so the owner starts a writer when there is something to write and none is running. An idle
connection holds no writer task and no waiting future, and its outbox no queue (a deque is made for
what is queued and given up once it is empty).

States: ``open`` -> ``finishing`` (:meth:`finish`: nothing new; the writer delivers what is queued)
-> ``closed`` (:meth:`abandon`: what is queued is given up). Messages abandoned on a 1013 close are
counted through the owner's ``output_dropped`` (wsrace_dropped_messages_total); on any other close
(the client left, asked to close, or the server is shutting down) nothing more is owed. Pushes
after the open state are ignored for the same reason. No sockets here: asyncio futures only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from enum import Enum
from typing import Any, ClassVar, Final, Protocol

Message = dict[str, Any]


class OutboxState(Enum):
    OPEN = "open"
    FINISHING = "finishing"
    CLOSED = "closed"


OPEN, FINISHING, CLOSED = OutboxState.OPEN, OutboxState.FINISHING, OutboxState.CLOSED


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


Item = tuple[Message, int, bool]
"""A queued message, its size if it counts against the limit, and whether it is a burst item."""

_NO_ITEMS: Final[tuple[()]] = ()
"""The queue of an outbox with nothing queued: no deque is held (an empty one is 760 bytes)."""


class OutboxOwner(Protocol):
    """What an outbox tells the connection it belongs to (one reference, not three callbacks)."""

    def output_ready(self) -> None:
        """A message was queued: a writer must run."""

    def output_overflowed(self) -> None:
        """More than the limit of replies and events is waiting unsent."""

    def output_dropped(self, count: int) -> None:
        """``count`` messages were abandoned on a 1013 close (or never produced because of it)."""


class Outbox:
    FLOW_WINDOW: ClassVar[int] = 16
    """Burst items queued at most; the producer waits for the writer below that."""

    __slots__ = (
        "_count_drops", "_flow", "_flow_waiters", "_flush_waiters", "_items", "_limit", "_other_bytes",
        "_owner", "dropped", "state",
    )

    def __init__(self, limit_bytes: int, owner: OutboxOwner) -> None:
        self._limit = limit_bytes
        self._owner = owner
        # Made when first needed and given up when empty: an idle connection holds none of them.
        self._items: deque[Item] | tuple[()] = _NO_ITEMS
        self._flow_waiters: list[asyncio.Future[None]] | None = None
        self._flush_waiters: list[asyncio.Future[None]] | None = None
        self._other_bytes = 0
        self._flow = 0
        self._count_drops = False
        self.dropped = 0
        self.state = OPEN

    def __len__(self) -> int:
        return len(self._items)

    @property
    def waiting_bytes(self) -> int:
        """Bytes of replies and events queued (burst items are bounded by the window instead)."""
        return self._other_bytes

    def push(self, message: Message, size: int) -> None:
        """Queue a reply or event of ``size`` bytes; never waits."""
        if self.state is not OPEN:
            return
        self._append((message, size, False))
        self._other_bytes += size
        self._owner.output_ready()
        if self._other_bytes > self._limit:
            self._owner.output_overflowed()

    def has_flow_room(self) -> bool:
        return self._flow < self.FLOW_WINDOW

    async def put_flow(self, message: Message) -> bool:
        """Queue a burst item once there is room; False if the outbox stopped taking messages."""
        loop = asyncio.get_running_loop()
        while self.state is OPEN and not self.has_flow_room():
            waiter = loop.create_future()
            if self._flow_waiters is None:
                self._flow_waiters = []
            waiters = self._flow_waiters
            waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in waiters:
                    waiters.remove(waiter)
        if self.state is not OPEN:
            return False
        self._append((message, 0, True))
        self._flow += 1
        self._owner.output_ready()
        return True

    def _append(self, item: Item) -> None:
        if isinstance(items := self._items, deque):
            items.append(item)
        else:
            self._items = deque((item,))

    def take(self) -> Message | None:
        """The next message for the writer, or None when there is none (the writer then ends)."""
        items = self._items
        if not items:
            return None
        assert isinstance(items, deque)
        message, size, flow = items.popleft()
        if flow:
            self._flow -= 1
            if self._flow_waiters:
                _wake(self._flow_waiters[0])
        else:
            self._other_bytes -= size
        if not items:
            self._items = _NO_ITEMS
            self._wake_flushed()
        return message

    def finish(self) -> None:
        """Take nothing new; what is queued is still delivered."""
        if self.state is OPEN:
            self.state = FINISHING
            self._wake_all()

    def abandon(self, *, count: bool) -> int:
        """Give up what is queued (counted as dropped if ``count``); return how many messages."""
        if self.state is CLOSED:
            return 0
        abandoned = len(self._items)
        self._items = _NO_ITEMS
        self._other_bytes = 0
        self._flow = 0
        self.state = CLOSED
        self._count_drops = count
        if count and abandoned:
            self._count(abandoned)
        self._wake_all()
        return abandoned

    def close(self) -> None:
        """The connection is gone: nothing more can be delivered, and nothing more is owed."""
        self.abandon(count=False)

    def unproduced(self, count: int) -> None:
        """A producer stopped with ``count`` messages it never queued: dropped if abandoned so."""
        if self._count_drops and count > 0:
            self._count(count)

    async def flushed(self) -> None:
        """Wait until everything queued was handed to the writer (or was abandoned)."""
        if not self._items or self.state is CLOSED:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._flush_waiters is None:
            self._flush_waiters = []
        self._flush_waiters.append(waiter)
        await waiter

    def _count(self, count: int) -> None:
        self.dropped += count
        self._owner.output_dropped(count)

    def _wake_flushed(self) -> None:
        waiters, self._flush_waiters = self._flush_waiters, None
        for waiter in waiters or ():
            _wake(waiter)

    def _wake_all(self) -> None:
        for waiter in self._flow_waiters or ():
            _wake(waiter)
        if not self._items or self.state is CLOSED:
            self._wake_flushed()

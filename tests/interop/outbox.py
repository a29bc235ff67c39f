"""One connection's output: a single writer task that numbers each message as it writes it.

- **seq**: stamped at write time by the only writer, so the order of seq numbers is the order of the
  frames on the wire, with no gap (the pre-``ready`` ``unauthorized`` error is the one message without).
- **backpressure**: uvicorn's ASGI ``send`` waits while the transport's write buffer is above its
  high-water mark; a burst item is made only when the writer is ready for it, so a burst pauses while
  the client does not read and resumes as it reads. Replies and events go before the next burst item.
- **slow readers**: a write that makes no progress for ``stall_timeout``, or more than
  ``max_pending`` characters of other output queued unread, close the connection with ``1013``; the
  messages abandoned then (the one in flight, those queued, the rest of every burst) are counted as
  dropped. Nothing is ever dropped otherwise.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final

from tests.interop.metrics import Metrics
from tests.interop.rules import encode

Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_PENDING: Final = 4 << 20
STALL_TIMEOUT_S: Final = 10.0
TOO_SLOW: Final = 1013

_SEQUENCED, _PLAIN, _CLOSE = 0, 1, 2


def gone(exc: BaseException) -> bool:
    """Whether ``send`` failed because the connection is already closed, not because of a bug.

    uvicorn raises ``ClientDisconnected`` (an OSError) once the peer is gone, and a RuntimeError
    naming ``websocket.close`` once it closed the connection itself (e.g. 1009 for a message over
    ``max_size``)."""
    return isinstance(exc, OSError) or (isinstance(exc, RuntimeError) and "websocket.close" in str(exc))


@dataclass(slots=True)
class _Burst:
    id: int | None
    count: int
    size: int
    next_i: int = 0
    head: str = ""
    tail: str = ""

    def __post_init__(self) -> None:
        self.head = f',"type":"burst","id":{encode(self.id)},"i":'
        self.tail = ',"data":"' + "x" * self.size + '"}'

    def item(self, seq: int) -> str:
        i = self.next_i
        self.next_i += 1
        return f'{{"seq":{seq}{self.head}{i}{self.tail}'

    @property
    def left(self) -> int:
        return self.count - self.next_i


class Outbox:
    """The output of one connection; :meth:`start` its writer once the WebSocket is accepted."""

    def __init__(self, send: Send, metrics: Metrics, on_error: Callable[[BaseException], None], *,
                 stall_timeout: float | None = STALL_TIMEOUT_S, max_pending: int = MAX_PENDING) -> None:
        self._send = send
        self._on_error = on_error
        self._metrics = metrics
        self._stall_timeout = stall_timeout
        self._max_pending = max_pending
        self._queue: deque[tuple[int, Any]] = deque()
        self._bursts: deque[_Burst] = deque()
        self._pending = 0
        self._seq = 0
        self._wake = asyncio.Event()
        self._in_flight = False
        self._task: asyncio.Task[None] | None = None
        self.closing = False
        """A close is queued or under way: later output is ignored, as are the client's later ops."""
        self.close_sent: int | None = None
        """The close code this server sent, once sent."""

    def start(self) -> None:
        self._task = self._spawn(self._write_all())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._on_error(task.exception())  # type: ignore[arg-type]

    def stop(self) -> None:
        """The connection is over: stop writing (nothing is counted as dropped)."""
        self.closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # ------------------------------------------------------------------------------ queueing

    def put(self, message: dict[str, Any], *, sequenced: bool = True) -> None:
        """Queue a reply or an event (``sequenced=False``: the pre-``ready`` error, without seq)."""
        if self.closing:
            return
        text = encode(message)
        self._queue.append((_SEQUENCED if sequenced else _PLAIN, text))
        self._pending += len(text)
        if self._pending > self._max_pending:
            self.interrupt(TOO_SLOW, "reader too slow: output piled up", count_abandoned=True)
        else:
            self._wake.set()

    def put_burst(self, msg_id: int | None, count: int, size: int) -> None:
        if not self.closing:
            self._bursts.append(_Burst(msg_id, count, size))
            self._wake.set()

    def close(self, code: int, reason: str = "") -> None:
        """Close once the output queued so far is written (the ``close`` op, 1008, 1003)."""
        if not self.closing:
            self.closing = True
            self._queue.append((_CLOSE, (code, reason)))
            self._wake.set()

    def interrupt(self, code: int, reason: str, *, count_abandoned: bool) -> None:
        """Close now, abandoning queued output (1013 for a slow reader, 1001 at shutdown)."""
        if self.close_sent is not None:
            return
        if self._task is None:  # not accepted yet: the writer starts with the close
            self.close(code, reason)
            return
        self.closing = True
        abandoned = self._abandon()
        if count_abandoned:
            self._metrics.dropped.inc(abandoned)
        self._task.cancel()  # a writer blocked in send has written nothing of that message
        self._task = self._spawn(self._close_now(code, reason))

    def _abandon(self) -> int:
        """Forget all unwritten output; return how many messages that was."""
        count = sum(1 for kind, _ in self._queue if kind != _CLOSE) + sum(b.left for b in self._bursts)
        count += 1 if self._in_flight else 0
        self._queue.clear()
        self._bursts.clear()
        self._pending = 0
        return count

    # ------------------------------------------------------------------------------ writing

    async def _write_all(self) -> None:
        queue, bursts = self._queue, self._bursts
        while True:
            if queue:
                kind, payload = queue.popleft()
                if kind == _CLOSE:
                    await self._close_now(*payload)
                    return
                self._pending -= len(payload)
                if kind == _SEQUENCED:
                    payload = f'{{"seq":{self._seq},{payload[1:]}'
                    self._seq += 1
                text = payload
            elif bursts:
                text = bursts[0].item(self._seq)
                self._seq += 1
                if not bursts[0].left:
                    bursts.popleft()
            else:
                self._wake.clear()
                await self._wake.wait()
                continue
            if not await self._write(text):
                return

    async def _write(self, text: str) -> bool:
        """Write one message; False when the connection is over (gone, or closed as too slow)."""
        self._in_flight = True
        try:
            async with asyncio.timeout(self._stall_timeout):
                await self._send({"type": "websocket.send", "text": text})
        except TimeoutError:
            self._metrics.dropped.inc(self._abandon())
            self.closing = True
            self._in_flight = False
            await self._close_now(TOO_SLOW, "reader too slow: no progress")
            return False
        except Exception as exc:
            if gone(exc):
                return False
            raise
        self._in_flight = False
        self._metrics.sent.inc()
        return True

    async def _close_now(self, code: int, reason: str) -> None:
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception as exc:
            if gone(exc):
                return
            raise
        self.close_sent = code

"""The broker's tasks stop when cancelled even where redis-py turns the cancellation into an error of
its own (no sockets: a pipeline that raises redis' ConnectionError when cancelled mid-execute, as a
disconnect does). Without :func:`target_app.broker.raise_if_cancelled` the writer would report a
failed write and wait for the next one, and the worker would overrun its shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from target_app.broker import RedisJobBus, _Write
from target_app.config import Config
from target_app.context import WorkerContext

pytestmark = pytest.mark.timeout(30)


class _Pipe:
    """A MULTI/EXEC that waits on its "socket" until cancelled, then fails as a disconnect does."""

    def __init__(self, entered: asyncio.Event) -> None:
        self._entered = entered

    def hset(self, *_: Any, **__: Any) -> None: ...
    def expire(self, *_: Any) -> None: ...
    def publish(self, *_: Any) -> None: ...

    async def execute(self) -> None:
        self._entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RedisConnectionError("Connection closed by server.") from None


class _Client:
    def __init__(self, entered: asyncio.Event) -> None:
        self.entered = entered

    def pipeline(self, transaction: bool) -> _Pipe:
        return _Pipe(self.entered)


def test_the_writer_cancelled_inside_a_write_ends_cancelled() -> None:
    """First the writer is shown waiting inside execute(); then one cancel ends it, cancelled."""

    async def body() -> None:
        entered = asyncio.Event()
        bus = RedisJobBus(_Client(entered), None, WorkerContext.for_worker(Config(), 0))  # type: ignore[arg-type]
        writer = asyncio.create_task(bus._write_loop())
        bus._queue(_Write("w0-j1", {"state": "running"}, 60))
        await asyncio.wait_for(entered.wait(), 5)
        assert not writer.done()  # blocked in the write
        writer.cancel()
        await asyncio.wait([writer], timeout=5)
        # judged here: leaving asyncio.run would cancel a still-running writer a second time
        assert writer.done() and writer.cancelled(), writer.get_stack(limit=1)

    asyncio.run(body())

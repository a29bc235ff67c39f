"""One worker's event loop: listen on the shared port, serve, shut down on SIGTERM / SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from websockets.asyncio.server import serve

from target_app.app import App
from target_app.config import BACKLOG, CLOSE_TIMEOUT_S, Config
from target_app.context import WorkerContext
from target_app.sockets import listening_socket
from target_app.wiring import Wiring

log = logging.getLogger(__name__)


async def run_worker(config: Config, index: int, wiring: Wiring, ready_fd: int | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    context = WorkerContext.for_worker(config, index)
    bus = None
    if config.broker:
        from target_app.broker import BrokerUnavailable, open_bus  # only with a broker

        try:
            bus = await open_bus(config.broker, context, wiring.bus_class)
        except BrokerUnavailable as exc:
            log.error("worker %d: cannot reach the broker: %s", index, exc)
            return 1
    app = App(context, wiring, bus)
    server = await serve(
        app.handler,
        sock=listening_socket(config.host, config.port),
        backlog=BACKLOG,
        process_request=app.process_request,
        compression=None,
        ping_interval=None,  # an unresponsive reader must become a 1013, never a 1011
        max_size=config.max_size,
        close_timeout=CLOSE_TIMEOUT_S,
    )
    app.start_background()
    log.info("worker %d accepting on %s:%d (faults: %s; jobs: %s)", index, config.host, config.port,
             ", ".join(config.faults) or "none", "shared through the broker" if bus else "this worker's")
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    await stop.wait()
    log.info("worker %d shutting down (%d connections open)", index, len(app.connections))
    late = loop.call_later(config.shutdown_timeout, _log_still_running, index, asyncio.current_task())
    try:
        await app.shutdown(server, config.shutdown_timeout)
        if bus is not None:
            await bus.close()
    finally:
        late.cancel()
    log.info("worker %d stopped", index)
    return 0


def _log_still_running(index: int, main: asyncio.Task[int] | None) -> None:
    """Past the shutdown timeout (the supervisor kills the worker a second later): say which tasks
    are still running and where each waits, so that a worker that does not stop says why."""
    for task in asyncio.all_tasks():
        if task is main or task.done():
            continue
        frames = task.get_stack(limit=1)
        where = f"{frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else "?"
        log.error("worker %d still running past the shutdown timeout: %s at %s", index, task.get_name(), where)

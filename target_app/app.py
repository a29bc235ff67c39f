"""One worker process's state: settings, metrics, ids, jobs, open connections, background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from websockets.asyncio.server import Server, ServerConnection
from websockets.http11 import Request, Response

from loadgen.protocol import closecodes
from target_app import routes
from target_app.config import Config
from target_app.connection import Connection
from target_app.ids import Ids
from target_app.metrics import Metrics
from target_app.tasks import TaskSet
from target_app.wiring import Wiring

log = logging.getLogger(__name__)

SHUTDOWN_MARGIN_S: Final = 0.5
"""Kept out of the shutdown timeout for dropping stragglers and exiting."""


class App:
    def __init__(self, config: Config, index: int, wiring: Wiring, metrics: Metrics) -> None:
        self.config = config
        self.index = index
        self.metrics = metrics
        self.ids = Ids(index)
        self.tasks = TaskSet(self.report_failure)
        self.outbox_class = wiring.outbox_class
        self.connection_class = wiring.connection_class()
        self.jobs = wiring.jobs_class()(self)
        self._sweeper = wiring.sweeper
        self.connections: set[Connection] = set()
        self.shutting_down = False

    def report_failure(self, exc: BaseException, what: str) -> None:
        """An unexpected exception: counted (the scenarios watch this counter) and logged."""
        self.metrics.unhandled_errors.inc()
        log.error("unhandled error in %s", what, exc_info=exc)

    def start_background(self) -> None:
        self.tasks.spawn(self._sweeper(self.jobs), name="job sweeper")

    def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        try:
            return routes.process_request(self, ws, request)
        except Exception as exc:
            self.report_failure(exc, f"process_request {request.path}")
            raise  # websockets answers HTTP 500


    async def handler(self, ws: ServerConnection) -> None:
        conn = self.connection_class(self, ws)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)

    async def shutdown(self, server: Server, timeout: float) -> None:
        """Stop accepting, close every connection with 1001, cancel background tasks.

        Bounded by ``timeout``: connections that have not closed by then are dropped. Only a
        background task that ignores cancellation can keep the worker here (the stuck-shutdown
        fault); the supervisor's escalation is the backstop for that.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout - min(SHUTDOWN_MARGIN_S, timeout / 5))
        self.shutting_down = True
        server.close(close_connections=False)  # stop accepting; handshakes in flight get a 503
        for conn in tuple(self.connections):
            conn.request_close(closecodes.GOING_AWAY, "server shutting down", deadline=deadline)
        background = self.tasks.cancel_all()
        try:
            async with asyncio.timeout_at(deadline):
                await server.wait_closed()
        except TimeoutError:
            log.warning("dropping %d connections still open at the shutdown deadline",
                        len(self.connections))
            for conn in tuple(self.connections):
                conn.abort()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_MARGIN_S / 2):
                    await server.wait_closed()
        if background:
            await asyncio.wait(background)

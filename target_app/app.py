"""One worker process's composition root: its job service, its open connections, their shutdown.

:class:`App` builds the parts from the worker's :class:`~target_app.context.WorkerContext` and the
:class:`~target_app.wiring.Wiring` (the correct parts, or a fault's), hands each part what it needs,
and is what websockets calls: :meth:`App.process_request` and :meth:`App.handler`. No part holds
the app or reaches back into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from websockets.asyncio.server import Server, ServerConnection
from websockets.http11 import Request, Response

from loadgen.protocol import closecodes
from target_app import routes
from target_app.connection import Connection
from target_app.context import WorkerContext
from target_app.jobs import JobBus
from target_app.wiring import Wiring

log = logging.getLogger(__name__)

SHUTDOWN_MARGIN_S: Final = 0.5
"""Kept out of the shutdown timeout for dropping stragglers and exiting."""


class App:
    def __init__(self, context: WorkerContext, wiring: Wiring, bus: JobBus | None = None) -> None:
        self.context = context
        self.jobs = wiring.jobs_class(context)
        if bus is not None:
            self.jobs.share(bus)  # jobs across workers (--broker)
        self.connections: set[Connection] = set()
        self._wiring = wiring

    def start_background(self) -> None:
        self.context.tasks.spawn(self._wiring.sweeper(self.jobs), name="job sweeper")

    def process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        try:
            return routes.process_request(
                ws, request, secret=self.context.config.secret,
                count_auth_failure=self.context.metrics.auth_failures.inc,
            )
        except Exception as exc:
            self.context.report_failure(exc, f"process_request {request.path}")
            raise  # websockets answers HTTP 500

    async def handler(self, ws: ServerConnection) -> None:
        conn = self._wiring.connection_class(self.context, self.jobs, self._wiring.outbox_class, ws)
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
        self.context.begin_shutdown()
        server.close(close_connections=False)  # stop accepting; handshakes in flight get a 503
        for conn in tuple(self.connections):
            conn.request_close(closecodes.GOING_AWAY, "server shutting down", deadline=deadline)
        background = self.context.tasks.cancel_all()
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

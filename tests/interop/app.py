"""The Starlette app of the interop server: ``/ws``, ``/healthz``, ``/metrics``, 404 elsewhere.

:func:`close_all` is the first half of a graceful shutdown: it is called by the launcher before
uvicorn's own shutdown, which would close WebSockets with 1012 where PROTOCOL.md asks for 1001.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from tests.interop import connection
from tests.interop.connection import Settings, Shared

GOING_AWAY = 1001


class _WebSocketEndpoint:
    """``/ws`` as a plain ASGI app (an object, so Starlette passes it the raw ASGI calls)."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await connection.serve(self.shared, scope, receive, send)


def create_app(settings: Settings) -> Starlette:
    shared = Shared(settings)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def metrics(request: Request) -> Response:
        return Response(shared.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app = Starlette(routes=[
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        WebSocketRoute("/ws", _WebSocketEndpoint(shared)),
    ])
    app.state.shared = shared
    return app


def close_all(shared: Shared) -> None:
    """Refuse new WebSockets, stop every job, and close every open connection with 1001."""
    shared.shutting_down = True
    shared.jobs.cancel_all()
    for outbox in list(shared.live):
        outbox.interrupt(GOING_AWAY, "server shutting down", count_abandoned=False)

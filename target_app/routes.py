"""Everything that happens before the WebSocket exists: ``process_request``.

``/healthz`` and ``/metrics`` are answered here; other paths than ``/ws`` get 404. On ``/ws`` a token
in the handshake (``Authorization: Bearer …`` or ``?token=…``) is verified now: a bad one gets HTTP
401 and no WebSocket; a good one's ``sub`` is kept on the connection (``ws.username``, as websockets'
own basic auth does). No token: the connection authenticates in band (see :mod:`.connection`).

It takes only what it needs - the secret and a way to count a refused token - so it depends on no
other part of the worker.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from loadgen.protocol import tokens, wire
from target_app import metrics


def handshake_token(headers: Headers, query: str) -> str | None:
    """The token a handshake carries, or None. An Authorization header that is not ``Bearer``
    counts as a (bad) token: the client meant to authenticate, so it gets 401, not in-band auth."""
    authorization = headers.get("Authorization")
    if authorization is not None:
        scheme, _, credentials = authorization.partition(" ")
        return credentials.strip() if scheme.lower() == "bearer" else ""
    values = parse_qs(query, keep_blank_values=True).get("token")
    return values[0] if values else None


def process_request(ws: ServerConnection, request: Request, *, secret: str,
                    count_auth_failure: Callable[[], None]) -> Response | None:
    """websockets' ``process_request`` hook: an HTTP answer, or None to go on with the handshake."""
    url = urlsplit(request.path)
    if url.path == "/healthz":
        return ws.respond(http.HTTPStatus.OK, "ok")
    if url.path == "/metrics":
        response = ws.respond(http.HTTPStatus.OK, metrics.render().decode())
        response.headers["Content-Type"] = metrics.CONTENT_TYPE_LATEST
        return response
    if url.path != wire.WS_PATH:
        return ws.respond(http.HTTPStatus.NOT_FOUND, f"no such path; the WebSocket is at {wire.WS_PATH}\n")
    token = handshake_token(request.headers, url.query)
    if token is None:
        return None
    try:
        ws.username = tokens.verify(secret, token)
    except tokens.TokenError as exc:
        count_auth_failure()
        return ws.respond(http.HTTPStatus.UNAUTHORIZED, f"{exc}\n")
    return None

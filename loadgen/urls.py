"""A target's URLs, all derived from the one base URL a user gives (``--host``).

A base URL is ``ws://HOST:PORT`` or ``wss://HOST:PORT``; Locust's ``http(s)://`` form is accepted
too, since Locust's own ``--host`` field expects it. Every place that turns a base URL into the
WebSocket URL (``/ws``) or a plain-HTTP URL (``/healthz``, ``/metrics``) goes through here, so the
scheme mapping and its error message exist once.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from loadgen.protocol.wire import WS_PATH

__all__ = ["base_url_problem", "http_url", "ws_url"]

_TO_WS: Final = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
_TO_HTTP: Final = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def base_url_problem(host: str) -> str | None:
    """What is wrong with ``host`` as a base URL, or None when it is one."""
    parts = urlsplit(host)
    if parts.scheme not in _TO_WS or not parts.netloc:
        return f"not a base URL: {host!r}; expected ws://HOST:PORT or wss://HOST:PORT (http(s):// also accepted)"
    return None


def _split(host: str) -> SplitResult:
    problem = base_url_problem(host)
    if problem:
        raise ValueError(problem)
    return urlsplit(host)


def ws_url(host: str, *, token: str | None = None, path: str = WS_PATH) -> str:
    """The WebSocket URL of ``path`` on a target; ``token`` goes into ``?token=`` (PROTOCOL.md)."""
    parts = _split(host)
    query = f"token={quote(token, safe='')}" if token is not None else ""
    return urlunsplit((_TO_WS[parts.scheme], parts.netloc, parts.path.rstrip("/") + path, query, ""))


def http_url(host: str, path: str) -> str:
    """The plain-HTTP URL of ``path`` on a target (``ws://`` -> ``http://``, ``wss://`` -> ``https://``)."""
    parts = _split(host)
    return urlunsplit((_TO_HTTP[parts.scheme], parts.netloc, parts.path.rstrip("/") + path, "", ""))

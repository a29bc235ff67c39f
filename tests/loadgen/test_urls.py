"""loadgen.urls: one scheme mapping for the WebSocket and the plain-HTTP URLs of a target."""

from __future__ import annotations

import pytest

from loadgen.urls import base_url_problem, http_url, ws_url


@pytest.mark.parametrize(
    ("host", "ws", "healthz"),
    [
        ("ws://127.0.0.1:9000", "ws://127.0.0.1:9000/ws", "http://127.0.0.1:9000/healthz"),
        ("wss://h:443/", "wss://h:443/ws", "https://h:443/healthz"),
        ("http://h:1", "ws://h:1/ws", "http://h:1/healthz"),
        ("https://h:1/base", "wss://h:1/base/ws", "https://h:1/base/healthz"),
    ],
)
def test_both_urls_of_a_base_url(host: str, ws: str, healthz: str) -> None:
    """Each accepted scheme maps to its ws and http twin; a base path is kept, a trailing / dropped."""
    assert base_url_problem(host) is None
    assert ws_url(host) == ws
    assert http_url(host, "/healthz") == healthz


@pytest.mark.parametrize("host", ["ftp://h", "127.0.0.1:8765", "", "ws://"])
def test_not_a_base_url(host: str) -> None:
    """Anything else is named by base_url_problem, and both builders refuse it with that message."""
    problem = base_url_problem(host)
    assert problem is not None and "ws://HOST:PORT" in problem
    for build in (lambda: ws_url(host), lambda: http_url(host, "/metrics")):
        with pytest.raises(ValueError, match="not a base URL"):
            build()

"""Plain HTTP on the WebSocket port: /healthz, /metrics, 404 - and the listening line."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from loadgen.protocol import metrics as names
from tests.support.target import Target
from tests.target.client import WAIT_S

pytestmark = pytest.mark.e2e


def get(target: Target, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(target.http_url + path, timeout=WAIT_S) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def test_listening_line_names_the_port_workers_and_supervisor(target: Target) -> None:
    line = target.listening
    assert line["event"] == "listening" and line["host"] == "127.0.0.1"
    assert line["port"] == target.port > 0
    assert line["workers"] in (1, 2)
    assert line["pid"] == target.proc.pid


def test_healthz_is_ok(target: Target) -> None:
    assert get(target, "/healthz")[0::2] == (200, "ok")


def test_metrics_expose_every_protocol_counter(target: Target) -> None:
    status, content_type, body = get(target, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    for name in (names.CONNECTIONS_OPEN, names.CONNECTIONS_TOTAL, names.AUTH_FAILURES,
                 names.MESSAGES_RECEIVED, names.MESSAGES_SENT, names.JOBS_STARTED,
                 names.DROPPED_MESSAGES, names.UNHANDLED_ERRORS):
        assert f"\n{name} " in body, name
    assert f"# TYPE {names.CONNECTIONS_OPEN} gauge" in body


@pytest.mark.parametrize("path", ["/", "/nope", "/wsx", "/ws/more", "/healthz/x", "/metricsz"])
def test_other_paths_are_404(target: Target, path: str) -> None:
    assert get(target, path)[0] == 404


def test_plain_get_of_the_websocket_path_is_refused_without_a_crash(target: Target) -> None:
    """/ws without the upgrade headers is a bad handshake (4xx), not a server error."""
    status = get(target, "/ws")[0]
    assert 400 <= status < 500

"""The benchmark's echo server in its authenticating mode (the floor the target app is set
against) and its count command (how a peer's work is counted)."""

from __future__ import annotations

import orjson
import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from loadgen.bench import processes
from loadgen.protocol import closecodes
from loadgen.protocol.tokens import mint

SECRET = "bench-test-secret"
TIMEOUT_S = 10.0


def _open(url: str, token: str | None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return connect(url, additional_headers=headers, proxy=None, open_timeout=TIMEOUT_S, close_timeout=TIMEOUT_S)


@pytest.mark.timeout(60)
def test_authenticated_connection_gets_ready_then_echoes_and_is_counted() -> None:
    """A good token: ``ready`` for its user at seq 0 first, then every message echoed; the counts
    say one handshake and the messages echoed."""
    with processes.server("echo", None, secret=SECRET) as srv:
        assert srv.count() == (0, 0)
        with _open(srv.url, mint(SECRET, "bench-7")) as ws:
            ready = orjson.loads(ws.recv(TIMEOUT_S))
            assert (ready["type"], ready["user"], ready["seq"]) == ("ready", "bench-7", 0)
            for n in range(3):
                ws.send(f"m{n}")
                assert ws.recv(TIMEOUT_S) == f"m{n}"
        assert srv.count() == (3, 1)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("token", [None, "not-a-jwt", mint("another-secret", "bench-1")],
                         ids=["no-token", "not-a-jwt", "other-secret"])  # ids, not the minted token:
# it carries the time, and pytest-xdist workers must collect the same test ids
def test_a_missing_or_bad_token_is_closed_with_policy(token: str | None) -> None:
    with processes.server("echo", None, secret=SECRET) as srv, _open(srv.url, token) as ws:
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(TIMEOUT_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == closecodes.POLICY


@pytest.mark.timeout(60)
def test_without_a_secret_it_echoes_from_the_first_message() -> None:
    with processes.server("echo", None) as srv, _open(srv.url, None) as ws:
        ws.send("hello")
        assert ws.recv(TIMEOUT_S) == "hello"

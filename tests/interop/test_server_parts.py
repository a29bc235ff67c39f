"""The interop server's parts on their own, with no sockets: job retention, token lookup, uvicorn's settings.

What the end-to-end checks cannot reach in a short test: a halted job stays subscribable for at
least 60 s (a fake clock), and uvicorn is configured so a slow reader never meets a keepalive 1011.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.interop.jobs import JobBoard
from tests.interop.rules import BAD_REQUEST, Refusal, handshake_tokens, parse
from tests.interop.serve import uvicorn_config


class _Recorder:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def put(self, message: dict[str, Any]) -> None:
        self.got.append(message)


def _unexpected(exc: BaseException) -> None:
    raise AssertionError(f"a job task failed: {exc!r}")


def test_a_halted_job_stays_subscribable_for_60_s_and_is_forgotten_later() -> None:
    """A fast halt is still subscribable (halted snapshot) 60 s later, and gone after the retention."""
    now = [1000.0]
    board = JobBoard(_unexpected, clock=lambda: now[0])
    job = board.start("alice", 0, 0)
    now[0] += 60.0
    board.start("alice", 0, 0)  # starting a job is when old ones are forgotten
    got = board.subscribe(job.id, "alice", _Recorder())
    assert not isinstance(got, str) and (got.state, got.step) == ("halted", 0)
    assert board.subscribe(job.id, "bob", _Recorder()) == "forbidden"
    now[0] += 120.0
    board.start("alice", 0, 0)
    assert board.subscribe(job.id, "alice", _Recorder()) == "not_found"


def test_a_subscriber_of_a_running_job_gets_every_change_then_nothing() -> None:
    """Subscribed at step 0: running 1 … steps-1, then halted at steps; no event after it."""
    async def scenario() -> list[tuple[str, int]]:
        board = JobBoard(_unexpected)
        recorder = _Recorder()
        job = board.start("alice", 3, 1)
        board.subscribe(job.id, "alice", recorder)
        async with asyncio.timeout(5):
            while job.state != "halted":
                await asyncio.sleep(0.005)
        assert not job.subscribers
        return [(m["state"], m["step"]) for m in recorder.got]

    assert asyncio.run(scenario()) == [("running", 1), ("running", 2), ("halted", 3)]


def test_handshake_tokens_treat_empty_and_other_schemes_as_invalid_tokens() -> None:
    """No token at all is [] (in-band auth follows); an empty one or another scheme is an empty token."""
    assert handshake_tokens([], b"") == []
    assert handshake_tokens([(b"authorization", b"Bearer abc")], b"") == ["abc"]
    assert handshake_tokens([(b"Authorization", b"bearer abc")], b"") == ["abc"]
    assert handshake_tokens([(b"authorization", b"Basic YTpi")], b"") == [""]
    assert handshake_tokens([(b"authorization", b"Bearer")], b"") == [""]
    assert handshake_tokens([], b"token=") == [""]
    assert handshake_tokens([], b"a=1&token=xyz") == ["xyz"]


def test_json_nested_deeper_than_the_parser_reads_is_bad_request_not_a_crash() -> None:
    """Deep nesting is answered with bad_request (the connection stays), never an exception (1011)."""
    depth = 100_000
    got = parse('{"op":"echo","id":1,"data":' + "[" * depth + "]" * depth + "}")
    assert isinstance(got, Refusal) and got.code == BAD_REQUEST


def test_uvicorn_is_set_up_without_keepalive_pings_and_with_a_1_mib_max_size() -> None:
    """No keepalive ping (a slow reader never becomes 1011), max_size 1 MiB (1009 above), no deflate."""
    for ws in ("wsproto", "websockets-sansio"):
        config = uvicorn_config(object(), ws)
        assert (config.ws, config.ws_ping_interval, config.ws_ping_timeout) == (ws, None, None)
        assert (config.ws_max_size, config.ws_per_message_deflate) == (1 << 20, False)

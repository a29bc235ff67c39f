"""Bad input (PROTOCOL.md, "Errors and bad input"): an error reply and the connection stays open,
or the close code of the table; never 1011, and never an unhandled error on the server."""

from __future__ import annotations

from typing import Any

import pytest

from loadgen.protocol import metrics as names
from tests.support.target import Target
from tests.target.client import Client, ametric, run

pytestmark = pytest.mark.e2e

MAX_SIZE = 4096
TARGET_ARGS = ("--max-size", str(MAX_SIZE))

CASES: list[tuple[str, str, Any]] = [
    # text sent, error code, id echoed
    ("{", "bad_json", None),
    ("not json at all", "bad_json", None),
    ("", "bad_json", None),
    ("[1, 2]", "bad_request", None),
    ("42", "bad_request", None),
    ('"op"', "bad_request", None),
    ("null", "bad_request", None),
    ('{"id": 1}', "bad_request", 1),
    ('{"op": 5, "id": 2}', "bad_request", 2),
    ('{"op": "echo", "id": "3"}', "bad_request", None),
    ('{"op": "echo", "id": true}', "bad_request", None),
    ('{"op": "echo", "id": 4}', "bad_request", 4),
    ('{"op": "start", "id": 5, "steps": "1", "step_ms": 1}', "bad_request", 5),
    ('{"op": "start", "id": 6, "steps": -1, "step_ms": 1}', "bad_request", 6),
    ('{"op": "start", "id": 7, "steps": 1001, "step_ms": 1}', "bad_request", 7),
    ('{"op": "start", "id": 8, "steps": 1, "step_ms": 10001}', "bad_request", 8),
    ('{"op": "start", "id": 9, "steps": 1.5, "step_ms": 1}', "bad_request", 9),
    ('{"op": "start", "id": 10, "step_ms": 1}', "bad_request", 10),
    ('{"op": "subscribe", "id": 11, "job": 1}', "bad_request", 11),
    ('{"op": "subscribe", "id": 12, "job": ""}', "bad_request", 12),
    ('{"op": "burst", "id": 13, "count": 0, "size": 1}', "bad_request", 13),
    ('{"op": "burst", "id": 14, "count": 10001, "size": 1}', "bad_request", 14),
    ('{"op": "burst", "id": 15, "count": 1, "size": 65537}', "bad_request", 15),
    ('{"op": "burst", "id": 16, "count": true, "size": 1}', "bad_request", 16),
    ('{"op": "auth", "id": 17}', "bad_request", 17),
    ('{"op": "teleport", "id": 18}', "unknown_op", 18),
    ('{"op": "", "id": 19}', "unknown_op", 19),
]


def test_each_bad_input_gets_its_error_and_the_connection_stays_open(target: Target) -> None:
    async def body() -> None:
        errors_before = await ametric(target, names.UNHANDLED_ERRORS)
        client = await Client.ready(target)
        for text, code, msg_id in CASES:
            reply = await client.request_raw(text)
            assert (reply["type"], reply["code"], reply["id"]) == ("error", code, msg_id), text
            assert isinstance(reply["message"], str) and reply["message"]
        assert (await client.request({"op": "echo", "id": 99, "data": "still open"}))["id"] == 99
        await client.close()
        assert await ametric(target, names.UNHANDLED_ERRORS) == errors_before

    run(body())


def test_a_binary_frame_closes_with_1003(target: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        await client.send({"op": "echo", "id": 1, "data": 0})
        await client.send_raw(b'{"op": "echo", "id": 2, "data": 0}')
        assert (await client.recv())["id"] == 1
        assert await client.closed() == 1003

    run(body())


def test_a_message_over_max_size_closes_with_1009(target: Target) -> None:
    async def body() -> None:
        client = await Client.ready(target)
        fits = {"op": "echo", "id": 1, "data": "x" * (MAX_SIZE - 100)}
        assert (await client.request(fits))["id"] == 1
        await client.send({"op": "echo", "id": 2, "data": "x" * MAX_SIZE})
        assert await client.closed() == 1009

    run(body())


def test_bad_input_never_stops_other_connections(target: Target) -> None:
    async def body() -> None:
        bystander = await Client.ready(target, "bystander")
        for raw in (b"\x01", "x" * (MAX_SIZE + 1)):
            rude = await Client.ready(target, "rude")
            await rude.send_raw(raw)
            assert await rude.closed() in (1003, 1009)
        assert (await bystander.request({"op": "echo", "id": 1, "data": 0}))["id"] == 1
        await bystander.close()

    run(body())


@pytest.mark.parametrize("depth", [200, 400, 1000])
def test_deeply_nested_echo_data_is_answered_never_a_crash(target: Target, depth: int) -> None:
    """JSON nested deeper than a reply can be written is bad_request, not a 1011."""
    async def body() -> None:
        errors_before = await ametric(target, names.UNHANDLED_ERRORS)
        client = await Client.ready(target)
        nested = "[" * depth + "]" * depth
        reply = await client.request_raw('{"op": "echo", "id": 1, "data": ' + nested + "}")
        assert reply["id"] == 1
        assert reply["type"] == ("echo" if depth < 250 else "error")
        assert (await client.request({"op": "echo", "id": 2, "data": 0}))["id"] == 2
        await client.close()
        assert await ametric(target, names.UNHANDLED_ERRORS) == errors_before

    run(body())

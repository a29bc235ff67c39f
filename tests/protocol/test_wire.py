"""Client-op parsing and server-message checks of PROTOCOL.md, fed as text: no sockets."""

from __future__ import annotations

import pytest

from loadgen.protocol import wire
from loadgen.protocol.wire import Auth, BadInput, Burst, Close, Echo, Start, Subscribe


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"op":"echo","id":1,"data":{"a":[1,2]}}', Echo(1, {"a": [1, 2]})),
        ('{"op":"echo","data":null}', Echo(None, None)),
        ('{"op":"start","id":2,"steps":0,"step_ms":0}', Start(2, 0, 0)),
        ('{"op":"start","id":2,"steps":1000,"step_ms":10000}', Start(2, 1000, 10000)),
        ('{"op":"subscribe","id":3,"job":"j1"}', Subscribe(3, "j1")),
        ('{"op":"close","id":4,"code":4001,"reason":"bye"}', Close(4, 4001, "bye")),
        ('{"op":"close","id":4,"code":1000}', Close(4, 1000, "")),
        ('{"op":"burst","id":5,"count":1,"size":0}', Burst(5, 1, 0)),
        ('{"op":"burst","id":5,"count":10000,"size":65536}', Burst(5, 10000, 65536)),
    ],
)
def test_valid_ops_parse(text: str, expected: object) -> None:
    """Every op of the table parses to its dataclass, at the edges of its limits too."""
    assert wire.parse_client_message(text) == expected


@pytest.mark.parametrize(
    ("text", "code", "msg_id"),
    [
        ("not json", wire.BAD_JSON, None),
        ("{", wire.BAD_JSON, None),
        ("[1,2]", wire.BAD_REQUEST, None),
        ('"op"', wire.BAD_REQUEST, None),
        ('{"id":7}', wire.BAD_REQUEST, 7),
        ('{"op":5,"id":7}', wire.BAD_REQUEST, 7),
        ('{"op":"echo","id":"x","data":1}', wire.BAD_REQUEST, None),
        ('{"op":"echo","id":true,"data":1}', wire.BAD_REQUEST, None),
        ('{"op":"echo","id":7}', wire.BAD_REQUEST, 7),
        ('{"op":"nope","id":7}', wire.UNKNOWN_OP, 7),
        ('{"op":"start","id":7,"steps":1001,"step_ms":1}', wire.BAD_REQUEST, 7),
        ('{"op":"start","id":7,"steps":-1,"step_ms":1}', wire.BAD_REQUEST, 7),
        ('{"op":"start","id":7,"steps":1,"step_ms":10001}', wire.BAD_REQUEST, 7),
        ('{"op":"start","id":7,"steps":1.5,"step_ms":1}', wire.BAD_REQUEST, 7),
        ('{"op":"start","id":7,"steps":true,"step_ms":1}', wire.BAD_REQUEST, 7),
        ('{"op":"start","id":7,"step_ms":1}', wire.BAD_REQUEST, 7),
        ('{"op":"subscribe","id":7}', wire.BAD_REQUEST, 7),
        ('{"op":"subscribe","id":7,"job":""}', wire.BAD_REQUEST, 7),
        ('{"op":"close","id":7,"code":1001}', wire.BAD_REQUEST, 7),
        ('{"op":"close","id":7,"code":3999}', wire.BAD_REQUEST, 7),
        ('{"op":"close","id":7,"code":5000}', wire.BAD_REQUEST, 7),
        ('{"op":"close","id":7,"code":4000,"reason":7}', wire.BAD_REQUEST, 7),
        ('{"op":"close","id":7,"code":4000,"reason":"' + "x" * 124 + '"}', wire.BAD_REQUEST, 7),
        ('{"op":"burst","id":7,"count":0,"size":1}', wire.BAD_REQUEST, 7),
        ('{"op":"burst","id":7,"count":10001,"size":1}', wire.BAD_REQUEST, 7),
        ('{"op":"burst","id":7,"count":1,"size":65537}', wire.BAD_REQUEST, 7),
        ('{"op":"auth","id":7}', wire.BAD_REQUEST, 7),
    ],
)
def test_bad_input_gets_the_protocol_error_code(text: str, code: str, msg_id: int | None) -> None:
    """Each bad-input row of PROTOCOL.md maps to its error code, echoing the id when there is one."""
    result = wire.parse_client_message(text)
    assert isinstance(result, BadInput)
    assert (result.code, result.id) == (code, msg_id)
    assert result.message


def test_reason_limit_counts_bytes_not_characters() -> None:
    """A 123-byte limit on the close reason is in UTF-8 bytes: 62 two-byte characters are too many."""
    ok = wire.parse_client_message('{"op":"close","code":4000,"reason":"' + "é" * 61 + '"}')
    bad = wire.parse_client_message('{"op":"close","code":4000,"reason":"' + "é" * 62 + '"}')
    assert isinstance(ok, Close)
    assert isinstance(bad, BadInput)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "ready", "seq": 0, "user": "u", "session": "s"},
        {"type": "echo", "seq": 1, "id": None, "data": [1]},
        {"type": "started", "seq": 2, "id": 2, "job": "j"},
        {"type": "subscribed", "seq": 3, "id": 3, "job": "j", "state": "halted", "step": 0},
        {"type": "state", "seq": 4, "job": "j", "user": "u", "state": "running", "step": 1},
        {"type": "burst", "seq": 5, "id": 5, "i": 0, "data": ""},
        {"type": "error", "seq": 6, "id": None, "code": "bad_json", "message": "m"},
        {"type": "error", "code": "unauthorized"},
    ],
)
def test_well_formed_server_messages_pass(message: dict[str, object]) -> None:
    """Every server message shape of the protocol is accepted as it is documented."""
    assert wire.check_server_message(message) is None


@pytest.mark.parametrize(
    "message",
    [
        [],
        {"type": "nope", "seq": 1},
        {"type": "echo", "seq": 1, "id": 1},
        {"type": "echo", "seq": "1", "id": 1, "data": 1},
        {"type": "state", "seq": 4, "job": "j", "user": "u", "state": "paused", "step": 1},
        {"type": "subscribed", "seq": True, "id": 3, "job": "j", "state": "halted", "step": 0},
        {"type": "ready", "seq": 0, "session": "s"},
    ],
)
def test_malformed_server_messages_are_named(message: object) -> None:
    """A reply that breaks the documented shape is reported with what is wrong."""
    assert wire.check_server_message(message)


def test_builders_round_trip_through_the_checker() -> None:
    """Server messages built by the builders, once stamped with seq, satisfy the client checks."""
    built = [
        wire.ready("u", "s"),
        wire.echo_reply(1, {"x": 1}),
        wire.started(2, "j"),
        wire.subscribed(3, "j", "running", 0),
        wire.state_event("j", "u", "halted", 2),
        wire.burst_item(5, 0, "aa"),
        wire.error(wire.BAD_JSON, "m"),
    ]
    for seq, message in enumerate(built):
        message["seq"] = seq
        text = wire.encode(message)
        assert wire.check_server_message(__import__("orjson").loads(text)) is None


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (wire.auth_op("t"), Auth("t")),
        (wire.echo_op({"a": [1]}, 1), Echo(1, {"a": [1]})),
        (wire.echo_op(None), Echo(None, None)),
        (wire.start_op(3, 20, 2), Start(2, 3, 20)),
        (wire.subscribe_op("j1", 3), Subscribe(3, "j1")),
        (wire.close_op(4001, "bye", 4), Close(4, 4001, "bye")),
        (wire.close_op(1000), Close(None, 1000, "")),
        (wire.burst_op(10, 0, 5), Burst(5, 10, 0)),
    ],
)
def test_client_op_builders_parse_as_the_op_they_name(built: dict[str, object], expected: object) -> None:
    """An op built by the client-side builders is read by the server side as that op, fields and id."""
    assert wire.parse_client_message(wire.encode(built)) == expected


def test_an_op_built_without_an_id_carries_none() -> None:
    """msg_id None leaves ``id`` out, so a client that numbers its ops can add one."""
    assert "id" not in wire.echo_op(1) and "id" not in wire.close_op(4000)
    assert "reason" not in wire.close_op(4000)

"""Property tests of the protocol core's message validation (loadgen/protocol/wire.py), no sockets.

For arbitrary text, arbitrary JSON values and op-shaped objects with random fields, types and
out-of-range numbers, ``parse_client_message`` gives exactly the answer PROTOCOL.md's tables give
(the model in tests/fuzz/spec.py, written from the page), never an exception; every answer can be
sent as a well-formed server message; valid ops round-trip; each limit sits exactly at the page's
bound. Deterministic for CI: ``derandomize=True`` and no example database, so every run tries the
same examples; on a failure hypothesis prints the smallest input it found.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from loadgen.protocol import tokens, wire
from loadgen.protocol.wire import Auth, BadInput, Burst, Close, Echo, Start, Subscribe
from tests.fuzz import spec

CI = settings(max_examples=150, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])

OP_NAMES = {Auth: "auth", Echo: "echo", Start: "start", Subscribe: "subscribe", Close: "close",
            Burst: "burst"}
FIELDS = ("data", "steps", "step_ms", "job", "code", "reason", "count", "size", "token")

# ----------------------------------------------------------------------------- strategies

unicode_text = st.text(st.characters(codec="utf-8"), max_size=12)  # what a text frame can hold
with_surrogates = st.text(st.characters(categories=["Cs", "Ll", "Nd"]), max_size=6)
json_scalars = (st.none() | st.booleans() | st.integers(spec.INT_MIN, spec.INT_MAX)
                | st.floats(allow_nan=False, allow_infinity=False) | unicode_text)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(unicode_text, inner, max_size=4),
    max_leaves=16,
)
edge_ints = st.sampled_from(sorted({
    b + d for lo, hi in ((0, 1000), (0, 10_000), (1, 10_000), (0, 65_536), (4000, 4999))
    for b in (lo, hi) for d in (-1, 0, 1)
} | {1000, 999, 1001, 1005, 1006, 1011, 65_535, spec.INT_MIN - 1, spec.INT_MIN, spec.INT_MAX,
     spec.INT_MAX + 1, 2**63, -(2**100), 2**100}))
any_value = (json_values | st.integers() | edge_ints | st.floats(allow_nan=False)
             | with_surrogates | st.lists(edge_ints, max_size=2))
ids = st.none() | st.integers(spec.INT_MIN, spec.INT_MAX) | edge_ints | any_value
op_names = st.sampled_from([*spec.OPS, "", "ECHO", "teleport", "echo "]) | unicode_text
reasons = st.text(st.sampled_from("aé€😀"), max_size=125)


def field_value(name: str) -> st.SearchStrategy[Any]:
    """Values of one field: mostly plausible (near its limits), sometimes anything at all."""
    plausible = {
        "data": json_values, "job": unicode_text | st.just(""), "token": unicode_text,
        "code": edge_ints | st.integers(990, 5010), "reason": reasons | st.none(),
    }.get(name, edge_ints | st.integers(-5, 70_000))
    return plausible | any_value


@st.composite
def op_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON object shaped like an op: an op name (or a bad one), an id, some fields, extras."""
    msg: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        msg["op"] = draw(op_names) if draw(st.integers(0, 9)) else draw(any_value)
    if draw(st.booleans()):
        msg["id"] = draw(ids)
    for name in FIELDS:
        if draw(st.integers(0, 2)):
            msg[name] = draw(field_value(name))
    msg.update(draw(st.dictionaries(unicode_text, any_value, max_size=2)))
    return msg


def dumps(value: Any, ascii_only: bool) -> str:
    """JSON text as a client may write it (Python's json writes integers of any size)."""
    return json.dumps(value, ensure_ascii=ascii_only)


@st.composite
def valid_ops(draw: st.DrawFn) -> wire.Op:
    """Any op PROTOCOL.md accepts, at any value within its limits."""
    msg_id = draw(st.none() | st.integers(spec.INT_MIN, spec.INT_MAX))
    text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
    kind = draw(st.sampled_from(list(OP_NAMES)))
    if kind is Echo:
        return Echo(msg_id, draw(json_values))
    if kind is Start:
        return Start(msg_id, draw(st.integers(0, 1000)), draw(st.integers(0, 10_000)))
    if kind is Subscribe:
        return Subscribe(msg_id, draw(text))
    if kind is Close:
        reason = draw(reasons.filter(lambda r: len(r.encode()) <= 123))
        return Close(msg_id, draw(st.just(1000) | st.integers(4000, 4999)), reason)
    if kind is Burst:
        return Burst(msg_id, draw(st.integers(1, 10_000)), draw(st.integers(0, 65_536)))
    return Auth(draw(text), msg_id)


def op_text(op: wire.Op) -> str:
    fields = {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}
    return json.dumps({"op": OP_NAMES[type(op)], **fields})


# ----------------------------------------------------------------------------- helpers


def as_answer(result: wire.Op | BadInput) -> spec.Answer:
    """The core's result in the model's terms."""
    if isinstance(result, BadInput):
        return spec.error(result.code, result.id)
    fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "id"}
    return spec.Answer("op", result.id, OP_NAMES[type(result)], fields=fields)


def replies_to(result: wire.Op | BadInput) -> list[dict[str, Any]]:
    """The messages a server builds in answer (one of each kind an op can get)."""
    if isinstance(result, BadInput):
        return [wire.error(result.code, result.message, result.id)]
    match result:
        case Echo():
            return [wire.echo_reply(result.id, result.data)]
        case Start():
            return [wire.started(result.id, "w0-job")]
        case Subscribe():
            return [wire.subscribed(result.id, result.job, "running", 0),
                    wire.error(wire.NOT_FOUND, f"no job {result.job!r}", result.id)]
        case Burst():
            return [wire.burst_item(result.id, result.count - 1, "x" * result.size)]
        case Auth():
            return [wire.error(wire.BAD_REQUEST, "already authenticated", result.id)]
    return []  # close: the answer is the close frame


def check_answer(text: str | bytes) -> wire.Op | BadInput:
    """Parse; the result must be the model's answer, and every reply to it must be sendable."""
    result = wire.parse_client_message(text)
    assert isinstance(result, (BadInput, *OP_NAMES)), result
    if isinstance(result, BadInput):
        assert result.code in spec.ERROR_CODES and result.message, result
    expected = spec.answer(text)
    got = as_answer(result)
    deep_echo = (expected.op == "echo"
                 and spec.depth(expected.fields["data"]) > spec.ECHO_SURELY_WRITABLE_DEPTH)
    if deep_echo and got == spec.error(spec.BAD_REQUEST, expected.id):
        return result
    assert got == expected, f"core answered {got}, PROTOCOL.md says {expected}"
    for reply in replies_to(result):
        sent = orjson.loads(wire.encode({**reply, "seq": 1}))
        assert wire.check_server_message(sent) is None, sent
        assert sent.get("id") == reply["id"]
    return result


# ----------------------------------------------------------------------------- properties


@CI
@given(st.text(st.characters(codec=None)) | st.binary() | st.text(st.sampled_from('{}[]":,0e.-\\u tfn')))
@example("")
@example("\ufeff{}")
@example('{"op":"echo","data":1e400}')
@example('{"op":"echo","data":"\\ud800"}')
@example("[" * 1024 + "]" * 1024)
@example("[" * 1025 + "]" * 1025)
@example('{"op":"echo","data":' + "[" * 1023 + "]" * 1023 + "}")
def test_any_text_gets_exactly_one_documented_answer(text: str | bytes) -> None:
    """Any text (or bytes) is an op or bad_json / bad_request / unknown_op, as PROTOCOL.md says."""
    check_answer(text)


@CI
@given(json_values | any_value, st.booleans())
def test_any_json_value_gets_its_documented_answer(value: Any, ascii_only: bool) -> None:
    """Any JSON value, whatever its type: the page's answer (a non-object is bad_request)."""
    check_answer(dumps(value, ascii_only))


@CI
@given(op_objects(), st.booleans())
@example({"op": "echo", "id": 2**64, "data": 1}, True)
@example({"op": "close", "id": 1, "code": 4000, "reason": "é" * 62}, True)
@example({"op": "close", "id": 1, "code": 4000, "reason": "é" * 61 + "a"}, True)
@example({"op": "start", "id": -(2**63), "steps": 1000, "step_ms": 10_000}, True)
@example({"op": "burst", "id": spec.INT_MAX, "count": 10_000, "size": 65_536}, True)
def test_op_shaped_objects_get_their_documented_answer(msg: dict[str, Any], ascii_only: bool) -> None:
    """Objects with random ops, ids, fields, types and out-of-range numbers: the page's answer."""
    check_answer(dumps(msg, ascii_only))


LIMITED_FIELDS = [(op, name, low, high) for op, limits in spec.INT_LIMITS.items()
                  for name, (low, high) in limits.items()]


@pytest.mark.parametrize(("op", "name", "low", "high"), LIMITED_FIELDS,
                         ids=[f"{op}.{name}" for op, name, _, _ in LIMITED_FIELDS])
@CI
@given(data=st.data())
def test_each_integer_limit_is_exactly_the_pages(op: str, name: str, low: int, high: int,
                                                 data: st.DataObject) -> None:
    """An integer field is accepted exactly when low <= value <= high, PROTOCOL.md's bounds."""
    value = data.draw(st.sampled_from([low - 1, low, high, high + 1]) | st.integers(low - 50, high + 50)
                      | st.integers())
    others = {other: lo for other, (lo, _) in spec.INT_LIMITS[op].items() if other != name}
    result = check_answer(json.dumps({"op": op, "id": 1, name: value, **others}))
    assert isinstance(result, BadInput) != (low <= value <= high), (name, value, result)


@CI
@given(st.sampled_from([999, 1000, 1001, 3999, 4000, 4999, 5000]) | st.integers(-10, 70_000),
       reasons)
def test_close_code_and_reason_limits_are_exactly_the_pages(code: int, reason: str) -> None:
    """close: code 1000 or 4000-4999 and a reason of at most 123 UTF-8 bytes; all else bad_request."""
    result = check_answer(json.dumps({"op": "close", "id": 1, "code": code, "reason": reason}))
    accepted = (code == 1000 or 4000 <= code <= 4999) and len(reason.encode()) <= 123
    assert isinstance(result, Close) == accepted, (code, len(reason.encode()), result)


@CI
@given(valid_ops())
def test_valid_ops_round_trip(op: wire.Op) -> None:
    """Every op the page accepts, written as JSON, parses back to the same op."""
    assert check_answer(op_text(op)) == op


@CI
@given(st.none() | st.integers(spec.INT_MIN, spec.INT_MAX), json_values)
def test_echo_data_comes_back_as_sent(msg_id: int | None, data: Any) -> None:
    """An echo reply, as written on the wire, holds the very JSON value the client sent."""
    op = check_answer(json.dumps({"op": "echo", "id": msg_id, "data": data}))
    assert isinstance(op, Echo)
    reply = orjson.loads(wire.encode(wire.echo_reply(op.id, op.data)))
    assert (reply["id"], reply["data"]) == (msg_id, data)


@CI
@given(unicode_text | st.text(st.sampled_from("eyJhbGciOiJIUzI1NiJ9.-_="))
       | st.builds(lambda a, b, c: f"{a}.{b}.{c}", unicode_text, unicode_text, unicode_text))
@example("")
@example("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.")
def test_any_auth_token_text_is_refused_with_a_token_error(token: str) -> None:
    """An auth op's token is client input too: anything but a signed token is a TokenError."""
    with pytest.raises(tokens.TokenError):
        tokens.verify(tokens.DEV_SECRET, token)


@pytest.mark.parametrize("number", [2**64 + 1, -(2**63) - 3, 10**30 + 7])
def test_echo_never_answers_a_rounded_number(number: int) -> None:
    """An integer the server cannot carry is refused (bad_request), never echoed rounded."""
    result = wire.parse_client_message(json.dumps({"op": "echo", "id": 1, "data": [number]}))
    assert isinstance(result, BadInput) or result == Echo(1, [number]), result

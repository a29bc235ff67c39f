"""Message shapes of PROTOCOL.md version 1: building and parsing client ops, building and checking
server messages.

Pure: no sockets, no asyncio, no gevent. The target app feeds it the text of each frame and builds its
replies with the server builders; the load side (and the target's tests) build ops with the client-op
builders and judge replies with :func:`check_server_message`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

WS_PATH: Final = "/ws"

MAX_STEPS: Final = 1000
MAX_STEP_MS: Final = 10_000
MAX_BURST_COUNT: Final = 10_000
MAX_BURST_SIZE: Final = 65_536
MAX_CLOSE_REASON_BYTES: Final = 123

# Error codes of the protocol's error message.
BAD_JSON: Final = "bad_json"
BAD_REQUEST: Final = "bad_request"
UNKNOWN_OP: Final = "unknown_op"
UNAUTHORIZED: Final = "unauthorized"
FORBIDDEN: Final = "forbidden"
NOT_FOUND: Final = "not_found"


# --------------------------------------------------------------------------- client ops


@dataclass(frozen=True, slots=True)
class Auth:
    token: str
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Echo:
    id: int | None
    data: Any


@dataclass(frozen=True, slots=True)
class Start:
    id: int | None
    steps: int
    step_ms: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    id: int | None
    job: str


@dataclass(frozen=True, slots=True)
class Close:
    id: int | None
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Burst:
    id: int | None
    count: int
    size: int


Op = Auth | Echo | Start | Subscribe | Close | Burst


@dataclass(frozen=True, slots=True)
class BadInput:
    """A client message the server answers with an error; the connection stays open."""

    code: str
    message: str
    id: int | None = None


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python but not an integer in JSON.
    return isinstance(value, int) and not isinstance(value, bool)


def _int_field(msg: dict[str, Any], name: str, low: int, high: int) -> int | BadInput:
    if name not in msg:
        return BadInput(BAD_REQUEST, f"missing field {name!r}")
    value = msg[name]
    if not _is_int(value):
        return BadInput(BAD_REQUEST, f"field {name!r} must be an integer")
    if not low <= value <= high:
        return BadInput(BAD_REQUEST, f"field {name!r} must be in {low}..{high}, got {value}")
    return value


def _reencodable(data: Any) -> bool:
    """Whether ``data`` fits in a reply: orjson reads nesting far deeper than it will write."""
    try:
        orjson.dumps({"data": data})
    except orjson.JSONEncodeError:
        return False
    return True


def valid_close_code(code: int) -> bool:
    """Codes a client may ask the server to close with: 1000 or the private range 4000-4999."""
    return code == 1000 or 4000 <= code <= 4999


_LONG_DIGITS: Final = re.compile(r"\d{19}")
"""A run of 19 digits: the shortest integer text orjson may read as a double (below -2**63)."""
_INT_RANGE: Final = range(-(2**63), 2**64)
"""The integers orjson reads exactly; beyond them it silently reads a rounded double."""


def _echo_data_rounded(text: str | bytes) -> bool:
    """Whether the echo data in ``text`` holds an integer orjson read as a rounded double.

    Only the data matters: an ``id`` or a limit field read as a double is refused as "not an integer"
    already. The exact parse runs only when the text has a long digit run, so it costs nothing in
    ordinary traffic."""
    digits = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if not _LONG_DIGITS.search(digits):
        return False
    try:
        exact = json.loads(digits)
    except (ValueError, RecursionError):
        return False  # orjson accepted it; only the numbers it may have rounded matter here
    stack = [exact.get("data") if isinstance(exact, dict) else None]
    while stack:
        value = stack.pop()
        if type(value) is int and value not in _INT_RANGE:
            return True
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return False


def parse_client_message(text: str | bytes) -> Op | BadInput:
    """Parse one text frame from a client into an op, or say which error answers it."""
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError:
        return BadInput(BAD_JSON, "message is not valid JSON")
    if not isinstance(msg, dict):
        return BadInput(BAD_REQUEST, "message must be a JSON object")
    raw_id = msg.get("id")
    if raw_id is not None and not _is_int(raw_id):
        return BadInput(BAD_REQUEST, "field 'id' must be an integer or null")
    msg_id: int | None = raw_id
    if "op" not in msg:
        return BadInput(BAD_REQUEST, "missing field 'op'", msg_id)
    op = msg["op"]
    if not isinstance(op, str):
        return BadInput(BAD_REQUEST, "field 'op' must be a string", msg_id)
    result = _parse_op(op, msg, msg_id)
    if isinstance(result, Echo) and _echo_data_rounded(text):
        return BadInput(BAD_REQUEST, "field 'data' holds an integer beyond -2**63 .. 2**64-1", msg_id)
    if isinstance(result, BadInput) and result.id is None:
        return BadInput(result.code, result.message, msg_id)
    return result


def _parse_op(op: str, msg: dict[str, Any], msg_id: int | None) -> Op | BadInput:
    if op == "echo":
        if "data" not in msg:
            return BadInput(BAD_REQUEST, "missing field 'data'")
        if not _reencodable(msg["data"]):
            return BadInput(BAD_REQUEST, "field 'data' is nested too deeply to echo")
        return Echo(msg_id, msg["data"])
    if op == "start":
        steps = _int_field(msg, "steps", 0, MAX_STEPS)
        if isinstance(steps, BadInput):
            return steps
        step_ms = _int_field(msg, "step_ms", 0, MAX_STEP_MS)
        if isinstance(step_ms, BadInput):
            return step_ms
        return Start(msg_id, steps, step_ms)
    if op == "subscribe":
        job = msg.get("job")
        if not isinstance(job, str) or not job:
            return BadInput(BAD_REQUEST, "field 'job' must be a non-empty string")
        return Subscribe(msg_id, job)
    if op == "close":
        code = msg.get("code")
        if not _is_int(code) or not valid_close_code(code):
            return BadInput(BAD_REQUEST, "field 'code' must be 1000 or in 4000..4999")
        reason = msg.get("reason", "")
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            return BadInput(BAD_REQUEST, "field 'reason' must be a string")
        if len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
            return BadInput(BAD_REQUEST, f"field 'reason' is over {MAX_CLOSE_REASON_BYTES} bytes")
        return Close(msg_id, code, reason)
    if op == "burst":
        count = _int_field(msg, "count", 1, MAX_BURST_COUNT)
        if isinstance(count, BadInput):
            return count
        size = _int_field(msg, "size", 0, MAX_BURST_SIZE)
        if isinstance(size, BadInput):
            return size
        return Burst(msg_id, count, size)
    if op == "auth":
        token = msg.get("token")
        if not isinstance(token, str):
            return BadInput(BAD_REQUEST, "field 'token' must be a string")
        return Auth(token, msg_id)
    return BadInput(UNKNOWN_OP, f"unknown op {op!r}")


# --------------------------------------------------------------------------- client-op builders
# Each returns the op as a dict ready to send. ``msg_id`` None leaves ``id`` out (the protocol reads a
# missing id as null; :class:`loadgen.client.ProtocolClient` numbers an op without one).


def _op(op: str, msg_id: int | None, fields: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"op": op}
    if msg_id is not None:
        message["id"] = msg_id
    message.update(fields)
    return message


def auth_op(token: str) -> dict[str, Any]:
    """The in-band authentication message: the first a client sends when no token went in the handshake."""
    return {"op": "auth", "token": token}


def echo_op(data: Any, msg_id: int | None = None) -> dict[str, Any]:
    return _op("echo", msg_id, {"data": data})


def start_op(steps: int, step_ms: int, msg_id: int | None = None) -> dict[str, Any]:
    return _op("start", msg_id, {"steps": steps, "step_ms": step_ms})


def subscribe_op(job: str, msg_id: int | None = None) -> dict[str, Any]:
    return _op("subscribe", msg_id, {"job": job})


def close_op(code: int, reason: str | None = None, msg_id: int | None = None) -> dict[str, Any]:
    """Ask the server to close with ``code``; ``reason`` None sends none (the server's default is empty)."""
    return _op("close", msg_id, {"code": code} if reason is None else {"code": code, "reason": reason})


def burst_op(count: int, size: int, msg_id: int | None = None) -> dict[str, Any]:
    return _op("burst", msg_id, {"count": count, "size": size})


# --------------------------------------------------------------------------- server messages
# Builders return dicts without "seq": the connection's sequencer stamps it at send time, so the
# order of seq numbers is the order of the frames on the wire.


def ready(user: str, session: str) -> dict[str, Any]:
    return {"type": "ready", "user": user, "session": session}


def echo_reply(msg_id: int | None, data: Any) -> dict[str, Any]:
    return {"type": "echo", "id": msg_id, "data": data}


def started(msg_id: int | None, job: str) -> dict[str, Any]:
    return {"type": "started", "id": msg_id, "job": job}


def subscribed(msg_id: int | None, job: str, state: str, step: int) -> dict[str, Any]:
    return {"type": "subscribed", "id": msg_id, "job": job, "state": state, "step": step}


def state_event(job: str, user: str, state: str, step: int) -> dict[str, Any]:
    return {"type": "state", "job": job, "user": user, "state": state, "step": step}


def burst_item(msg_id: int | None, i: int, data: str) -> dict[str, Any]:
    return {"type": "burst", "id": msg_id, "i": i, "data": data}


def error(code: str, message: str, msg_id: int | None = None) -> dict[str, Any]:
    return {"type": "error", "id": msg_id, "code": code, "message": message}


def encode(message: dict[str, Any]) -> str:
    """Serialise a message to the text of one frame."""
    return orjson.dumps(message).decode()


# --------------------------------------------------------------------------- client-side checks

# type -> required fields and the type each must have. ``id`` may be null on replies.
_SERVER_SHAPES: Final[dict[str, dict[str, tuple[type, ...]]]] = {
    "ready": {"seq": (int,), "user": (str,), "session": (str,)},
    "echo": {"seq": (int,), "id": (int, type(None))},
    "started": {"seq": (int,), "id": (int, type(None)), "job": (str,)},
    "subscribed": {
        "seq": (int,),
        "id": (int, type(None)),
        "job": (str,),
        "state": (str,),
        "step": (int,),
    },
    "state": {"seq": (int,), "job": (str,), "user": (str,), "state": (str,), "step": (int,)},
    "burst": {"seq": (int,), "id": (int, type(None)), "i": (int,), "data": (str,)},
    "error": {"code": (str,)},
}

JOB_STATES: Final = ("running", "halted")


def check_server_message(msg: Any) -> str | None:
    """Return what is wrong with a server message's shape, or None if it is well formed."""
    if not isinstance(msg, dict):
        return "server message is not a JSON object"
    kind = msg.get("type")
    shape = _SERVER_SHAPES.get(kind) if isinstance(kind, str) else None
    if shape is None:
        return f"unknown server message type {kind!r}"
    for field, types in shape.items():
        if field not in msg:
            return f"{kind} message lacks {field!r}"
        value = msg[field]
        if isinstance(value, bool) or not isinstance(value, types):
            return f"{kind} message has {field}={value!r} of the wrong type"
    if kind in ("subscribed", "state") and msg["state"] not in JOB_STATES:
        return f"{kind} message has unknown state {msg['state']!r}"
    if kind == "echo" and "data" not in msg:
        return "echo message lacks 'data'"
    return None

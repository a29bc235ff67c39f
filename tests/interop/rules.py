"""The rules of PROTOCOL.md as plain data and functions: limits, client ops, server messages, tokens.

Pure (no sockets, no asyncio), written from the protocol page alone. A client message becomes an
:class:`Op` or a :class:`Refusal` (the error code that answers it); a token becomes its ``sub`` or
a :class:`TokenRefused`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs

import jwt

MAX_STEPS: Final = 1000
MAX_STEP_MS: Final = 10_000
MAX_BURST_COUNT: Final = 10_000
MAX_BURST_SIZE: Final = 65_536
MAX_REASON_BYTES: Final = 123
MAX_MESSAGE_BYTES: Final = 1 << 20
"""``max_size``: a bigger message is closed with 1009 (by the WebSocket layer)."""

BAD_JSON: Final = "bad_json"
BAD_REQUEST: Final = "bad_request"
UNKNOWN_OP: Final = "unknown_op"
UNAUTHORIZED: Final = "unauthorized"
FORBIDDEN: Final = "forbidden"
NOT_FOUND: Final = "not_found"


@dataclass(frozen=True, slots=True)
class Op:
    """A well-formed client op: ``name`` and its validated fields (``args``)."""

    name: str
    id: int | None
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Bad input: the error ``code`` that answers it, why, and the op's id when it had a usable one."""

    code: str
    message: str
    id: int | None = None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a number


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json reads NaN and Infinity; JSON has neither


def _bounded(msg: dict[str, Any], name: str, low: int, high: int) -> int | str:
    """The integer field ``name`` within ``low..high``, or what is wrong with it."""
    if name not in msg:
        return f"missing field {name!r}"
    value = msg[name]
    if not _integer(value):
        return f"field {name!r} must be an integer"
    if not low <= value <= high:
        return f"field {name!r} must be in {low}..{high}, got {value}"
    return value


def _fields(name: str, msg: dict[str, Any]) -> dict[str, Any] | str:
    """The validated fields of op ``name``, or what is wrong with them."""
    if name == "echo":
        return {"data": msg["data"]} if "data" in msg else "missing field 'data'"
    if name in ("start", "burst"):
        limits = {"steps": (0, MAX_STEPS), "step_ms": (0, MAX_STEP_MS)} if name == "start" else {
            "count": (1, MAX_BURST_COUNT), "size": (0, MAX_BURST_SIZE)}
        fields: dict[str, Any] = {}
        for field, (low, high) in limits.items():
            value = _bounded(msg, field, low, high)
            if isinstance(value, str):
                return value
            fields[field] = value
        return fields
    if name == "subscribe":
        job = msg.get("job")
        return {"job": job} if isinstance(job, str) and job else "field 'job' must be a non-empty string"
    if name == "close":
        code = msg.get("code")
        if not _integer(code) or not (code == 1000 or 4000 <= code <= 4999):
            return "field 'code' must be 1000 or in 4000..4999"
        reason = msg.get("reason")
        reason = "" if reason is None else reason
        if not isinstance(reason, str):
            return "field 'reason' must be a string"
        if len(reason.encode()) > MAX_REASON_BYTES:
            return f"field 'reason' is over {MAX_REASON_BYTES} bytes"
        return {"code": code, "reason": reason}
    if name == "auth":
        token = msg.get("token")
        return {"token": token} if isinstance(token, str) else "field 'token' must be a string"
    raise AssertionError(name)


OPS: Final = ("auth", "echo", "start", "subscribe", "close", "burst")


def parse(text: str) -> Op | Refusal:
    """Read one text frame of a client."""
    try:
        msg = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, RecursionError):  # valid JSON, nested deeper than this server reads
            return Refusal(BAD_REQUEST, "message is nested too deeply")
        return Refusal(BAD_JSON, "message is not valid JSON")
    if not isinstance(msg, dict):
        return Refusal(BAD_REQUEST, "message must be a JSON object")
    msg_id = msg.get("id")
    if msg_id is not None and not _integer(msg_id):
        return Refusal(BAD_REQUEST, "field 'id' must be an integer or null")
    name = msg.get("op")
    if not isinstance(name, str):
        return Refusal(BAD_REQUEST, "field 'op' is missing or not a string", msg_id)
    if name not in OPS:
        return Refusal(UNKNOWN_OP, f"unknown op {name!r}", msg_id)
    fields = _fields(name, msg)
    if isinstance(fields, str):
        return Refusal(BAD_REQUEST, fields, msg_id)
    if name == "echo" and not _reencodable(fields["data"]):
        return Refusal(BAD_REQUEST, "field 'data' cannot be echoed", msg_id)
    return Op(name, msg_id, fields)


def _reencodable(data: Any) -> bool:
    try:
        encode({"data": data})
    except (ValueError, RecursionError):
        return False
    return True


def encode(message: dict[str, Any]) -> str:
    """One server message as the text of a frame (compact JSON, no NaN)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def error(code: str, message: str, msg_id: int | None = None) -> dict[str, Any]:
    return {"type": "error", "id": msg_id, "code": code, "message": message}


# ----------------------------------------------------------------------------------------- tokens


class TokenRefused(Exception):
    """A token the server must refuse (401 in the handshake, ``unauthorized`` in band)."""


def verify(secret: str, token: str) -> str:
    """The token's ``sub``: HS256 only (no ``alg: none``), ``exp`` and ``sub`` required."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.InvalidTokenError as exc:  # expired, bad signature, other algorithm, missing claim
        raise TokenRefused(str(exc)) from exc
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub:
        raise TokenRefused("claim 'sub' must be a non-empty string")
    return sub


def handshake_tokens(headers: list[tuple[bytes, bytes]], query_string: bytes) -> list[str]:
    """Every token the upgrade request carries (header, then ``?token=``); [] means "none: in band".

    An ``Authorization`` header of another scheme, or an empty Bearer, counts as an (invalid) empty
    token; so does an empty ``?token=`` (PROTOCOL.md 1.1, Tokens).
    """
    tokens: list[str] = []
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, credentials = value.decode("latin-1").strip().partition(" ")
            tokens.append(credentials.strip() if scheme.lower() == "bearer" else "")
    tokens += parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("token", [])
    return tokens

"""PROTOCOL.md's answer to one client text frame, written from the page alone (not from wire.py).

The property test (tests/protocol/test_wire_properties.py) checks the protocol core against this
model, and the fuzz run (tests/fuzz/test_target_fuzz.py) predicts the target's replies with it, so
the bounds below are PROTOCOL.md's numbers, typed from the page on purpose: a change of either side
that the page does not show fails a test.

Where the page leaves a choice to the implementation, the model says which and why:

- JSON is RFC 8259. A string holding a lone surrogate (``"\\ud800"``) is not Unicode text and a number
  a double cannot hold (``1e400``) is over the parser's limit (RFC 8259 §8.2, §9): both ``bad_json``.
- An integer is a JSON number written without fraction or exponent, within what a reply can carry
  (``-2**63 .. 2**64-1``); outside that range it is a field out of range: ``bad_request``.
- Nesting deeper than :data:`MAX_DEPTH` is over the parser's limit (RFC 8259 §9): ``bad_json``.
- ``id`` is checked before ``op`` (it is common to every op), so a bad id is ``bad_request`` whatever
  the op; fields other than the op's own are ignored; ``reason: null`` is the same as no reason.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Final

BAD_JSON: Final = "bad_json"
BAD_REQUEST: Final = "bad_request"
UNKNOWN_OP: Final = "unknown_op"
ERROR_CODES: Final = frozenset({BAD_JSON, BAD_REQUEST, UNKNOWN_OP})

OPS: Final = ("auth", "echo", "start", "subscribe", "close", "burst")
"""PROTOCOL.md's client ops ("Authentication" and "Operations")."""

# PROTOCOL.md, "Operations": the limits of each op's integer fields, inclusive.
INT_LIMITS: Final[dict[str, dict[str, tuple[int, int]]]] = {
    "start": {"steps": (0, 1000), "step_ms": (0, 10_000)},
    "burst": {"count": (1, 10_000), "size": (0, 65_536)},
}
CLOSE_CODES: Final = frozenset({1000, *range(4000, 5000)})
CLOSE_REASON_MAX_BYTES: Final = 123
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**64 - 1
MAX_DEPTH: Final = 1024
"""Nesting a parser may refuse beyond (RFC 8259 §9 lets it limit depth): deeper text is ``bad_json``."""
ECHO_SURELY_WRITABLE_DEPTH: Final = 200
"""Echo data nested up to this depth must come back; deeper may be ``bad_request`` (too deep to write)."""


@dataclass(frozen=True)
class Answer:
    """``kind`` is "op" (``op`` names it, ``fields`` are its values) or "error" (``code``)."""

    kind: str
    id: int | None = None
    op: str | None = None
    code: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def error(code: str, msg_id: int | None = None) -> Answer:
    return Answer("error", msg_id, code=code)


class _NotJson(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJson(name)  # NaN, Infinity, -Infinity are not JSON


def _children(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    return []


def _readable(value: Any) -> bool:
    """No lone surrogate in any string or key, no number beyond a double (iterative: any depth)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
            return False
        if isinstance(item, float) and not math.isfinite(item):
            return False
        stack.extend(_children(item))
    return True


def text_depth(text: str) -> int:
    """The deepest nesting of brackets and braces outside strings."""
    deepest = level = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (c == "\\", c != '"')
        elif c == '"':
            in_string = True
        elif c in "[{":
            level += 1
            deepest = max(deepest, level)
        elif c in "]}":
            level -= 1
    return deepest


def load(text: str | bytes) -> tuple[bool, Any]:
    """(True, value) for a JSON text the protocol reads, else (False, None)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if text_depth(text) > MAX_DEPTH:
            return False, None
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH))  # json recurses once per level
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        finally:
            sys.setrecursionlimit(limit)
    except (ValueError, _NotJson):
        return False, None
    return (True, value) if _readable(value) else (False, None)


def is_int(value: Any) -> bool:
    return type(value) is int and INT_MIN <= value <= INT_MAX


def exact_ints(value: Any) -> bool:
    """Whether every integer in ``value`` is one a server can carry (64 bits) and so echo exactly."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is int and not INT_MIN <= item <= INT_MAX:
            return False
        if isinstance(item, (list, dict)):
            stack.extend(item.values() if isinstance(item, dict) else item)
    return True


def depth(value: Any) -> int:
    """Nesting levels of arrays and objects: ``1`` -> 0, ``[]`` -> 1, ``[{}]`` -> 2."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def answer(text: str | bytes) -> Answer:
    """What PROTOCOL.md's tables say the server answers to this text frame (from an authenticated
    client). For echo data nested deeper than :data:`ECHO_SURELY_WRITABLE_DEPTH` either an echo or
    ``bad_request`` is right; this returns the echo."""
    ok, msg = load(text)
    if not ok:
        return error(BAD_JSON)
    if not isinstance(msg, dict):
        return error(BAD_REQUEST)
    raw_id = msg.get("id")
    if raw_id is not None and not is_int(raw_id):
        return error(BAD_REQUEST)
    msg_id: int | None = raw_id
    op = msg.get("op")
    if not isinstance(op, str):
        return error(BAD_REQUEST, msg_id)
    return _answer_op(op, msg, msg_id)


def _answer_op(op: str, msg: dict[str, Any], msg_id: int | None) -> Answer:
    if op in INT_LIMITS:
        values = {}
        for name, (low, high) in INT_LIMITS[op].items():
            value = msg.get(name)
            if not is_int(value) or not low <= value <= high:
                return error(BAD_REQUEST, msg_id)
            values[name] = value
        return Answer("op", msg_id, op, fields=values)
    if op == "echo":
        if "data" not in msg or not exact_ints(msg["data"]):
            return error(BAD_REQUEST, msg_id)  # an integer it cannot carry is refused, never rounded
        return Answer("op", msg_id, op, fields={"data": msg["data"]})
    if op == "subscribe":
        job = msg.get("job")
        if not isinstance(job, str) or not job:
            return error(BAD_REQUEST, msg_id)
        return Answer("op", msg_id, op, fields={"job": job})
    if op == "close":
        code, reason = msg.get("code"), msg.get("reason")
        reason = "" if reason is None else reason
        if not is_int(code) or code not in CLOSE_CODES or not isinstance(reason, str):
            return error(BAD_REQUEST, msg_id)
        if len(reason.encode()) > CLOSE_REASON_MAX_BYTES:
            return error(BAD_REQUEST, msg_id)
        return Answer("op", msg_id, op, fields={"code": code, "reason": reason})
    if op == "auth":
        token = msg.get("token")
        if not isinstance(token, str):
            return error(BAD_REQUEST, msg_id)
        return Answer("op", msg_id, op, fields={"token": token})
    return error(UNKNOWN_OP, msg_id)

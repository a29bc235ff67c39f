"""Random client messages for the fuzz run, from a seeded ``random.Random``: nothing else random.

:func:`message` returns the text of one frame: random text, a random JSON value, a valid op, or a
valid op mutated (a field of the wrong type, missing, huge, at a limit +- 1, nested deep, odd
unicode, an op name changed, extra or duplicated keys). What it may cost the server is bounded: a
valid burst stays small, so a run's total output is bounded too.
"""

from __future__ import annotations

import json
import random
from typing import Any, Final

from tests.fuzz import spec

ODD_TEXT: Final = ["", " ", "\x00", "é", "€", "😀", "\u202e", "a\u0301", "\ufeff", "\u2028",
                   "Ω" * 40, "null", "{", "\"", "\\", "\ud7ff", "\ue000", "\U0010ffff"]
HUGE: Final = [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30),
               1e308, -1e308, 1e-320, 0.5, -0.0, 1e400, -1e400]
WRONG_TYPES: Final = [None, True, False, "1", "", [], {}, [1], {"a": 1}, 1.5]
BURST_OUTPUT_BUDGET: Final = 64 * 1024
"""Bytes of burst output a valid mutated burst may ask for (roughly count * size)."""


def odd_text(rng: random.Random) -> str:
    parts = [rng.choice(ODD_TEXT) for _ in range(rng.randint(0, 4))]
    parts.append("".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0xD7FF),
                                         rng.randint(0xE000, 0x10FFFF)]))
                         for _ in range(rng.randint(0, 12))))
    rng.shuffle(parts)
    return "".join(parts)


def json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 9 if depth < 3 else 5)
    if kind <= 1:
        return rng.choice([None, True, False, 0, -1, rng.randint(-(2**63), 2**64 - 1)])
    if kind == 2:
        return rng.uniform(-1e6, 1e6)
    if kind <= 5:
        return odd_text(rng)
    if kind <= 7:
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {odd_text(rng): json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


DEEP: Final = "\x00deep:"
"""A placeholder :func:`message` writes out as JSON nested ``n`` levels (json.dumps would recurse)."""


def nested(rng: random.Random) -> str:
    return f"{DEEP}{rng.choice([2, 50, 199, 254, 255, 300, 1023, 1024, 1100])}"


def write_deep(text: str) -> str:
    """Replace each placeholder by arrays and objects nested that many levels."""
    marker = json.dumps(DEEP)[:-1]  # the placeholder as json.dumps writes it, without its last quote
    while marker in text:
        start = text.index(marker)
        end = text.index('"', start + len(marker))
        levels = int(text[start + len(marker):end])
        opening = "".join("[" if i % 3 else '{"k":' for i in range(levels))
        closing = "".join("]" if i % 3 else "}" for i in reversed(range(levels)))
        text = text[:start] + opening + "0" + closing + text[end + 1:]
    return text


def valid_op(rng: random.Random) -> dict[str, Any]:
    op = rng.choice(["echo", "echo", "start", "subscribe", "burst", "auth"])
    msg: dict[str, Any] = {"op": op, "id": rng.choice([None, rng.randint(0, 10**6), 2**64 - 1])}
    if op == "echo":
        msg["data"] = json_value(rng)
    elif op == "start":
        msg.update(steps=rng.choice([0, 1, 3]), step_ms=rng.choice([0, 1, 20]))
    elif op == "subscribe":
        msg["job"] = rng.choice(["w0-1", "w0-j1", "nope", odd_text(rng) or "x"])
    elif op == "burst":
        msg.update(count=rng.randint(1, 20), size=rng.choice([0, 1, 100, 1000]))
    else:
        msg["token"] = odd_text(rng)
    return msg


def mutate(rng: random.Random, msg: dict[str, Any]) -> dict[str, Any]:
    msg = dict(msg)
    for _ in range(rng.randint(1, 3)):
        name = rng.choice([*msg, "id", "op", "extra"])
        how = rng.randint(0, 7)
        if how == 0:
            msg.pop(name, None)
        elif how == 1:
            msg[name] = rng.choice(WRONG_TYPES)
        elif how == 2:
            msg[name] = rng.choice(HUGE)
        elif how == 3:
            bounds = [b for limits in spec.INT_LIMITS.values() for b in limits.values()]
            low, high = rng.choice([*bounds, (1000, 1000), (4000, 4999)])
            msg[name] = rng.choice([low, high]) + rng.choice([-1, 0, 1])
        elif how == 4:
            msg[name] = nested(rng)
        elif how == 5:
            msg[name] = odd_text(rng)
        elif how == 6:
            msg["op"] = rng.choice(["ECHO", "echo ", " start", "clos", "", "burst\x00", "стоп"])
        else:
            msg[odd_text(rng)] = json_value(rng)
    return msg


def affordable(text: str) -> bool:
    """A message whose answer costs the server little, and that does not close the connection."""
    answer = spec.answer(text)
    if answer.op == "close":
        return False
    if answer.op == "burst":
        return answer.fields["count"] * (answer.fields["size"] + 64) <= BURST_OUTPUT_BUDGET
    return True


def message(rng: random.Random) -> str:
    """The text of one random message that :func:`affordable` allows."""
    while True:
        roll = rng.random()
        if roll < 0.12:
            text = odd_text(rng)
        elif roll < 0.22:
            text = json.dumps(json_value(rng), ensure_ascii=rng.random() < 0.5)
        elif roll < 0.4:
            text = json.dumps(valid_op(rng), ensure_ascii=rng.random() < 0.5)
        else:
            text = json.dumps(mutate(rng, valid_op(rng)), ensure_ascii=rng.random() < 0.5)
            if rng.random() < 0.05:  # a duplicated key: the last one counts
                text = '{"op": "teleport", ' + text[1:] if text.startswith("{") else text
        text = write_deep(text)
        if affordable(text):
            return text


def close_op(rng: random.Random) -> tuple[str, int]:
    """A valid close op and the code it asks for."""
    code = rng.choice([1000, 4000, 4999, rng.randint(4000, 4999)])
    reason = rng.choice(["", "bye", "é" * 61, "x" * 123, "€" * 41, odd_text(rng)[:20]])
    while len(reason.encode()) > spec.CLOSE_REASON_MAX_BYTES:
        reason = reason[:-1]
    return json.dumps({"op": "close", "id": rng.randint(0, 99), "code": code, "reason": reason}), code

"""One fuzz connection each: what it sends (from its own seeded ``random.Random``) and what it checks.

Every session records what it sent (``Outcome.inputs``), whether the server upgraded it, the close
code the server counts for it on ``/metrics`` (the code the server sent, or echoed when this side
closed first; 1006 when this side dropped the connection), and each problem it saw. The expected
answer to every message comes from :mod:`tests.fuzz.spec` (PROTOCOL.md), compared in order: the
server handles a connection's messages in arrival order, so replies come in that order too.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from websockets.exceptions import ConnectionClosed

from loadgen.protocol import tokens, wire
from loadgen.protocol.sequence import SeqChecker, SeqProblem
from tests.fuzz import inputs, spec
from tests.fuzz.frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, RawSocket, close_payload, frame
from tests.fuzz.frames import upgrade_request as up
from tests.support.target import Target
from tests.target.client import Client

MAX_SIZE: Final = 2**20  # the target's default max_size (PROTOCOL.md: 1 MiB)
SERVER_ERROR: Final = 1011
ABNORMAL: Final = 1006


@dataclass
class Outcome:
    index: int
    kind: str
    inputs: list[str] = field(default_factory=list)
    upgraded: bool = False
    server_code: int | None = None
    problems: list[str] = field(default_factory=list)
    finished: bool = False

    def sent(self, what: str | bytes) -> None:
        self.inputs.append(repr(what)[:300])

    def describe(self) -> str:
        sent = "\n      ".join(self.inputs[-12:])
        return (f"session {self.index} ({self.kind}), server code {self.server_code}: "
                f"{'; '.join(self.problems)}\n    last inputs sent:\n      {sent}")


class Closed(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


# ----------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Expect:
    types: frozenset[str]
    id: int | None
    codes: frozenset[str] = frozenset()
    data: Any = None
    check_data: bool = False


def _fits_64_bits(value: Any) -> bool:
    """Integers beyond 64 bits come back rounded: a known bug (tests/protocol/test_wire_properties.py,
    the xfail test_echo_never_answers_a_rounded_number), not re-reported here."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is int and not spec.INT_MIN <= item <= spec.INT_MAX:
            return False
        stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
    return True


def expected_replies(text: str) -> list[Expect]:
    """PROTOCOL.md's direct replies to one message from an authenticated client, in order."""
    answer = spec.answer(text)
    if answer.kind == "error":
        assert answer.code is not None
        return [Expect(frozenset({"error"}), answer.id, frozenset({answer.code}))]
    one = frozenset
    if answer.op == "echo":
        data = answer.fields["data"]
        if spec.depth(data) > spec.ECHO_SURELY_WRITABLE_DEPTH:
            return [Expect(one({"echo", "error"}), answer.id, one({spec.BAD_REQUEST}))]
        return [Expect(one({"echo"}), answer.id, data=data, check_data=_fits_64_bits(data))]
    if answer.op == "start":
        return [Expect(one({"started"}), answer.id)]
    if answer.op == "subscribe":
        return [Expect(one({"subscribed", "error"}), answer.id, one({wire.NOT_FOUND, wire.FORBIDDEN}))]
    if answer.op == "burst":
        return [Expect(one({"burst"}), answer.id)] * answer.fields["count"]
    if answer.op == "auth":
        return [Expect(one({"error"}), answer.id, one({spec.BAD_REQUEST}))]
    raise AssertionError(f"no direct reply for {answer}")


def mismatch(msg: dict[str, Any], want: Expect) -> str | None:
    shape = wire.check_server_message(msg)
    if shape is not None:
        return shape
    if msg["type"] == "ready" and "ready" in want.types:
        return None
    if msg["type"] not in want.types or msg.get("id") != want.id:
        return f"got {str(msg)[:200]}, expected {sorted(want.types)} with id {want.id}"
    if msg["type"] == "error" and msg["code"] not in want.codes:
        return f"error code {msg['code']!r}, expected one of {sorted(want.codes)}"
    if want.check_data and msg["type"] == "echo" and msg["data"] != want.data:
        return f"echo data {str(msg['data'])[:100]} is not what was sent"
    return None


# ----------------------------------------------------------------------------- channels


class RawChannel:
    """Text over a :class:`RawSocket`, fragmented at random with pings in between."""

    def __init__(self, raw: RawSocket, rng: random.Random) -> None:
        self.raw, self.rng = raw, rng
        self.seq = SeqChecker()
        self.pings: list[bytes] = []
        self.pongs: list[bytes] = []

    def key(self) -> bytes:
        return self.rng.randbytes(4)

    async def send_text(self, text: str) -> None:
        data = text.encode()
        if len(data) < 2 or self.rng.random() < 0.6:
            await self.raw.send(frame(TEXT, data, key=self.key()))
            return
        cuts = sorted(self.rng.sample(range(1, len(data)), min(len(data) - 1, self.rng.randint(1, 4))))
        parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        out = b""
        for i, part in enumerate(parts):
            out += frame(TEXT if i == 0 else CONT, part, fin=i == len(parts) - 1, key=self.key())
            if i < len(parts) - 1 and self.rng.random() < 0.5:  # §5.4: control frames in between
                ping = self.rng.randbytes(self.rng.randint(0, 125))
                self.pings.append(ping)
                out += frame(PING, ping, key=self.key())
            if self.rng.random() < 0.2:
                out += frame(PONG, b"unsolicited", key=self.key())  # §5.5.3: allowed, ignored
        await self.raw.send(out)

    async def recv(self) -> dict[str, Any]:
        while True:
            got = await self.raw.read_frame()
            if got is None:
                raise Closed(None)
            if got.opcode == CLOSE:
                raise Closed(got.close_code)
            if got.opcode == PONG:
                self.pongs.append(got.payload)
                continue
            if got.opcode != TEXT or not got.fin:
                raise AssertionError(f"unexpected server frame {got.opcode} fin={got.fin}")
            msg: dict[str, Any] = orjson.loads(got.payload)
            self.seq.check(msg.get("seq"))
            return msg


class WsChannel:
    """Text over websockets' asyncio client (tests/target/client.py checks every seq)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def send_text(self, text: str) -> None:
        await self.client.send_raw(text)

    async def recv(self) -> dict[str, Any]:
        try:
            return await self.client.recv(timeout=30)
        except ConnectionClosed:
            raise Closed(self.client.ws.close_code) from None


Channel = RawChannel | WsChannel


async def converse(ch: Channel, rng: random.Random, out: Outcome, count: int,
                   ready_first: bool = False) -> bool:
    """Send ``count`` random messages and a last echo; check every reply, in order.

    ``ready_first``: they follow an auth message at once, so ``ready`` comes before the replies."""
    texts = [inputs.message(rng) for _ in range(count)]
    sentinel = 10**15 + out.index
    texts.append(json.dumps({"op": "echo", "id": sentinel, "data": "end"}))
    expected = [want for text in texts for want in expected_replies(text)]
    owner = [text for text in texts for _ in expected_replies(text)]
    for text in texts:
        out.sent(text)
        await ch.send_text(text)
    if ready_first:
        expected.insert(0, Expect(frozenset({"ready"}), None))
        owner.insert(0, "the auth message")
    i = 0
    try:
        while i < len(expected):
            msg = await ch.recv()
            if msg.get("type") == "state":
                continue
            problem = mismatch(msg, expected[i])
            if problem is not None:
                out.problems.append(f"reply {i} to {owner[i][:200]!r}: {problem}")
                return False
            i += 1
    except Closed as closed:
        out.server_code = closed.code
        out.problems.append(f"closed with {closed.code} while {len(expected) - i} replies were due "
                            f"(next to {owner[i][:200]!r})")
        return False
    except SeqProblem as exc:
        out.problems.append(f"seq: {exc!r}")
        return False
    if isinstance(ch, RawChannel) and ch.pongs != ch.pings[:len(ch.pongs)]:
        out.problems.append("a pong did not carry its ping's payload (RFC 6455 §5.5.3)")
    return True


# ----------------------------------------------------------------------------- raw sessions


async def raw_open(target: Target, rng: random.Random, out: Outcome, token: str | None) -> RawChannel | None:
    """A raw connection past its 101 (``token=None``: none in the handshake, so auth is in band)."""
    raw = await RawSocket.connect(target.port)
    key = base64.b64encode(rng.randbytes(16)).decode()
    problem = await raw.handshake(target.port, key, token)
    if problem is not None:
        out.problems.append(problem)
        await raw.aclose()
        return None
    out.upgraded = True
    return RawChannel(raw, rng)


async def raw_ready(target: Target, rng: random.Random, out: Outcome, user: str) -> RawChannel | None:
    ch = await raw_open(target, rng, out, tokens.mint(target.secret, user))
    if ch is None:
        return None
    try:
        ready = await ch.recv()
    except Closed as closed:
        out.server_code = closed.code
        out.problems.append(f"closed with {closed.code} before ready")
        return None
    if ready.get("type") != "ready":
        out.problems.append(f"first message is not ready: {ready}")
    return ch


async def expect_close(ch: RawChannel, out: Outcome, codes: set[int]) -> None:
    """Read until the server's close frame; it must carry one of ``codes``; then answer it."""
    try:
        while True:
            msg = await ch.recv()
            if msg.get("type") != "state":
                out.problems.append(f"a message after the input that must close: {str(msg)[:200]}")
    except Closed as closed:
        out.server_code = ABNORMAL if closed.code is None else closed.code
        if closed.code not in codes:
            out.problems.append(f"closed with {closed.code}, expected one of {sorted(codes)}")
        if closed.code is not None:
            await ch.raw.finish_close(closed.code)
    await ch.raw.aclose()


async def ok_close(ch: RawChannel, out: Outcome) -> None:
    """Close normally from this side (1000); the server echoes it."""
    await ch.raw.send(frame(CLOSE, close_payload(1000), key=ch.key()))
    out.sent("close 1000")
    await expect_close(ch, out, {1000})


def violation(rng: random.Random, key: bytes) -> tuple[str, bytes, set[int]]:
    """One frame sequence RFC 6455 forbids, and the close codes a server must answer it with."""
    data = b'{"op":"echo","id":1,"data":0}'
    choices: list[tuple[str, bytes, set[int]]] = [
        ("continuation first", frame(CONT, data, key=key), {1002}),
        ("text inside a fragmented message",
         frame(TEXT, data[:5], fin=False, key=key) + frame(TEXT, data[5:], key=key), {1002}),
        ("fragmented ping", frame(PING, b"x", fin=False, key=key), {1002}),
        ("ping over 125 bytes", frame(PING, b"x" * 126, key=key), {1002}),
        ("reserved bits", frame(TEXT, data, rsv=rng.randint(1, 7), key=key), {1002}),
        ("unmasked", frame(TEXT, data, key=None), {1002}),
        ("reserved opcode", frame(rng.choice([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), data, key=key), {1002}),
        ("close with one byte", frame(CLOSE, b"\x03", key=key), {1002}),
        ("close with an invalid code",
         frame(CLOSE, close_payload(rng.choice([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])),
               key=key), {1002}),
        ("close reason not UTF-8", frame(CLOSE, close_payload(1000, b"\xff\xfe"), key=key), {1007}),
        ("text not UTF-8", frame(TEXT, rng.choice([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82",
                                                   b'{"op":"echo","data":"\xfe"}']), key=key), {1007}),
        ("fragments not UTF-8 across the cut",
         frame(TEXT, b'"\xe2', fin=False, key=key) + frame(CONT, b'\x28"', key=key), {1007}),
        ("binary", frame(BINARY, rng.randbytes(rng.randint(0, 40)), key=key), {1003}),
        ("fragmented binary", frame(BINARY, b"ab", fin=False, key=key) + frame(CONT, b"cd", key=key), {1003}),
        ("declared length over max_size",
         frame(TEXT, b"{", key=key, length=rng.choice([MAX_SIZE + 1, 2**32, 2**62])), {1009}),
        ("declared length with the MSB set", frame(TEXT, b"{", key=key, length=2**63 + 5), {1009, 1002}),
    ]
    return rng.choice(choices)


async def violating(target: Target, rng: random.Random, out: Outcome) -> None:
    """A frame sequence RFC 6455 forbids, after a short conversation or before in-band auth."""
    before_auth = rng.random() < 0.3
    if before_auth:
        ch = await raw_open(target, rng, out, None)
    else:
        ch = await raw_ready(target, rng, out, f"fuzz{out.index}")
    if ch is None:
        return
    if not before_auth and rng.random() < 0.5 and not await converse(ch, rng, out, rng.randint(1, 4)):
        await ch.raw.aclose()
        return
    name, data, codes = violation(rng, ch.key())
    while before_auth and 1003 in codes:  # binary before auth: the xfail test in test_target_fuzz.py
        name, data, codes = violation(rng, ch.key())
    if before_auth:
        name += " (before auth)"
    out.kind += f": {name}"
    out.sent(data[:200])
    await ch.raw.send(data)
    await expect_close(ch, out, codes)


async def conversing_raw(target: Target, rng: random.Random, out: Outcome) -> None:
    ch = await raw_ready(target, rng, out, f"fuzz{out.index}")
    if ch is None:
        return
    if await converse(ch, rng, out, rng.randint(1, 25)):
        await ending(ch, rng, out)
    else:
        await ch.raw.aclose()
        out.server_code = out.server_code or ABNORMAL


async def ending(ch: RawChannel, rng: random.Random, out: Outcome) -> None:
    """A normal close, a close op (what follows it is ignored), or a drop mid-frame."""
    roll = rng.random()
    if roll < 0.4:
        await ok_close(ch, out)
    elif roll < 0.75:
        text, code = inputs.close_op(rng)
        trailing = [inputs.message(rng) for _ in range(rng.randint(0, 3))]
        for sent in (text, *trailing):
            out.sent(sent)
            await ch.send_text(sent)
        await expect_close(ch, out, {code})
    else:
        whole = frame(TEXT, inputs.message(rng).encode(), key=ch.key())
        cut = rng.randint(1, len(whole) - 1)
        out.sent(f"{cut} of {len(whole)} bytes of a frame, then a drop")
        await ch.raw.send(whole[:cut])
        ch.raw.reset() if rng.random() < 0.5 else await ch.raw.aclose()
        out.server_code = ABNORMAL


async def oversized(target: Target, rng: random.Random, out: Outcome) -> None:
    """A message of exactly max_size is echoed; one byte more is 1009 (fragments of 64 KiB)."""
    ch = await raw_ready(target, rng, out, f"fuzz{out.index}")
    if ch is None:
        return
    for extra in (0, 1):
        head, tail = '{"op":"echo","id":1,"data":"', '"}'
        text = head + "x" * (MAX_SIZE + extra - len(head) - len(tail)) + tail
        data, step = text.encode(), 65536
        parts = [data[i:i + step] for i in range(0, len(data), step)]
        out.sent(f"a {len(data)}-byte echo in {len(parts)} fragments")
        await ch.raw.send(b"".join(frame(TEXT if i == 0 else CONT, p, fin=i == len(parts) - 1, key=ch.key())
                                   for i, p in enumerate(parts)))
        if extra == 0:
            try:
                reply = await ch.recv()
            except Closed as closed:
                out.server_code = closed.code
                out.problems.append(f"a message of exactly max_size was closed with {closed.code}")
                return
            if reply.get("type") != "echo" or len(reply.get("data", "")) != len(text) - len(head) - len(tail):
                out.problems.append(f"echo of max_size answered {str(reply)[:200]}")
    await expect_close(ch, out, {1009})


async def bad_handshake(target: Target, rng: random.Random, out: Outcome) -> None:
    """A handshake RFC 6455 §4.2.1 or PROTOCOL.md refuses: a 4xx (or a plain close), never 101/500."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    good = tokens.mint(target.secret, "fuzz")
    port = target.port
    variants: list[tuple[str, bytes]] = [
        ("garbage", rng.randbytes(rng.randint(1, 200)) + b"\r\n\r\n"),
        ("no key", up(port, key, good).replace(f"Sec-WebSocket-Key: {key}\r\n".encode(), b"")),
        ("bad key", up(port, "short", good)),
        ("version 12", up(port, key, good, version="12")),
        ("POST", up(port, key, good, method="POST")),
        ("HTTP/1.0", up(port, key, good).replace(b"HTTP/1.1", b"HTTP/1.0", 1)),
        ("a header line of 9000 bytes", up(port, key, good, extra="X-Long: " + "a" * 9000 + "\r\n")),
        ("200 headers", up(port, key, good, extra="".join(f"X-{i}: {i}\r\n" for i in range(200)))),
        ("wrong path", up(port, key, good, path="/nope")),
        ("bad token", up(port, key, "not.a.jwt")),
        ("empty bearer", up(port, key, "")),
        ("expired token", up(port, key, tokens.mint(target.secret, "fuzz", ttl_s=-60))),
        ("token for another secret", up(port, key, tokens.mint("another secret, long enough for HS256", "fuzz"))),
        ("no Upgrade header", up(port, key, good).replace(b"Upgrade: websocket\r\n", b"")),
        ("half a request, then a drop", up(port, key, good)[:rng.randint(1, 60)]),
    ]
    name, request = rng.choice(variants)
    out.kind += f": {name}"
    out.sent(request[:200])
    raw = await RawSocket.connect(port)
    try:
        await raw.send(request)
        if name.startswith("half"):
            raw.reset()
            return
        status, head = await raw.response_head()
        # 505 is websockets' answer to HTTP/1.0 (RFC 6455 §4.1 asks for 1.1): honest, not a crash.
        allowed = {505} if name == "HTTP/1.0" else set()
        if status is not None and not 400 <= status < 500 and status not in allowed:
            out.problems.append(f"answered {status}: {head[:200]!r}")
            out.upgraded = status == 101
    finally:
        await raw.aclose()


async def inband(target: Target, rng: random.Random, out: Outcome) -> None:
    """In-band auth: a valid auth op then a conversation, or anything else: unauthorized, 1008."""
    client = await Client.open(target, auth="none", open_timeout=20)
    out.upgraded = True
    ch = WsChannel(client)
    good = rng.random() < 0.5
    first = (json.dumps({"op": "auth", "id": 1, "token": tokens.mint(target.secret, f"fuzz{out.index}")})
             if good else inputs.message(rng))
    out.sent(first)
    await client.send_raw(first)
    pipelined = good and rng.random() < 0.5  # ops right behind auth: queued until ready, in order
    if pipelined:
        out.kind += " (ops pipelined behind it)"
    try:
        msg = await ch.recv() if not pipelined else None
        if good:
            if msg is not None and msg.get("type") != "ready":
                out.problems.append(f"a valid auth op answered {msg}")
            elif await converse(ch, rng, out, rng.randint(1, 10), ready_first=pipelined):
                await client.close()
        elif msg.get("type") != "error" or msg.get("code") != wire.UNAUTHORIZED:
            out.problems.append(f"a first message that is not auth answered {msg}")
        else:
            code = await client.closed(timeout=30)
            if code != 1008:
                out.problems.append(f"closed with {code} after unauthorized, expected 1008")
    except (Closed, SeqProblem) as exc:
        out.problems.append(f"{exc!r}")
    finally:
        await client.close()
    frame_rcvd = client.ws.protocol.close_rcvd
    out.server_code = ABNORMAL if frame_rcvd is None else int(frame_rcvd.code)


async def conversing_ws(target: Target, rng: random.Random, out: Outcome) -> None:
    """A well-formed client (websockets) with random messages, then a close op or a normal close."""
    client = await Client.ready(target, f"fuzz{out.index}", open_timeout=20)
    out.upgraded = True
    ch = WsChannel(client)
    try:
        if await converse(ch, rng, out, rng.randint(1, 25)) and rng.random() < 0.5:
            text, code = inputs.close_op(rng)
            out.sent(text)
            await client.send_raw(text)
            got = await client.closed(timeout=30)
            if got != code:
                out.problems.append(f"close op asked for {code}, the connection closed with {got}")
    except SeqProblem as exc:
        out.problems.append(f"seq: {exc!r}")
    finally:
        await client.close()
    frame_rcvd = client.ws.protocol.close_rcvd
    out.server_code = ABNORMAL if frame_rcvd is None else int(frame_rcvd.code)


Session = Callable[[Target, random.Random, Outcome], Awaitable[None]]
KINDS: Final[dict[str, tuple[Session, int]]] = {
    # name: (session, weight)
    "conversation over websockets": (conversing_ws, 3),
    "conversation over raw frames": (conversing_raw, 4),
    "in-band auth": (inband, 1),
    "protocol violation": (violating, 4),
    "bad handshake": (bad_handshake, 2),
    "max_size edge": (oversized, 0),  # heavy (2 MiB each): a fixed few per run, not by weight
}

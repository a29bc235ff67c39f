"""loadgen.session.frames, with bytes only: websockets' own framing and parsing are the oracle."""

from __future__ import annotations

import ast
import itertools
import random
from pathlib import Path

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from loadgen.session import frames as frames_module
from loadgen.session.frames import (
    MASK_POOL_SIZE,
    BoundaryTracker,
    ClientFramer,
    split_data_frames,
    stream_after_head,
)

SIZES = (0, 1, 5, 125, 126, 127, 300, 65535, 65536, 70000)


def server_frame(opcode: Opcode, data: bytes, fin: bool = True) -> bytes:
    return Frame(opcode, data, fin).serialize(mask=False)


def oracle(data: bytes, max_size: int | None) -> tuple[list[tuple[Opcode, bytes]], bool]:
    """What websockets' client protocol makes of ``data``: the whole data messages, and whether
    it did anything else (output such as a pong or a close, a fragment, a control frame, an error)."""
    proto = ClientProtocol(parse_uri("ws://h/ws"), state=State.OPEN, max_size=max_size)
    proto.receive_data(data)
    events = proto.events_received()
    plain = [(e.opcode, e.data) for e in events if e.opcode in (Opcode.TEXT, Opcode.BINARY) and e.fin]
    other = len(plain) != len(events) or bool(proto.data_to_send()) or proto.parser_exc is not None
    return plain, other


def test_framer_matches_websockets() -> None:
    """Each frame unmasks, in websockets' server parser, to exactly the opcode and payload given."""
    framer = ClientFramer()
    for size in SIZES:
        payload = random.Random(size).randbytes(size)
        for opcode in (Opcode.TEXT, Opcode.BINARY):
            server = ServerProtocol(state=State.OPEN, max_size=None)
            server.receive_data(framer.frame(opcode, payload))
            [frame] = server.events_received()
            assert (frame.opcode, frame.data, frame.fin) == (opcode, payload, True)


def test_framer_masks_across_pool_refills() -> None:
    """Frames keep parsing across several refills of the mask pool, each with its own mask."""
    framer = ClientFramer()
    count = 3 * MASK_POOL_SIZE // 4 + 5  # three pools' worth of masks, and some
    stream = [framer.frame(Opcode.TEXT, b"%d" % i) for i in range(count)]
    server = ServerProtocol(state=State.OPEN, max_size=None)
    server.receive_data(b"".join(stream))
    assert [f.data for f in server.events_received()] == [b"%d" % i for i in range(count)]
    masks = [frame[2:6] for frame in stream]
    assert sum(a == b for a, b in itertools.pairwise(masks)) < count // 100  # random, not reused


def random_stream(rng: random.Random) -> list[bytes]:
    """Server frames of every kind: mostly plain data frames, sometimes something else."""
    out = []
    for _ in range(rng.randrange(1, 8)):
        kind = rng.random()
        size = rng.choice(SIZES[:8])
        if kind < 0.7:
            out.append(server_frame(rng.choice([Opcode.TEXT, Opcode.BINARY]), rng.randbytes(size)))
        elif kind < 0.8:
            out.append(server_frame(Opcode.PING, rng.randbytes(min(size, 125))))
        elif kind < 0.9:
            out.append(server_frame(Opcode.TEXT, b"part", fin=False) + server_frame(Opcode.CONT, b"rest"))
        else:
            out.append(Frame(Opcode.TEXT, rng.randbytes(size)).serialize(mask=True))  # a server must not mask
    return out


def test_split_agrees_with_websockets() -> None:
    """Where the split says yes, websockets makes the same messages and nothing else; where
    websockets makes only plain messages of whole frames, the split says yes."""
    rng = random.Random(6455)
    split = refused = 0
    for _ in range(2000):
        data = b"".join(random_stream(rng))
        max_size = rng.choice([None, 200, 70000])
        got = split_data_frames(data, max_size)
        plain, other = oracle(data, max_size)
        if got is None:
            assert other, data[:40]
            refused += 1
        else:
            assert not other and got == plain
            split += 1
    assert split and refused  # both answers were put to the oracle


def test_split_refuses_a_cut_or_oversized_frame() -> None:
    """A frame cut anywhere (header or payload) or bigger than max_size is the protocol's: None."""
    whole = server_frame(Opcode.TEXT, b"x" * 300) + server_frame(Opcode.BINARY, b"y" * 70000)
    first_end = len(server_frame(Opcode.TEXT, b"x" * 300))
    for cut in [1, 2, 3, 50, first_end + 1, first_end + 5, first_end + 11, len(whole) - 1]:
        assert split_data_frames(whole[:cut], None) is None, cut
    assert split_data_frames(whole[:first_end], None) == [(Opcode.TEXT, b"x" * 300)]
    assert split_data_frames(whole, 300) is None
    assert split_data_frames(server_frame(Opcode.CLOSE, Close(1000, "").serialize()), None) is None
    assert split_data_frames(b"", None) == []


def test_tracker_follows_every_cut() -> None:
    """Fed a stream cut at random places, the tracker is at a boundary exactly at frame ends."""
    rng = random.Random(17)
    for _ in range(300):
        frames = [*random_stream(rng), server_frame(Opcode.TEXT, b"z" * rng.choice(SIZES))]
        stream = b"".join(frames)
        ends = set(itertools.accumulate(len(f) for f in frames))
        cuts = sorted({rng.randrange(1, len(stream)) for _ in range(rng.randrange(1, 10))} | {len(stream)})
        tracker = BoundaryTracker()
        start = 0
        for cut in cuts:
            tracker.feed(stream[start:cut])
            start = cut
            assert tracker.at_boundary == (cut in ends), (cut, sorted(ends))


def test_tracker_one_byte_at_a_time() -> None:
    """Even fed byte by byte (headers cut in every place), the boundaries are found."""
    frames = [server_frame(Opcode.TEXT, b"a" * n) for n in (0, 125, 126, 65536)]
    stream = b"".join(frames)
    ends = set(itertools.accumulate(len(f) for f in frames))
    tracker = BoundaryTracker()
    for offset in range(1, len(stream) + 1):
        tracker.feed(stream[offset - 1 : offset])
        assert tracker.at_boundary == (offset in ends), offset


@pytest.mark.parametrize(
    ("handshake", "rest"),
    [(b"HTTP/1.1 101 OK\r\nA: b\r\n\r\n", b""), (b"HTTP/1.1 101 OK\r\n\r\n\x81\x00", b"\x81\x00"), (b"HTTP/1.1", b"")],
)
def test_stream_after_head(handshake: bytes, rest: bytes) -> None:
    """The bytes after the blank line that ends a response head (none if it has not ended)."""
    assert stream_after_head(handshake) == rest


@pytest.mark.parametrize("module", ["frames", "lifecycle"])
def test_pure_modules_import_no_io(module: str) -> None:
    """frames and lifecycle import no socket, ssl, threading, gevent, greenlet or asyncio."""
    path = Path(frames_module.__file__).with_name(f"{module}.py")
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert not names & {"socket", "ssl", "threading", "gevent", "greenlet", "asyncio", "selectors"}

"""RFC 6455 framing for the client session, as pure functions of bytes: no socket, no gevent.

The session's two shortcuts past websockets' sans-I/O protocol live here, so that each is tested
with bytes alone, against websockets' own framing and parsing as the oracle:

- :class:`ClientFramer` frames the client's data messages (RFC 6455 §5.2, §5.3): the same bytes
  ``ClientProtocol.send_text``/``send_binary`` make, at a third of the cost;
- :func:`split_data_frames` splits a read made only of whole, final, unmasked text or binary frames
  (what the server sends nearly always), which the protocol would turn into plain events with no
  side effect; anything else is the protocol's;
- :class:`BoundaryTracker` follows frame boundaries through the bytes the protocol parsed, so that
  the split is only tried at the start of a frame.

From websockets this reads only public names: ``Opcode`` and ``apply_mask`` (its C speed-up when
built).
"""

from __future__ import annotations

import os
import struct
from typing import Final

from websockets.frames import Opcode

try:
    from websockets.speedups import apply_mask
except ImportError:  # websockets built without its C extension
    from websockets.utils import apply_mask

__all__ = ["BINARY", "TEXT", "BoundaryTracker", "ClientFramer", "split_data_frames", "stream_after_head"]

TEXT: Final = Opcode.TEXT
BINARY: Final = Opcode.BINARY

_pack_short = struct.Struct("!BB").pack
_pack_medium = struct.Struct("!BBH").pack
_pack_long = struct.Struct("!BBQ").pack

MASK_POOL_SIZE: Final = 1024
"""Bytes of ``os.urandom`` drawn at a time: 256 masks per system call."""


class ClientFramer:
    """Masked, final client data frames, with masks from a pool of ``os.urandom`` bytes.

    Needing no protocol state, it also frames the messages a session holds back until the 101 is
    read. Only right because the session's handshake offers no extension, so none can change the
    framing. Not thread-safe: the session calls it under its write lock.
    """

    __slots__ = ("_pool", "_pos")

    def __init__(self) -> None:
        self._pool = b""
        self._pos = 0

    def frame(self, opcode: int, payload: bytes) -> bytes:
        """One masked, final frame of ``opcode`` (1 text, 2 binary) carrying ``payload``."""
        pos = self._pos
        pool = self._pool
        if pos >= len(pool):
            pool = self._pool = os.urandom(MASK_POOL_SIZE)
            pos = 0
        mask = pool[pos : pos + 4]
        self._pos = pos + 4
        length = len(payload)
        if length < 126:
            head = _pack_short(0x80 | opcode, 0x80 | length)
        elif length < 65536:
            head = _pack_medium(0x80 | opcode, 0xFE, length)
        else:
            head = _pack_long(0x80 | opcode, 0xFF, length)
        return head + mask + apply_mask(payload, mask)


def split_data_frames(data: bytes, max_size: int | None) -> list[tuple[Opcode, bytes]] | None:
    """``(opcode, payload)`` of each frame in ``data``, which starts at a frame boundary, if it is
    made only of whole, final, unmasked text or binary frames no bigger than ``max_size``; None if
    it holds anything else (a control frame, a fragment, reserved bits, a mask, a cut frame, a frame
    over ``max_size``). These frames are exactly the ones ``ClientProtocol`` turns into events with
    no side effect."""
    frames = []
    n = len(data)
    pos = 0
    while pos < n:
        if n - pos < 2:
            return None
        first = data[pos]
        if first == 0x81:
            opcode = TEXT
        elif first == 0x82:
            opcode = BINARY
        else:
            return None
        size = data[pos + 1]
        if size < 126:
            start = pos + 2
        elif size == 126:
            start = pos + 4
            size = int.from_bytes(data[pos + 2 : start], "big")
        elif size == 127:
            start = pos + 10
            size = int.from_bytes(data[pos + 2 : start], "big")
        else:  # masked
            return None
        end = start + size
        if end > n or (max_size is not None and size > max_size):
            return None
        frames.append((opcode, data[start:end]))
        pos = end
    return frames


def stream_after_head(handshake: bytes) -> bytes:
    """The bytes after the end of an HTTP response head (a 101 has no body: frames start there)."""
    end = handshake.find(b"\r\n\r\n")
    return b"" if end < 0 else handshake[end + 4 :]


class BoundaryTracker:
    """Where the next frame starts, followed through a stream fed to it read by read.

    ``at_boundary`` is true when the bytes fed so far end exactly at the end of a frame. Otherwise
    ``left`` bytes of a frame are still to come, or ``head`` holds the start of a frame header cut
    by the read. It reads headers only; it does not check them (the protocol does).
    """

    __slots__ = ("at_boundary", "head", "left")

    def __init__(self) -> None:
        self.left = 0
        self.head = b""
        self.at_boundary = True

    def feed(self, data: bytes) -> None:
        """Follow the frame headers through ``data``, the next bytes of the stream."""
        if self.head:
            data = self.head + data
            self.head = b""
        n = len(data)
        pos = self.left
        while pos < n:
            if n - pos < 2:
                break  # a header cut after its first byte
            second = data[pos + 1]
            code = second & 0x7F
            length_end = pos + (4 if code == 126 else 10 if code == 127 else 2)
            if length_end > n:
                break  # a header cut in its extended length
            length = code if code < 126 else int.from_bytes(data[pos + 2 : length_end], "big")
            # A server must not mask; if one does, the protocol fails the connection anyway.
            pos = length_end + (4 if second & 0x80 else 0) + length
        if pos >= n:
            self.left = pos - n
        else:
            self.left = 0
            self.head = data[pos:]
        self.at_boundary = not self.left and not self.head

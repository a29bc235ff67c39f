"""RFC 6455 by hand, for writing what a well-behaved client library never would.

:func:`frame` builds one client frame with any header bits (masked per §5.3 unless told not to);
:class:`RawSocket` does the opening handshake by hand (§4.1), writes raw bytes and reads the
server's frames back, every read bounded by the caller's deadline (``asyncio.timeout_at``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import socket
import struct
from dataclasses import dataclass
from typing import Final

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3


def mask(payload: bytes, key: bytes) -> bytes:
    """§5.3: octet i of the payload XOR octet i mod 4 of the masking key."""
    n = len(payload)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
          key: bytes | None = b"\x00\x00\x00\x00", length: int | None = None) -> bytes:
    """One client frame. ``key=None`` sends it unmasked; ``length`` overrides the declared length."""
    n = len(payload) if length is None else length
    masked = 0x80 if key is not None else 0
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode & 0xF])
    if n < 126:
        head += bytes([masked | n])
    elif n < 1 << 16:
        head += bytes([masked | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([masked | 127]) + n.to_bytes(8, "big")
    return head + payload if key is None else head + key + mask(payload, key)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def upgrade_request(port: int, key: str, token: str | None = None, *, path: str = "/ws",
                    version: str = "13", method: str = "GET", extra: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", f"Sec-WebSocket-Version: {version}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The status code of a close frame (1005, "none", if it had no payload)."""
        if self.opcode != CLOSE:
            return None
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else 1005


class RawSocket:
    """A TCP connection to the target that speaks RFC 6455 only as far as the test wants."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, port: int) -> RawSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**22)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response_head(self) -> tuple[int | None, str]:
        """The status and head of the HTTP response; (None, "") if the server just closed."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None, ""
        text = head.decode("latin-1")
        parts = text.split(" ", 2)
        return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None), text

    async def handshake(self, port: int, key: str, token: str | None) -> str | None:
        """Upgrade; None if it worked (101 with the right accept), else what went wrong."""
        await self.send(upgrade_request(port, key, token))
        status, head = await self.response_head()
        if status != 101:
            return f"handshake answered {status}: {head[:200]!r}"
        if f"sec-websocket-accept: {accept_for(key)}".lower() not in head.lower():
            return f"101 without the right Sec-WebSocket-Accept: {head[:300]!r}"
        return None

    async def read_frame(self) -> Frame | None:
        """The next server frame, or None at EOF. A server frame is never masked (§5.1)."""
        try:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            if b1 & 0x80:
                raise AssertionError("the server sent a masked frame (RFC 6455 §5.1)")
            payload = await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return Frame(bool(b0 & 0x80), b0 & 0x0F, payload)

    async def finish_close(self, code: int) -> None:
        """Answer the server's close frame (§5.5.1), then wait for it to drop the TCP connection."""
        try:
            await self.send(frame(CLOSE, close_payload(code)))
        except ConnectionError:
            return
        while await self.read_frame() is not None:
            pass

    def reset(self) -> None:
        """Drop the connection with a TCP RST (SO_LINGER 0), no FIN, no close frame."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def aclose(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):  # the peer reset it first: closed either way
            await self.writer.wait_closed()

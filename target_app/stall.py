"""When a connection's client has made no progress at all for ``stall_timeout``.

Pure: the connection samples, while it has output waiting, the number of messages it has handed to
the socket and the size of the transport's write buffer. Either one moving (a message went out, or
the buffer shrank because the client read) is progress; neither moving for ``timeout`` seconds is a
stall, and the connection is closed with 1013.
"""

from __future__ import annotations

from typing import Final

MIN_INTERVAL_S: Final = 0.01


class StallWatch:
    __slots__ = ("_buffered", "_sent", "_since", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._since = 0.0
        self._sent = 0
        self._buffered = 0

    @property
    def interval(self) -> float:
        """How often to sample: a stall is seen within 1.25 times the timeout."""
        return max(self.timeout / 4, MIN_INTERVAL_S)

    def start(self, now: float, sent: int, buffered: int) -> None:
        """Output started waiting (the connection was idle until now)."""
        self._since, self._sent, self._buffered = now, sent, buffered

    def stalled(self, now: float, sent: int, buffered: int) -> bool:
        """Sample; True when nothing moved for ``timeout`` seconds."""
        if sent != self._sent or buffered < self._buffered:
            self._since, self._sent, self._buffered = now, sent, buffered
            return False
        return now - self._since >= self.timeout

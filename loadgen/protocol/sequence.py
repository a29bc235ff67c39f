"""Sequence numbers: the server stamps them, the client checks them.

Every server message carries ``seq``: ``ready`` is 0 and each later message one more. A gap means a
lost message; a number going backwards or repeating means reordering or duplication.
"""

from __future__ import annotations

from typing import Any


class Sequencer:
    """Server side: stamps consecutive numbers on outgoing messages, starting at 0."""

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.next = 0

    def stamp(self, message: dict[str, Any]) -> dict[str, Any]:
        message["seq"] = self.next
        self.next += 1
        return message


class SeqProblem(Exception):
    """Base for what a :class:`SeqChecker` finds."""

    def __init__(self, expected: int, got: Any) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"expected seq {expected}, got {got!r}")


class Gap(SeqProblem):
    """A number was skipped: at least one message was lost."""


class Backwards(SeqProblem):
    """A number repeated or went back: duplication or reordering."""


class SeqChecker:
    """Client side: feed each message's ``seq`` in arrival order."""

    __slots__ = ("expected",)

    def __init__(self) -> None:
        self.expected = 0

    def check(self, seq: Any) -> None:
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise Backwards(self.expected, seq)
        if seq != self.expected:
            raise (Gap if seq > self.expected else Backwards)(self.expected, seq)
        self.expected += 1

"""Session and job ids that name the worker which made them.

``w<index>-<boot>-s<n>`` / ``w<index>-<boot>-j<n>``: the worker index lets a client (and a test)
tell which worker it reached; ``boot`` is random per process start, so a restarted worker never
hands out an id its predecessor used.
"""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Final

_WORKER: Final = re.compile(r"^w(\d+)-")


class Ids:
    __slots__ = ("_counter", "prefix")

    def __init__(self, worker_index: int, boot: str | None = None) -> None:
        self.prefix = f"w{worker_index}-{boot or secrets.token_hex(3)}"
        self._counter = itertools.count(1)

    def session(self) -> str:
        return f"{self.prefix}-s{next(self._counter)}"

    def job(self) -> str:
        return f"{self.prefix}-j{next(self._counter)}"


def worker_of(some_id: str) -> int | None:
    """The worker index an id was made by, or None if it is not one of ours."""
    match = _WORKER.match(some_id)
    return int(match.group(1)) if match else None

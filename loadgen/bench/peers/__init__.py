"""The peers: load tools users would pick instead of wsrace, run side by side with ``--peers``.

- :mod:`.artillery`: Artillery 2 (Node), its ``ws`` engine: script, command, report parsing;
- :mod:`.tsung`: Tsung 1.7 (Erlang): XML, command, log parsing;
- :mod:`.window`: one measured sample of a peer, the work counted at the echo server.

``wsrace bench --peers`` installs nothing: a peer that is not on ``PATH`` is skipped with one line
saying how to get it (:func:`skip_reason`).
"""

from __future__ import annotations

import shutil
from typing import Final

__all__ = ["EXECUTABLES", "INSTALL", "executable", "skip_reason"]

EXECUTABLES: Final = {"artillery": "artillery", "tsung": "tsung"}
INSTALL: Final = {
    "artillery": "npm install -g artillery@2 (Node.js 18 or later)",
    "tsung": "apt-get install tsung (Debian/Ubuntu)",
}


def executable(peer: str) -> str | None:
    """The peer's program on ``PATH``, or None."""
    return shutil.which(EXECUTABLES[peer])


def skip_reason(peer: str) -> str | None:
    """None when ``peer`` can run here; else why not and how to get it, in one line."""
    if executable(peer) is None:
        return f"{EXECUTABLES[peer]!r} is not on PATH; to run it: {INSTALL[peer]}"
    return None

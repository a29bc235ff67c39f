"""The exit-code contract shared by every ``wsrace`` command (and ``locust -f scenarios``)."""

from __future__ import annotations

from typing import Final

PASS: Final = 0
"""Every threshold held / nothing regressed."""
FAILED: Final = 1
"""A threshold failed, or a comparison found a regression."""
BAD_INPUT: Final = 2
"""Bad input: a file, a flag, or an unreachable host, named in the message."""
BROKEN: Final = 3
"""The run itself broke (the target died, Locust crashed); the message gives the reason."""


class UsageError(Exception):
    """Bad input from the user. The CLI prints the message (what to fix) and exits 2."""

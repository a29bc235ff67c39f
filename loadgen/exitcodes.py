"""The exit-code contract shared by every ``wsrace`` command (and ``locust -f scenarios``)."""

from __future__ import annotations

import signal
from typing import Final

PASS: Final = 0
"""Every threshold held / nothing regressed."""
FAILED: Final = 1
"""A threshold failed, or a comparison found a regression."""
BAD_INPUT: Final = 2
"""Bad input: a file, a flag, or an unreachable host, named in the message."""
BROKEN: Final = 3
"""The run itself broke (the target died, Locust crashed); the message gives the reason."""
INTERRUPTED_SIGINT: Final = 128 + signal.SIGINT
"""130: the run was stopped by SIGINT (Ctrl-C, a CI cancel); its results were written, marked so."""
INTERRUPTED_SIGTERM: Final = 128 + signal.SIGTERM
"""143: the run was stopped by SIGTERM (a CI runner, systemd, ``docker stop``); results written."""


def interrupted(signal_name: str) -> int:
    """The exit code of a run stopped by ``signal_name`` (``"SIGINT"``...): 128 + its number, the
    shell's convention, so that a CI runner sees the cancel it sent."""
    return 128 + signal.Signals[signal_name].value


class UsageError(Exception):
    """Bad input from the user. The CLI prints the message (what to fix) and exits 2."""

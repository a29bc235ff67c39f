"""Running one observation on the correct app or on an app with a fault: the fault tests' comparison."""

from __future__ import annotations

from typing import Any

from tests.support.target import Target, running_target
from tests.target.client import run


def observe(fault: str | None, correct: Target, observation: Any, *extra: str) -> Any:
    """Run ``observation(target)`` on the correct app, or on a fresh app with ``fault``."""
    if fault is None and not extra:
        return run(observation(correct))
    with running_target(*(("--fault", fault) if fault else ()), *extra) as target:
        return run(observation(target))

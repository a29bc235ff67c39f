"""Where the shipped scenarios, schedules and thresholds live: one definition for every importer.

Not in the ``scenarios`` package itself: inside a Locust run, Locust loads ``scenarios/`` as a
directory of locustfiles, and ``import scenarios`` then finds a namespace package with none of
its ``__init__``'s names. This module is light (pathlib only), so the CLI imports it without Locust.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = [
    "CAPACITY_PROFILE",
    "DEFAULT_PROFILE",
    "HOLD_PROFILE",
    "PROFILES",
    "RUN_PROFILES",
    "SCENARIOS_DIR",
    "SCHEDULED_PROFILES",
    "default_schedule",
    "default_thresholds",
]

SCENARIOS_DIR: Final = Path(__file__).resolve().parent.parent / "scenarios"
"""The shipped locustfiles (``locust -f`` of ``wsrace run``), schedules and thresholds."""
PROFILES: Final = ("quick", "full")
"""The shipped schedules, by ``--profile`` name: ``schedule-<profile>.toml``."""
DEFAULT_PROFILE: Final = "full"
HOLD_PROFILE: Final = "hold"
"""Many held sessions (``schedule-hold.toml``); ``wsrace run --profile hold --sessions N`` scales it."""
CAPACITY_PROFILE: Final = "capacity"
"""Hold runs at growing session counts until one fails (``wsrace run`` only: no schedule of its own)."""
SCHEDULED_PROFILES: Final = (*PROFILES, HOLD_PROFILE)
"""Profiles with a shipped schedule, for ``locust -f scenarios --profile NAME`` too."""
RUN_PROFILES: Final = (*SCHEDULED_PROFILES, CAPACITY_PROFILE)
"""What ``wsrace run --profile`` accepts."""


def default_schedule(profile: str | None) -> Path:
    """The shipped schedule of ``profile`` (the default profile's when None)."""
    return SCENARIOS_DIR / f"schedule-{profile or DEFAULT_PROFILE}.toml"


def default_thresholds() -> Path:
    return SCENARIOS_DIR / "thresholds.toml"

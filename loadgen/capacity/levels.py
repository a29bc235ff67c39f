"""The hold schedule for N sessions, a capacity ramp's levels, and its verdict: pure.

A hold schedule ramps to N sessions at a connect rate, then holds them: one stage of ``N`` users
at ``rate``/s lasting ``N / rate + hold`` seconds. It is derived from a template schedule (the
shipped ``schedule-hold.toml``) whose one stage gives the rate and the hold
(``duration - users / spawn_rate``).

A ramp runs one hold per level, smallest first, and stops at the first level that fails; its
result is the last level that passed (:func:`max_sessions_passed`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from loadgen.judge.schedule import Schedule, Stage

__all__ = [
    "MIN_HOLD_S",
    "HoldShape",
    "LevelsError",
    "hold_schedule",
    "hold_shape",
    "max_sessions_passed",
    "parse_levels",
    "schedule_toml",
]

MIN_HOLD_S: Final = 60.0
"""The hold the profile promises by default: every session held at least this long at N."""


class LevelsError(ValueError):
    """Bad levels or hold options; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class HoldShape:
    """How a hold goes: the scenario, connects per second, seconds held once all are connected."""

    scenario: str
    rate: float
    hold_s: float


def hold_shape(template: Schedule, rate: float | None = None, hold_s: float | None = None) -> HoldShape:
    """The rate and hold of a one-stage hold ``template``, each overridden when given."""
    if len(template.stages) != 1 or len(template.stages[0].scenarios) != 1:
        raise LevelsError(f"{template.source}: a hold schedule has one stage of one scenario, "
                          f"this one has {len(template.stages)} stages")
    stage = template.stages[0]
    held = stage.duration - stage.users / stage.spawn_rate
    if held <= 0:
        raise LevelsError(f"{template.source}: stage {stage.name!r} ends before its {stage.users} users are "
                          f"connected at {stage.spawn_rate:g}/s: make its duration longer than "
                          f"{stage.users / stage.spawn_rate:g} s")
    for flag, value in (("--connect-rate", rate), ("--hold", hold_s)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise LevelsError(f"{flag} {value}: expected a number > 0")
    return HoldShape(stage.scenarios[0], rate or stage.spawn_rate, hold_s or held)


def hold_schedule(shape: HoldShape, sessions: int, source: str = "") -> Schedule:
    """Ramp to ``sessions`` at ``shape.rate``, then hold for ``shape.hold_s``: one stage."""
    ramp = sessions / shape.rate
    stage = Stage(name="hold", scenarios=(shape.scenario,), users=sessions, spawn_rate=shape.rate,
                  duration=round(ramp + shape.hold_s, 3))
    return Schedule((stage,), source)


def schedule_toml(schedule: Schedule, comment: str = "") -> str:
    """The schedule as a file ``wsrace run --schedule`` reads back."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for stage in schedule.stages:
        names = ", ".join(f'"{name}"' for name in stage.scenarios)
        lines += ["", "[[stage]]", f'name = "{stage.name}"', f"scenarios = [{names}]",
                  f"users = {stage.users}", f"spawn_rate = {stage.spawn_rate:g}", f"duration = {stage.duration:g}"]
    return "\n".join(lines) + "\n"


def parse_levels(text: str) -> tuple[int, ...]:
    """``1000,2000,5000``: session counts, each a whole number >= 1, strictly growing."""
    levels: list[int] = []
    for part in (item.strip().replace("_", "") for item in text.split(",")):
        if part.lower().endswith("k") and part[:-1].isdigit():
            part = str(int(part[:-1]) * 1000)
        if not part.isdigit() or int(part) < 1:
            raise LevelsError(f"--levels {text!r}: {part!r} is not a session count (e.g. 1000,2000 or 10k,30k)")
        levels.append(int(part))
    if any(b <= a for a, b in itertools.pairwise(levels)):
        raise LevelsError(f"--levels {text!r}: levels must grow, smallest first")
    return tuple(levels)


def max_sessions_passed(levels: Sequence[tuple[int, bool]]) -> int | None:
    """The sessions of the last level that passed before the first that failed (levels in the
    order they ran, as ``(sessions, passed)``); None when the first already failed."""
    best: int | None = None
    for sessions, passed in levels:
        if not passed:
            break
        best = sessions
    return best

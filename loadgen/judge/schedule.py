"""The schedule: which scenarios run, with how many users, for how long — a pure function of time.

A schedule file is a list of stages (TOML, documented in ``docs/thresholds-and-schedule.md``)::

    [[stage]]
    name = "warm-up"
    scenarios = ["steady"]
    users = 10
    spawn_rate = 10   # users/s
    duration = 5      # seconds

:func:`stage_at` maps the elapsed run time to the stage in force (None once the last one ended: stop);
a Locust ``LoadTestShape`` is a thin wrapper around it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from loadgen.judge.config_errors import ConfigError, check_keys, load_toml

__all__ = [
    "Schedule",
    "Stage",
    "check_scenarios",
    "parse_schedule",
    "schedule_from_dict",
    "stage_at",
    "total_duration",
]

STAGE_KEYS = ("name", "scenarios", "users", "spawn_rate", "duration")


@dataclass(frozen=True, slots=True)
class Stage:
    """``users`` users of the named scenarios, spawned at ``spawn_rate``/s, for ``duration`` s."""

    name: str
    scenarios: tuple[str, ...]
    users: int
    spawn_rate: float
    duration: float


@dataclass(frozen=True, slots=True)
class Schedule:
    """Stages run one after the other, from elapsed time 0."""

    stages: tuple[Stage, ...]
    source: str = ""

    @property
    def total_duration(self) -> float:
        return total_duration(self)

    @property
    def scenarios(self) -> tuple[str, ...]:
        """Every scenario named by some stage, in order of first appearance."""
        return tuple(dict.fromkeys(name for stage in self.stages for name in stage.scenarios))


def total_duration(schedule: Schedule) -> float:
    """Seconds from the start of the first stage to the end of the last."""
    return math.fsum(stage.duration for stage in schedule.stages)


def stage_at(schedule: Schedule, elapsed_s: float) -> tuple[int, Stage] | None:
    """The stage in force ``elapsed_s`` seconds into the run, with its index; None after the last.

    Stage ``i`` covers ``[start_i, start_i + duration_i)``: at a boundary the next stage is in force.
    """
    if elapsed_s < 0 or math.isnan(elapsed_s):
        raise ValueError(f"elapsed time must be >= 0, got {elapsed_s!r}")
    end = 0.0
    for index, stage in enumerate(schedule.stages):
        end += stage.duration
        if elapsed_s < end:
            return index, stage
    return None


DRAIN_RATE: Final = 10_000.0
"""Users/s to stop at a change of scenarios: as fast as the load tool can."""


@dataclass(frozen=True, slots=True)
class Tick:
    """What the load shape asks for now: ``users`` of ``scenarios`` at ``spawn_rate``/s."""

    users: int
    spawn_rate: float
    scenarios: tuple[str, ...]
    stage_index: int
    draining: bool = False


def next_tick(schedule: Schedule, elapsed_s: float, running: tuple[str, ...]) -> Tick | None:
    """The tick in force ``elapsed_s`` into the run, given the scenarios ``running`` now; None: stop.

    Locust only *adds* users of the classes a tick names and keeps the others, so when the set of
    scenarios changes the first tick of the new stage asks for zero users (a drain); the caller
    then runs nothing (``running = ()``) and the next tick starts the stage itself. Each stage thus
    runs exactly the scenarios it names.
    """
    found = stage_at(schedule, elapsed_s)
    if found is None:
        return None
    index, stage = found
    if running and set(running) != set(stage.scenarios):
        return Tick(0, DRAIN_RATE, stage.scenarios, index, draining=True)
    return Tick(stage.users, stage.spawn_rate, stage.scenarios, index)


def check_scenarios(schedule: Schedule, available: Set[str]) -> None:
    """Raise :class:`ConfigError` if a stage names a scenario that is not in ``available``."""
    for index, stage in enumerate(schedule.stages):
        for position, name in enumerate(stage.scenarios):
            if name not in available:
                close = difflib.get_close_matches(name, sorted(available), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    schedule.source,
                    f"stage[{index}].scenarios[{position}]",
                    f"no scenario named {name!r}{hint}; "
                    f"expected one of: {', '.join(sorted(available)) or '(none available)'}",
                )


def _positive(file: str, key: str, value: object, *, whole: bool) -> float:
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if not ok or isinstance(value, bool) or not math.isfinite(value) or value <= 0:  # type: ignore[arg-type]
        kind = "a whole number > 0" if whole else "a number > 0"
        raise ConfigError.expected(file, key, kind, value)
    return value  # type: ignore[return-value]


def _stage(file: str, index: int, table: object, seen: set[str]) -> Stage:
    path = f"stage[{index}]"
    if not isinstance(table, Mapping):
        raise ConfigError.expected(file, path, "a table ([[stage]])", table)
    check_keys(file, path, table, STAGE_KEYS)
    for key in STAGE_KEYS:
        if key not in table:
            raise ConfigError(file, f"{path}.{key}", "missing; every [[stage]] needs it")
    name = table["name"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError.expected(file, f"{path}.name", "a non-empty string", name)
    if name in seen:
        raise ConfigError(file, f"{path}.name", f"expected a unique stage name, {name!r} is taken")
    seen.add(name)
    scenarios = table["scenarios"]
    if not isinstance(scenarios, list) or not scenarios:
        raise ConfigError.expected(
            file, f"{path}.scenarios", "a non-empty list of scenario names", scenarios
        )
    for position, item in enumerate(scenarios):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError.expected(
                file, f"{path}.scenarios[{position}]", "a scenario name (string)", item
            )
        if item in scenarios[:position]:
            raise ConfigError(file, f"{path}.scenarios[{position}]", f"{item!r} is listed twice")
    return Stage(
        name=name,
        scenarios=tuple(scenarios),
        users=int(_positive(file, f"{path}.users", table["users"], whole=True)),
        spawn_rate=float(_positive(file, f"{path}.spawn_rate", table["spawn_rate"], whole=False)),
        duration=float(_positive(file, f"{path}.duration", table["duration"], whole=False)),
    )


def schedule_from_dict(data: Mapping[str, Any], source: str | Path) -> Schedule:
    """Validate parsed schedule data: ``{"stage": [ {...}, ... ]}``."""
    file = str(source)
    check_keys(file, "", data, ["stage"])
    if "stage" not in data:
        raise ConfigError(file, "stage", "missing; a schedule needs at least one [[stage]] table")
    stages = data["stage"]
    if not isinstance(stages, list) or not stages:
        raise ConfigError.expected(file, "stage", "at least one [[stage]] table", stages)
    seen: set[str] = set()
    return Schedule(tuple(_stage(file, i, table, seen) for i, table in enumerate(stages)), file)


def parse_schedule(path: str | Path) -> Schedule:
    """Read and validate a schedule TOML file; every problem is a :class:`ConfigError`."""
    return schedule_from_dict(load_toml(path), path)

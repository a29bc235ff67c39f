"""Thresholds: what a run must achieve, per scenario and for the server's counters.

The file format (TOML) is documented in ``docs/thresholds-and-schedule.md``::

    [defaults]
    max_error_rate = 0.0
    min_iterations = 10

    [scenarios.fast_halt.latency."start→halted"]
    p95 = 1000
    p99_vs_baseline = 5     # p99 at most 5x the latency probe's p99 in the same run
    abort = true            # stop the run at the first breach of this step's limits

    [server]
    unhandled_errors = 0

Parsing gives a frozen :class:`Thresholds`; :func:`thresholds_to_dict` gives the *effective*
thresholds (every scenario section filled in from ``[defaults]``) as plain data for the results file,
and :func:`thresholds_from_dict` reads that back (``wsrace check``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from loadgen.judge.config_errors import ConfigError, check_keys, join, load_toml
from loadgen.protocol.metrics import COUNTERS

__all__ = [
    "RELATIVE_STATS",
    "STATS",
    "LatencyLimit",
    "RelativeLimit",
    "ScenarioLimits",
    "Thresholds",
    "parse_thresholds",
    "thresholds_from_dict",
    "thresholds_to_dict",
]

STATS: tuple[str, ...] = ("p50", "p90", "p95", "p99", "max")
"""Latency statistics a limit can be put on, in milliseconds."""

RELATIVE_STATS: tuple[str, ...] = ("p50", "p90", "p95", "p99")
"""Latency statistics a limit relative to the run's baseline can be put on: ``<stat>_vs_baseline``."""

VS_BASELINE = "_vs_baseline"
ABORT = "abort"

BUILTIN_MAX_ERROR_RATE = 0.0
BUILTIN_MIN_ITERATIONS = 1
"""Used when a file has no ``[defaults]``: no failure allowed, and never a vacuous pass."""


@dataclass(frozen=True, slots=True)
class LatencyLimit:
    """``stat`` (one of :data:`STATS`) of step ``step`` must be at most ``max_ms``."""

    step: str
    stat: str
    max_ms: float
    abort: bool = False
    """Stop the run at the first breach (``abort = true`` in the step's table)."""


@dataclass(frozen=True, slots=True)
class RelativeLimit:
    """``stat`` of step ``step`` must be at most ``max_ratio`` times the same ``stat`` of the run's
    latency baseline (the probe's round trips, :mod:`loadgen.judge.baseline`)."""

    step: str
    stat: str
    max_ratio: float
    abort: bool = False

    @property
    def key(self) -> str:
        """The key it is written under: ``p99_vs_baseline``."""
        return f"{self.stat}{VS_BASELINE}"


@dataclass(frozen=True, slots=True)
class ScenarioLimits:
    """The effective limits of one scenario."""

    max_error_rate: float = BUILTIN_MAX_ERROR_RATE
    min_iterations: int = BUILTIN_MIN_ITERATIONS
    latency: tuple[LatencyLimit, ...] = ()
    relative: tuple[RelativeLimit, ...] = ()
    """Latency limits as a ratio to the run's baseline (``p99_vs_baseline = 5``)."""
    abort_on_error_rate: bool = False
    """Stop the run at the first breach of ``max_error_rate`` (``abort = true`` in the section)."""


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Parsed thresholds. ``scenarios`` holds effective (defaults-filled) limits per named scenario;
    ``server`` the maximum allowed growth of each /metrics counter named (others are unchecked)."""

    defaults: ScenarioLimits = ScenarioLimits()
    scenarios: Mapping[str, ScenarioLimits] = field(default_factory=_frozen)
    server: Mapping[str, int] = field(default_factory=_frozen)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scenarios", _frozen(self.scenarios))
        object.__setattr__(self, "server", _frozen(self.server))

    def for_scenario(self, name: str) -> ScenarioLimits:
        """The limits of scenario ``name``: its own section, else ``[defaults]``."""
        return self.scenarios.get(name, self.defaults)


# --- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Src:
    file: str
    dicts: str  # how a mapping is called in this format: "a table" (TOML) / "an object" (JSON)

    def fail(self, key: str, expectation: str, got: object) -> ConfigError:
        return ConfigError.expected(self.file, key, expectation, got, dicts=self.dicts)

    def table(self, key: str, value: object) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, self.dicts, value)
        return value


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _rate(src: _Src, key: str, value: object) -> float:
    if not _is_number(value) or not 0 <= value <= 1:  # type: ignore[operator]
        raise src.fail(key, "a number between 0 and 1", value)
    return float(value)  # type: ignore[arg-type]


def _count(src: _Src, key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise src.fail(key, f"a whole number >= {minimum}", value)
    return value


def _limits(
    src: _Src, path: str, table: Mapping[str, Any], base: ScenarioLimits, *, latency: bool
) -> ScenarioLimits:
    allowed = ["max_error_rate", "min_iterations", ABORT] + (["latency"] if latency else [])
    if not latency and "latency" in table:
        raise ConfigError(
            src.file,
            join(path, "latency"),
            "latency limits are per scenario and step: put them under "
            "[scenarios.NAME.latency.STEP]",
        )
    check_keys(src.file, path, table, allowed)
    rate = base.max_error_rate
    if "max_error_rate" in table:
        rate = _rate(src, join(path, "max_error_rate"), table["max_error_rate"])
    minimum = base.min_iterations
    if "min_iterations" in table:
        minimum = _count(src, join(path, "min_iterations"), table["min_iterations"], 1)
    abort = base.abort_on_error_rate
    if ABORT in table:
        abort = _flag(src, join(path, ABORT), table[ABORT])
    limits: list[LatencyLimit] = []
    relative: list[RelativeLimit] = []
    if "latency" in table:
        steps_path = join(path, "latency")
        for step, stats in src.table(steps_path, table["latency"]).items():
            step_path = join(steps_path, step)
            stats = src.table(step_path, stats)
            ratio_keys = [f"{stat}{VS_BASELINE}" for stat in RELATIVE_STATS]
            if not set(stats) - {ABORT}:
                raise ConfigError(
                    src.file, step_path,
                    f"expected at least one of {', '.join(STATS + tuple(ratio_keys))}, got none"
                )
            check_keys(src.file, step_path, stats, [*STATS, *ratio_keys, ABORT])
            step_abort = _flag(src, join(step_path, ABORT), stats[ABORT]) if ABORT in stats else False
            for stat in STATS:
                if stat in stats:
                    value = stats[stat]
                    if not _is_number(value) or value <= 0:
                        raise src.fail(join(step_path, stat), "a number of milliseconds > 0", value)
                    limits.append(LatencyLimit(step, stat, float(value), step_abort))
            for stat, key in zip(RELATIVE_STATS, ratio_keys, strict=True):
                if key in stats:
                    value = stats[key]
                    if not _is_number(value) or value < 1:
                        raise src.fail(
                            join(step_path, key), "a ratio >= 1 (times the baseline's " + stat + ")", value
                        )
                    relative.append(RelativeLimit(step, stat, float(value), step_abort))
    return ScenarioLimits(rate, minimum, tuple(limits), tuple(relative), abort)


def _flag(src: _Src, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise src.fail(key, "true or false", value)
    return value


def _server(src: _Src, table: Mapping[str, Any]) -> dict[str, int]:
    check_keys(src.file, "server", table, COUNTERS)
    return {
        name: _count(src, join("server", name), value, 0) for name, value in table.items()
    }


def thresholds_from_dict(
    data: Mapping[str, Any], source: str | Path, *, dicts: str = "a table"
) -> Thresholds:
    """Validate parsed thresholds data (from TOML, or embedded in a results file)."""
    src = _Src(str(source), dicts)
    data = src.table("", data)
    check_keys(src.file, "", data, ["defaults", "scenarios", "server"])
    defaults = ScenarioLimits()
    if "defaults" in data:
        defaults = _limits(
            src, "defaults", src.table("defaults", data["defaults"]), defaults, latency=False
        )
    scenarios: dict[str, ScenarioLimits] = {}
    for name, section in src.table("scenarios", data.get("scenarios", {})).items():
        path = join("scenarios", name)
        if not name.strip():
            raise ConfigError(src.file, path, "expected a scenario name, got an empty one")
        scenarios[name] = _limits(src, path, src.table(path, section), defaults, latency=True)
    server = _server(src, src.table("server", data.get("server", {})))
    return Thresholds(defaults, scenarios, server, source=src.file)


def parse_thresholds(path: str | Path) -> Thresholds:
    """Read and validate a thresholds TOML file; every problem is a :class:`ConfigError`."""
    return thresholds_from_dict(load_toml(path), path)


def _limits_to_dict(limits: ScenarioLimits, *, latency: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "max_error_rate": limits.max_error_rate,
        "min_iterations": limits.min_iterations,
    }
    if limits.abort_on_error_rate:
        out[ABORT] = True
    if latency:
        steps: dict[str, dict[str, Any]] = {}
        for limit in limits.latency:
            steps.setdefault(limit.step, {})[limit.stat] = limit.max_ms
        for relative in limits.relative:
            steps.setdefault(relative.step, {})[relative.key] = relative.max_ratio
        for limit in (*limits.latency, *limits.relative):
            if limit.abort:
                steps[limit.step][ABORT] = True
        out["latency"] = steps
    return out


def thresholds_to_dict(thresholds: Thresholds) -> dict[str, Any]:
    """The effective thresholds as plain data; :func:`thresholds_from_dict` reads it back equal."""
    return {
        "defaults": _limits_to_dict(thresholds.defaults, latency=False),
        "scenarios": {
            name: _limits_to_dict(limits, latency=True)
            for name, limits in thresholds.scenarios.items()
        },
        "server": dict(thresholds.server),
    }

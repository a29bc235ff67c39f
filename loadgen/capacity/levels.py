"""The hold schedule for N sessions, a capacity ramp's levels, and its verdict: pure.

A hold schedule ramps to N sessions at a connect rate, then holds them: one stage of ``N`` users
at ``rate``/s lasting ``N / rate + hold`` seconds. It is derived from a template schedule (the
shipped ``schedule-hold.toml``) whose one stage gives the rate and the hold
(``duration - users / spawn_rate``).

A ramp runs one hold per level, smallest first, and stops at the first level that fails; its
result is the last level that passed (:func:`max_sessions_passed`). What a level cost is a pure
function of the samples taken during it (:func:`figures`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from loadgen.judge.schedule import Schedule, Stage

__all__ = [
    "JITTER",
    "MIN_HOLD_S",
    "PROBE_CONNECTIONS",
    "HoldShape",
    "LevelFigures",
    "LevelsError",
    "Sample",
    "check_hold",
    "figures",
    "hold_problem",
    "hold_schedule",
    "hold_shape",
    "max_sessions_passed",
    "parse_levels",
    "per_added_session",
    "schedule_toml",
]

MIN_HOLD_S: Final = 60.0
"""The hold the profile promises by default: every session held at least this long at N."""
JITTER: Final = 0.2
"""A held period is ``--hold-interval`` times a uniform factor in [1 - JITTER, 1 + JITTER]
(scenarios/hold.py), so that sessions opened in the same second do not echo in lockstep."""


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


def check_hold(shape: HoldShape, interval_s: float) -> None:
    """Refuse a hold too short for its last session to finish one held period."""
    longest = interval_s * (1 + JITTER)
    if shape.hold_s < longest:
        raise LevelsError(f"--hold {shape.hold_s:g}: shorter than one held period (--hold-interval {interval_s:g} "
                          f"x {1 + JITTER:g} = {longest:g} s at most): the last sessions would never finish "
                          "one; hold longer or give a shorter --hold-interval")


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


PROBE_CONNECTIONS: Final = 1
"""Connections a ``wsrace run`` holds to the target besides its sessions: the latency probe's."""
MIB: Final = 2**20


@dataclass(frozen=True, slots=True)
class Sample:
    """Both sides at one moment of a level (:mod:`loadgen.capacity.sampler`); ``t`` in seconds
    since the level started. Target figures are None when the target is not ours (``--host``)."""

    t: float
    load_rss: int
    load_cpu_s: float
    load_processes: int
    target_rss: int | None
    target_cpu_s: float | None
    target_processes: int
    connections_open: float | None
    available_bytes: int


@dataclass(frozen=True, slots=True)
class LevelFigures:
    """What one level cost each side. RSS per session is the side's peak RSS summed over its
    processes divided by the sessions asked for (each process's own footprint included). CPU is in
    percent of one core, summed over a side's processes, during the ramp (first session open to
    all open) and the hold (all open, to the last sample that saw them all)."""

    peak_held: int | None
    connected_s: float | None
    connect_rate: float | None
    held_s: float | None
    """Seconds from the first sample that saw every session open to the last one that did."""
    load_rss_mib: float
    load_kib_per_session: float
    load_processes: int
    target_rss_mib: float | None
    target_kib_per_session: float | None
    target_idle_rss_mib: float | None
    """The target's RSS in the level's first sample, before any session (it starts before the run)."""
    target_kib_per_session_over_idle: float | None
    target_processes: int
    load_cpu_ramp: float | None
    load_cpu_hold: float | None
    target_cpu_ramp: float | None
    target_cpu_hold: float | None
    min_available_mib: float | None

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


def _cpu(samples: Sequence[Sample], start: float | None, end: float | None, side: str) -> float | None:
    if start is None or end is None or end <= start:
        return None
    inside = [s for s in samples if start <= s.t <= end and getattr(s, side) is not None]
    if len(inside) < 2:
        return None
    first, last = inside[0], inside[-1]
    return round((getattr(last, side) - getattr(first, side)) / (last.t - first.t) * 100.0, 1)


def figures(samples: Sequence[Sample], sessions: int) -> LevelFigures:
    """The figures of a level of ``sessions`` from its samples, in time order."""
    held = [(s.t, max(0, int(s.connections_open) - PROBE_CONNECTIONS)) for s in samples
            if s.connections_open is not None]
    began = next((t for t, n in held if n > 0), None)
    full = next((t for t, n in held if n >= sessions), None)
    last_full = next((t for t, n in reversed(held) if n >= sessions), None)
    peak_held = max((n for _, n in held), default=None)
    rate = None
    if began is not None and full is not None and full > began:
        at_began = next(n for t, n in held if t == began)
        rate = round((sessions - at_began) / (full - began), 1)
    load_peak = max((s.load_rss for s in samples), default=0)
    target_peaks = [s.target_rss for s in samples if s.target_rss is not None]
    target_peak = max(target_peaks) if target_peaks else None
    idle = target_peaks[0] if target_peaks else None
    return LevelFigures(
        peak_held=peak_held,
        connected_s=None if began is None or full is None else round(full - began, 1),
        connect_rate=rate,
        held_s=None if full is None or last_full is None else round(last_full - full, 1),
        load_rss_mib=round(load_peak / MIB, 1),
        load_kib_per_session=round(load_peak / 1024 / sessions, 1),
        load_processes=max((s.load_processes for s in samples), default=0),
        target_rss_mib=None if target_peak is None else round(target_peak / MIB, 1),
        target_kib_per_session=None if target_peak is None else round(target_peak / 1024 / sessions, 1),
        target_idle_rss_mib=None if idle is None else round(idle / MIB, 1),
        target_kib_per_session_over_idle=(None if target_peak is None or idle is None
                                          else round((target_peak - idle) / 1024 / sessions, 1)),
        target_processes=max((s.target_processes for s in samples), default=0),
        load_cpu_ramp=_cpu(samples, began, full, "load_cpu_s"),
        load_cpu_hold=_cpu(samples, full, last_full, "load_cpu_s"),
        target_cpu_ramp=_cpu(samples, began, full, "target_cpu_s"),
        target_cpu_hold=_cpu(samples, full, last_full, "target_cpu_s"),
        min_available_mib=round(min(s.available_bytes for s in samples) / MIB, 1) if samples else None,
    )


def hold_problem(found: LevelFigures, sessions: int, hold_s: float, sample_s: float) -> str | None:
    """Why a level did not hold its ``sessions`` for ``hold_s`` seconds, in words, or None. The
    samples come every ``sample_s`` seconds, so the hold seen may fall short by up to two of them."""
    if found.peak_held is None:
        return None  # /metrics never answered: the level's own run judged the target unreachable
    if found.peak_held < sessions:
        return f"the target never held all {sessions:,} sessions at once (at most {found.peak_held:,})"
    if found.held_s is None or found.held_s + 2 * sample_s < hold_s:
        rate = "" if found.connect_rate is None else f"; the connects came at {found.connect_rate:g}/s"
        return (f"all {sessions:,} sessions were held together for {found.held_s or 0:g} s of the {hold_s:g} s "
                f"asked{rate}: the ramp took the hold's time (ask a lower --connect-rate)")
    return None


def per_added_session(previous: Mapping[str, Any] | None, current: Mapping[str, Any], side: str) -> float | None:
    """KiB of ``side``'s (``"load"`` or ``"target"``) peak RSS per session added since the previous
    level (level entries with ``sessions`` and ``<side>_rss_mib``): what one more session costs,
    the footprint of the processes both levels ran taken out (a level with more processes adds
    theirs). None for the first level or a figure missing."""
    if previous is None:
        return None
    before, after = previous.get(f"{side}_rss_mib"), current.get(f"{side}_rss_mib")
    added = current["sessions"] - previous["sessions"]
    if before is None or after is None or added <= 0:
        return None
    return round((after - before) * 1024 / added, 1)

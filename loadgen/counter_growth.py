"""How much the server's counters grew over a run, from timestamped samples of ``/metrics``. Pure.

Counters only grow, unless the process that counts restarted: the server, or one of its workers
(``/metrics`` sums over workers, so one worker's restart takes its share out of the sum). So the
growth is summed over the intervals between consecutive samples; in an interval where a counter
went *down*, it restarted from zero, and its value at the later sample is what it grew since (the
convention of Prometheus' ``increase()``). Such an interval is recorded as a :class:`Reset`: the
growth then includes what the other workers counted before the run, so it is an upper bound, never
an undercount that could hide a bug.

A counter missing from a sample is not compared across it: its last value carries forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Growth", "Reset", "Sample", "flatten", "growth"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One read of ``/metrics``, ``t`` seconds after the run's first; ``counters`` None if it failed."""

    t: float
    at: str
    counters: Mapping[str, float] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"t": round(self.t, 3), "at": self.at}
        if self.counters is None:
            out["error"] = self.error
        else:
            out["counters"] = dict(self.counters)
        return out


@dataclass(frozen=True, slots=True)
class Reset:
    """Counters that went down between two samples: the later one was taken ``t`` s into the run."""

    t: float
    counters: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"t": round(self.t, 3), "counters": list(self.counters)}


@dataclass(frozen=True, slots=True)
class Growth:
    counters: dict[str, float] = field(default_factory=dict)
    resets: tuple[Reset, ...] = ()


def flatten(values: Mapping[str, float], closes: Mapping[str, float]) -> dict[str, float]:
    """Counter values by short name, closes as ``closes.<code>`` (the results file's keys)."""
    return {**values, **{f"closes.{code}": n for code, n in closes.items()}}


def growth(samples: Sequence[Sample]) -> Growth:
    """The growth of every counter over ``samples`` (in time order; failed reads are skipped)."""
    read = [s for s in samples if s.counters is not None]
    if not read:
        return Growth()
    last: dict[str, float] = dict(read[0].counters or {})
    total = dict.fromkeys(last, 0.0)
    resets: list[Reset] = []
    for sample in read[1:]:
        down: list[str] = []
        for name, value in (sample.counters or {}).items():
            before = last.get(name, 0.0)
            if value >= before:
                total[name] = total.get(name, 0.0) + (value - before)
            else:
                total[name] = total.get(name, 0.0) + value
                down.append(name)
            last[name] = value
        if down:
            resets.append(Reset(sample.t, tuple(sorted(down))))
    return Growth(total, tuple(resets))

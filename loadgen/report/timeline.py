"""The run's per-interval samples (the results file's ``timeline``): pure maths, no Locust, no I/O.

The judging process reads, every few seconds, two *cumulative* sources: the collector's iteration
tallies per scenario, and Locust's per-step stats (``num_requests``, ``num_failures`` and the
``response_times`` histogram: rounded ms -> count; on a master, the merged workers' stats). A
:class:`Snapshot` holds one read; :func:`interval_between` turns two reads into what happened
between them, as deltas. A count that went *down* means the source was reset in between (Locust's
"reset stats", a new run's ``clear_all``, a new collector): the delta is then the new cumulative
value, from zero — what came before the reset in that interval is lost, never counted negative.

Percentiles of an interval are exact for Locust's histogram: they are taken from the *delta* of the
histograms with Locust's own rule (:func:`percentile`), not averaged from whole-run figures.

:class:`Timeline` keeps at most ``max_samples`` samples: when one more would not fit, neighbours
are merged in pairs (counts and histograms added, percentiles taken again from the merged
histogram, so still exact) and each later sample spans twice as many reads. A run of any length
thus writes between ``max_samples / 2`` and ``max_samples`` samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "MAX_SAMPLES",
    "Counts",
    "Interval",
    "Sample",
    "Snapshot",
    "StepCounts",
    "Timeline",
    "interval_between",
    "percentile",
    "stage_spans",
]

MAX_SAMPLES: Final = 200
"""At a 2 s interval, 400 s before the first merge: the full profile (5 min) is never coarsened,
and a long soak's file stays under about a megabyte."""

PERCENTILES: Final = (("p95", 0.95), ("p99", 0.99))


def percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """The response time (ms) that ``fraction`` of the histogram's requests finished within, by
    Locust's rule (``locust.stats.calculate_response_time_percentile``): walk the buckets from
    the slowest down until no more than ``fraction`` of the requests are left. None if empty."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    allowed = int(total * fraction)
    processed = 0
    for bucket in sorted(histogram, reverse=True):
        processed += histogram[bucket]
        if total - processed <= allowed:
            return float(bucket)
    return float(min(histogram))  # not reached: the loop ends with nothing left


def _add_histograms(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    out = dict(a)
    for bucket, count in b.items():
        out[bucket] = out.get(bucket, 0) + count
    return out


@dataclass(frozen=True, slots=True)
class Counts:
    """Iteration outcomes of one scenario (cumulative in a snapshot, a delta in an interval)."""

    attempts: int = 0
    successes: int = 0
    failures: int = 0
    interrupted: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.attempts + other.attempts, self.successes + other.successes,
                      self.failures + other.failures, self.interrupted + other.interrupted)

    def since(self, before: Counts) -> Counts:
        """What was counted after ``before``; all of this if any counter went down (a reset)."""
        fields = (self.attempts - before.attempts, self.successes - before.successes,
                  self.failures - before.failures, self.interrupted - before.interrupted)
        return self if min(fields) < 0 else Counts(*fields)

    @property
    def empty(self) -> bool:
        return not (self.attempts or self.successes or self.failures or self.interrupted)


@dataclass(frozen=True, slots=True)
class StepCounts:
    """One step's requests, failures and latency histogram (rounded ms -> count)."""

    count: int = 0
    failures: int = 0
    histogram: Mapping[int, int] = field(default_factory=dict)

    def __add__(self, other: StepCounts) -> StepCounts:
        return StepCounts(self.count + other.count, self.failures + other.failures,
                          _add_histograms(self.histogram, other.histogram))

    def since(self, before: StepCounts) -> StepCounts:
        """What was recorded after ``before``; all of this if anything went down (a reset)."""
        if self.count < before.count or self.failures < before.failures or any(
                self.histogram.get(bucket, 0) < n for bucket, n in before.histogram.items()):
            return self
        histogram = {b: n - before.histogram.get(b, 0) for b, n in self.histogram.items()}
        return StepCounts(self.count - before.count, self.failures - before.failures,
                          {b: n for b, n in histogram.items() if n})

    @property
    def empty(self) -> bool:
        return not (self.count or self.failures)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One read of the cumulative sources: scenario -> counts, and (scenario, step) -> step counts."""

    scenarios: Mapping[str, Counts] = field(default_factory=dict)
    steps: Mapping[tuple[str, str], StepCounts] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Interval:
    """What happened between two snapshots, per scenario: counts and per-step counts (only the
    scenarios and steps with something in it)."""

    scenarios: Mapping[str, Counts] = field(default_factory=dict)
    steps: Mapping[tuple[str, str], StepCounts] = field(default_factory=dict)

    def __add__(self, other: Interval) -> Interval:
        scenarios = dict(self.scenarios)
        for name, counts in other.scenarios.items():
            scenarios[name] = scenarios.get(name, Counts()) + counts
        steps = dict(self.steps)
        for key, counts in other.steps.items():
            steps[key] = steps.get(key, StepCounts()) + counts
        return Interval(scenarios, steps)

    @property
    def empty(self) -> bool:
        return not self.scenarios and not self.steps


def interval_between(before: Snapshot, after: Snapshot) -> Interval:
    """The deltas from ``before`` to ``after`` (a source that was reset counts from zero)."""
    scenarios = {name: counts.since(before.scenarios.get(name, Counts()))
                 for name, counts in after.scenarios.items()}
    steps = {key: counts.since(before.steps.get(key, StepCounts())) for key, counts in after.steps.items()}
    return Interval({k: v for k, v in scenarios.items() if not v.empty},
                    {k: v for k, v in steps.items() if not v.empty})


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: the interval ``[start_s, end_s)`` seconds into the run, made of ``reads`` reads."""

    start_s: float
    end_s: float
    interval: Interval
    reads: int = 1

    def __add__(self, later: Sample) -> Sample:
        return Sample(self.start_s, later.end_s, self.interval + later.interval, self.reads + later.reads)

    def to_dict(self) -> dict[str, Any]:
        scenarios: dict[str, dict[str, Any]] = {}
        names = sorted(set(self.interval.scenarios) | {scenario for scenario, _ in self.interval.steps})
        for name in names:
            counts = self.interval.scenarios.get(name, Counts())
            completed = counts.successes + counts.failures
            scenarios[name] = {
                "attempts": counts.attempts, "successes": counts.successes, "failures": counts.failures,
                "interrupted": counts.interrupted,
                "error_rate": counts.failures / completed if completed else None,
                "steps": {step: _step_dict(stats) for (scenario, step), stats in sorted(self.interval.steps.items())
                          if scenario == name},
            }
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3), "scenarios": scenarios}


def _step_dict(stats: StepCounts) -> dict[str, Any]:
    out: dict[str, Any] = {"count": stats.count, "failures": stats.failures}
    out.update({name: percentile(stats.histogram, fraction) for name, fraction in PERCENTILES})
    return out


class Timeline:
    """Samples in time order, at most ``max_samples`` of them (neighbours merged in pairs past that).

    Each sample spans ``2 ** coarsened`` reads: a new read joins the last sample until it has that
    many, then starts a new one.
    """

    def __init__(self, interval_s: float, max_samples: int = MAX_SAMPLES) -> None:
        if interval_s <= 0 or max_samples < 2:
            raise ValueError(f"need interval_s > 0 and max_samples >= 2, got {interval_s!r}, {max_samples!r}")
        self.interval_s = interval_s
        self.max_samples = max_samples
        self.coarsened = 0
        self.samples: list[Sample] = []

    @property
    def reads_per_sample(self) -> int:
        return 2 ** self.coarsened

    def add(self, start_s: float, end_s: float, interval: Interval) -> None:
        """Record one read: what happened from ``start_s`` to ``end_s`` seconds into the run."""
        sample = Sample(start_s, end_s, interval)
        if self.samples and self.samples[-1].reads < self.reads_per_sample:
            self.samples[-1] = self.samples[-1] + sample
            return
        self.samples.append(sample)
        if len(self.samples) > self.max_samples:
            self.samples = list(_pairs(self.samples))
            self.coarsened += 1

    def to_dict(self, stages: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
        """The results file's ``timeline`` (docs/results-format.md), with the given stage spans."""
        return {
            "interval_s": self.interval_s * self.reads_per_sample,
            "base_interval_s": self.interval_s,
            "max_samples": self.max_samples,
            "coarsened": self.coarsened,
            "stages": [dict(stage) for stage in stages],
            "samples": [sample.to_dict() for sample in self.samples],
        }


def _pairs(samples: Sequence[Sample]) -> Iterable[Sample]:
    for index in range(0, len(samples) - 1, 2):
        yield samples[index] + samples[index + 1]
    if len(samples) % 2:
        yield samples[-1]


def stage_spans(stages: Sequence[tuple[str, float]], shape_start_s: float, end_s: float) -> list[dict[str, Any]]:
    """The stages as they ran: ``(name, duration)`` in order, the shape's clock starting
    ``shape_start_s`` seconds into the run, the run ending at ``end_s``. Stages that had not begun
    by then are left out; the one in force then ends there."""
    out = []
    start = shape_start_s
    for name, duration in stages:
        if start >= end_s:
            break
        end = min(start + duration, end_s)
        out.append({"name": name, "start_s": round(max(start, 0.0), 3), "end_s": round(end, 3)})
        start += duration
    return out

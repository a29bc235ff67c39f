"""The timeline's maths, pure: interval percentiles from histogram deltas, deltas across resets,
the bound on the number of samples, and the stage spans as they ran."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from loadgen.report.timeline import (
    Counts,
    Interval,
    Snapshot,
    StepCounts,
    Timeline,
    interval_between,
    percentile,
    stage_spans,
)


def histogram(times: list[int]) -> dict[int, int]:
    return dict(Counter(times))


def nearest_rank(times: list[int], fraction: float) -> float:
    """The reference, over the raw list: the largest time with at most ``int(n * fraction)``
    requests faster than it — Locust's walk from the slowest bucket down, written another way."""
    allowed = int(len(times) * fraction)
    return float(max(t for t in set(times) if sum(x < t for x in times) <= allowed))


@pytest.mark.parametrize(("times", "fraction", "expected"), [
    ([10] * 199 + [500], 0.99, 10.0),    # 1 in 200 above: the p99 is not the outlier
    ([10] * 99 + [500], 0.99, 500.0),    # 1 in 100: it is (Locust's rule)
    ([1, 2, 3, 4], 0.5, 3.0),
    ([7], 0.95, 7.0),
])
def test_percentile_follows_locusts_rule(times: list[int], fraction: float, expected: float) -> None:
    """The percentile of a histogram is the bucket Locust's walk from the slowest down stops at."""
    assert percentile(histogram(times), fraction) == expected
    assert percentile(histogram(times), fraction) == nearest_rank(times, fraction)


def test_percentile_of_nothing_is_none() -> None:
    """No request in the interval: no percentile, never 0 ms."""
    assert percentile({}, 0.99) is None


def step_of(times: list[int], failures: int = 0) -> StepCounts:
    return StepCounts(len(times), failures, histogram(times))


def test_interval_percentiles_are_those_of_the_interval_alone() -> None:
    """Cumulative histograms read twice: the delta's p95/p99 are those of the requests in between,
    however different the requests before were."""
    rng = random.Random(11)
    before = [rng.randint(1, 20) for _ in range(500)]
    during = [rng.randint(300, 900) for _ in range(137)]
    first = Snapshot({}, {("s", "step"): step_of(before)})
    second = Snapshot({}, {("s", "step"): step_of(before + during, failures=3)})
    found = interval_between(first, second).steps[("s", "step")]
    assert found.count == len(during) and found.failures == 3
    for fraction in (0.95, 0.99):
        assert percentile(found.histogram, fraction) == nearest_rank(during, fraction)


def test_counts_are_deltas_and_a_reset_counts_from_zero() -> None:
    """Counters that grew give their growth; counters that went down (a reset in between) give
    their new value: nothing negative, nothing counted twice."""
    grown = interval_between(Snapshot({"a": Counts(10, 6, 2, 1)}), Snapshot({"a": Counts(15, 9, 3, 1)}))
    assert grown.scenarios["a"] == Counts(5, 3, 1, 0)
    reset = interval_between(Snapshot({"a": Counts(10, 6, 2, 1)}), Snapshot({"a": Counts(4, 3, 0, 0)}))
    assert reset.scenarios["a"] == Counts(4, 3, 0, 0)
    after = step_of([5, 6])
    assert interval_between(Snapshot({}, {("a", "x"): step_of([1, 2, 3])}),
                            Snapshot({}, {("a", "x"): after})).steps[("a", "x")] == after


def test_a_histogram_that_shrank_in_one_bucket_is_a_reset() -> None:
    """Same count but a bucket went down: Locust's stats were reset and refilled in between."""
    before, after = step_of([1, 1, 9]), step_of([1, 9, 9])
    assert interval_between(Snapshot({}, {("a", "x"): before}), Snapshot({}, {("a", "x"): after})).steps[
        ("a", "x")] == after


def test_nothing_new_is_an_empty_interval() -> None:
    """A scenario or step with no change is left out of the interval."""
    same = Snapshot({"a": Counts(3, 3, 0, 0)}, {("a", "x"): step_of([4, 5, 6])})
    assert interval_between(same, same) == Interval()


def test_samples_are_bounded_and_merging_keeps_every_count_and_exact_percentiles() -> None:
    """Far more reads than max_samples: at most max_samples samples; every count kept; merged
    samples' percentiles are those of all their requests; each later sample spans 2**k reads."""
    rng = random.Random(5)
    timeline = Timeline(interval_s=2.0, max_samples=8)
    reads = 53
    per_read = [[rng.randint(1, 1000) for _ in range(rng.randint(1, 30))] for _ in range(reads)]
    for index, times in enumerate(per_read):
        timeline.add(2.0 * index, 2.0 * (index + 1),
                     Interval({"s": Counts(len(times), len(times), 0, 0)}, {("s", "x"): step_of(times)}))
        assert len(timeline.samples) <= 8
    assert timeline.coarsened >= 1
    samples = timeline.samples
    assert sum(s.reads for s in samples) == reads
    assert sum(s.interval.scenarios["s"].attempts for s in samples) == sum(map(len, per_read))
    assert [s.start_s for s in samples[1:]] == [s.end_s for s in samples[:-1]]  # contiguous, in order
    done = 0
    for sample in samples:
        raw = [t for times in per_read[done:done + sample.reads] for t in times]
        assert percentile(sample.interval.steps[("s", "x")].histogram, 0.99) == nearest_rank(raw, 0.99)
        done += sample.reads
    section = timeline.to_dict()
    assert section["interval_s"] == 2.0 * 2 ** timeline.coarsened
    assert len(section["samples"]) == len(samples)


def test_a_sample_as_data_has_error_rate_and_step_percentiles() -> None:
    """Only the scenarios seen in the interval; error rate of the completed iterations."""
    timeline = Timeline(interval_s=2.0)
    steps = {("a", "x"): step_of([10, 20]), ("b", "y"): step_of([30])}  # b: requests, no iteration ended
    timeline.add(0.0, 2.0, Interval({"a": Counts(5, 3, 1, 1)}, steps))
    (sample,) = timeline.to_dict()["samples"]
    assert sample["start_s"] == 0.0 and sample["end_s"] == 2.0
    assert sample["scenarios"]["a"]["error_rate"] == pytest.approx(1 / 4)
    assert sample["scenarios"]["a"]["steps"]["x"] == {"count": 2, "failures": 0, "p95": 20.0, "p99": 20.0}
    assert sample["scenarios"]["b"]["error_rate"] is None and sample["scenarios"]["b"]["attempts"] == 0


@pytest.mark.parametrize(("shape_start", "end", "expected"), [
    (0.5, 100.0, [("warm", 0.5, 5.5), ("storm", 5.5, 15.5), ("all", 15.5, 27.5)]),   # ran to its end
    (0.5, 9.0, [("warm", 0.5, 5.5), ("storm", 5.5, 9.0)]),   # stopped in the second stage
    (-0.2, 3.0, [("warm", 0.0, 3.0)]),   # the shape's clock began just before the load
])
def test_stage_spans_are_the_stages_as_they_ran(shape_start: float, end: float,
                                                expected: list[tuple[str, float, float]]) -> None:
    """Stages on the shape's clock, the one in force at the end cut there, later ones left out."""
    stages = [("warm", 5.0), ("storm", 10.0), ("all", 12.0)]
    assert [(s["name"], s["start_s"], s["end_s"]) for s in stage_spans(stages, shape_start, end)] == expected

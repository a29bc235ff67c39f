"""A judged results document with a timeline, for the plot and HTML tests (built, not typed in)."""

from __future__ import annotations

from typing import Any

from loadgen.judge.results import ScenarioTally, build_results
from loadgen.judge.thresholds import thresholds_from_dict
from loadgen.report.timeline import Counts, Interval, StepCounts, Timeline, stage_spans
from tests.judge.samples import meta, step

SCENARIOS = {"fast_halt": ["connect", "start→halted"], "steady": ["connect", "echo"], "pressure": ["start"]}
STAGES = [("warm-up", 4.0), ("storm", 6.0), ("all <together>", 4.0)]


def document(*, failing: str | None = "steady", reads: int = 7) -> dict[str, Any]:
    """A results document of SCENARIOS over STAGES; ``failing`` has failed iterations."""
    timeline = Timeline(interval_s=2.0)
    for index in range(reads):
        scenarios, steps = {}, {}
        for name, step_names in SCENARIOS.items():
            failures = 2 if name == failing and index % 2 else 0
            scenarios[name] = Counts(10, 10 - failures, failures, 0)
            for offset, step_name in enumerate(step_names):
                steps[(name, step_name)] = StepCounts(10, 0, {10 * (offset + 1) + index: 9, 200 + 50 * index: 1})
        timeline.add(2.0 * index, 2.0 * (index + 1), Interval(scenarios, steps))
    tallies = {name: ScenarioTally(successes=60, failures=6 if name == failing else 0, attempts=66)
               for name in SCENARIOS}
    steps = {name: {s: step(10.0, 50.0, 90.0) for s in names} for name, names in SCENARIOS.items()}
    limits = thresholds_from_dict({"defaults": {"max_error_rate": 0.0, "min_iterations": 10},
                                   "scenarios": {"steady": {"latency": {"echo": {"p99": 100}}}}, "server": {}},
                                  "t.toml")
    section = timeline.to_dict(stage_spans(STAGES, 0.0, 2.0 * reads))
    return build_results(meta(), tallies, steps, {}, limits, timeline=section)

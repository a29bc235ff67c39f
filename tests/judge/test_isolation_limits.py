"""The isolation scenario's limits are written as a fraction of its STEP_MS: the two cannot drift apart."""

from __future__ import annotations

import ast
from pathlib import Path

from loadgen.judge.thresholds import parse_thresholds
from loadgen.paths import default_thresholds

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "isolation.py"
B_STEPS = ("echo during a step", "job during a step")


def scenario_constant(name: str) -> int:
    """A module-level constant of scenarios/isolation.py, read from its source (no Locust imported)."""
    for node in ast.parse(SCENARIO.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{SCENARIO} has no constant {name}")


def test_b_limits_are_half_of_a_step() -> None:
    """Each of B's steps is limited, p99, to STEP_MS / 2 in the shipped thresholds (well under a step)."""
    step_ms = scenario_constant("STEP_MS")
    limits = parse_thresholds(default_thresholds()).scenarios["isolation"].latency
    p99 = {limit.step: limit.max_ms for limit in limits if limit.stat == "p99"}
    assert {step: p99.get(step) for step in B_STEPS} == {step: step_ms / 2 for step in B_STEPS}


def test_b_steps_are_the_ones_the_scenario_times() -> None:
    """The limited step names are the names the scenario reports B's work under."""
    source = SCENARIO.read_text(encoding="utf-8")
    for name in B_STEPS:
        assert f'self.step("{name}")' in source

"""Fail fast (k6's ``abortOnFail``): which breach of an ``abort = true`` threshold stops the run. Pure.

A threshold that says ``abort = true`` (a scenario section: its ``max_error_rate``; a latency step's
table: every limit of that step, absolute or relative) is judged while the run goes on, on the
judging process, from what has been counted so far (:mod:`loadgen.abort` calls
:func:`first_breach` about once a second). A scenario is judged only once it has completed its
``min_iterations`` — a first slow iteration is not a verdict — and only a measured breach counts:
a step with no timings yet, or a baseline not yet measured, never aborts (the final verdict still
judges them). The first breach, in the order :func:`~loadgen.judge.evaluate.evaluate` returns
verdicts, stops the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from loadgen.judge.evaluate import evaluate
from loadgen.judge.thresholds import ScenarioLimits, Thresholds

__all__ = ["Breach", "abort_metrics", "first_breach"]


@dataclass(frozen=True, slots=True)
class Breach:
    """The breach that stopped the run: ``at_s`` seconds after it started. ``to_dict`` is the
    results file's ``run.aborted``."""

    at_s: float
    scenario: str
    metric: str
    value: float | int | None
    limit: float | int | None
    message: str

    def describe(self) -> str:
        """``aborted at +12.3 s: fast_halt latency.start→halted.p99: step 'start→halted' p99 …``."""
        return f"aborted at +{self.at_s:.1f} s: {self.scenario} {self.metric}: {self.message} (abort = true)"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reason"] = self.describe()
        return out


def abort_metrics(limits: ScenarioLimits) -> frozenset[str]:
    """The verdict metrics of ``limits`` whose breach stops the run."""
    metrics = {f"latency.{lim.step}.{lim.stat}" for lim in limits.latency if lim.abort}
    metrics |= {f"latency.{lim.step}.{lim.key}" for lim in limits.relative if lim.abort}
    if limits.abort_on_error_rate:
        metrics.add("error_rate")
    return frozenset(metrics)


def first_breach(doc: Mapping[str, Any], thresholds: Thresholds, at_s: float) -> Breach | None:
    """The first breach of an ``abort = true`` threshold in the run so far, or None.

    ``doc`` has the results file's ``scenarios`` (tallies and ``steps``) and ``baseline``, as counted
    up to ``at_s`` seconds into the run."""
    scenarios: Mapping[str, Any] = doc.get("scenarios") or {}
    for name, entry in scenarios.items():
        limits = thresholds.for_scenario(name)
        wanted = abort_metrics(limits)
        iterations = int(entry.get("successes", 0)) + int(entry.get("failures", 0))
        if not wanted or iterations < limits.min_iterations:
            continue
        judged = evaluate({"scenarios": {name: entry}, "baseline": doc.get("baseline")}, thresholds)
        for verdict in judged:
            if (verdict.category == "scenario" and verdict.check == name and verdict.metric in wanted
                    and not verdict.passed and verdict.value is not None):
                return Breach(round(at_s, 3), name, verdict.metric, verdict.value, verdict.limit, verdict.message)
    return None

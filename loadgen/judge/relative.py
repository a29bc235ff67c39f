"""Latency judged against the same run: ``p99_vs_baseline = 5`` and its report. Pure.

An absolute limit loose enough for a slow CI runner is loose enough for a lock held across awaits
(latencies 15-90x higher, still under ``p99 = 2500``). A ratio to the run's own baseline — the
latency probe's round trips on an unloaded connection, measured through the same run on the same
machine (:mod:`loadgen.judge.baseline`) — holds on a fast and on a slow machine alike, and is
broken by a server that makes one client wait for another.

:func:`ratio_checks` judges a scenario's relative limits (the evaluation's caller turns each into a
:class:`~loadgen.judge.evaluate.Verdict`); a missing or thin baseline fails them with the reason,
never passes them vacuously. :func:`render_baseline` is the verdict table's part: the baseline and
each ratio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from loadgen.judge.baseline import baseline_problem
from loadgen.judge.thresholds import RelativeLimit

__all__ = ["RatioCheck", "format_ratio", "ratio_checks", "render_baseline"]

TIMES = "\N{MULTIPLICATION SIGN}"

BASELINE_FLOOR_MS = 10.0
"""A ratio is taken to the baseline or to this, whichever is larger. An idle probe on a quiet
machine answers in 1-2 ms, where scheduling jitter, a step's own sleeps and the load itself
dominate any step: 42 ms against a 2 ms probe was 21x on a correct target (a separate master, whose
probe was idle). Below 10 ms a ratio says nothing about a lock; above it, it holds on any speed."""


@dataclass(frozen=True, slots=True)
class RatioCheck:
    """The outcome of one relative limit: ``value`` is the ratio (None: it could not be measured)."""

    metric: str
    limit: float
    value: float | None
    passed: bool
    message: str


class _VerdictLike(Protocol):
    category: str
    check: str
    metric: str
    limit: float | int | None
    value: float | int | None
    passed: bool


def format_ratio(ratio: float | None) -> str:
    """``2.345`` → ``"2.3"`` and the multiplication sign; None → ``"-"``."""
    return "-" if ratio is None else f"{ratio:.1f}{TIMES}"


def _ms(ms: float) -> str:
    text = f"{ms:.1f}"
    return text[:-2] if text.endswith(".0") else text


def ratio_checks(
    steps: Mapping[str, Any], limits: Sequence[RelativeLimit], baseline: Mapping[str, Any] | None
) -> list[RatioCheck]:
    """One check per relative limit of a scenario, given its ``steps`` stats and the run's baseline."""
    problem = baseline_problem(baseline)
    out = []
    for limit in limits:
        metric = f"latency.{limit.step}.{limit.key}"
        wanted = f"{limit.stat} <= {limit.max_ratio:g}{TIMES} the baseline's"
        step = steps.get(limit.step)
        value = None if step is None else step.get(limit.stat)
        base = None if baseline is None else baseline.get(limit.stat)
        if step is None:
            out.append(RatioCheck(metric, limit.max_ratio, None, False,
                                  f"step {limit.step!r} never ran: cannot check {wanted}"))
        elif value is None or not step.get("count"):
            lost = int(step.get("failures") or 0)
            out.append(RatioCheck(metric, limit.max_ratio, None, False,
                                  f"step {limit.step!r} has no timings ({lost} failures): cannot check {wanted}"))
        elif problem is not None or base is None or base <= 0:
            why = problem or f"the baseline has no {limit.stat} above 0 ms"
            out.append(RatioCheck(metric, limit.max_ratio, None, False, f"{why}: cannot check {wanted}"))
        else:
            reference = max(base, BASELINE_FLOOR_MS)
            ratio = value / reference
            ok = ratio <= limit.max_ratio
            sign = "<=" if ok else ">"
            floored = f" (floor {_ms(BASELINE_FLOOR_MS)} ms)" if reference > base else ""
            msg = (f"step {limit.step!r} {limit.stat} {_ms(value)} ms = {format_ratio(ratio)} the baseline's "
                   f"{_ms(base)} ms{floored} {sign} limit {limit.max_ratio:g}{TIMES}")
            out.append(RatioCheck(metric, limit.max_ratio, round(ratio, 3), ok, msg))
    return out


def render_baseline(verdicts: Sequence[_VerdictLike], doc: Mapping[str, Any]) -> str | None:
    """The table's baseline part: the probe's round trips, then a row per relative limit judged;
    None when the run has neither a baseline nor a relative limit."""
    baseline: Mapping[str, Any] | None = doc.get("baseline")
    judged = [v for v in verdicts if v.category == "scenario" and v.metric.endswith("_vs_baseline")]
    if not baseline and not judged:
        return None
    lines = []
    problem = baseline_problem(baseline)
    if baseline and int(baseline.get("count") or 0):
        stats = ", ".join(f"{s} {_ms(baseline[s])}" for s in ("p50", "p95", "p99") if baseline.get(s) is not None)
        fails = int(baseline.get("failures") or 0)
        aside = f", {fails} failed" if fails else ""
        lines.append(f"latency baseline (probe echo, {baseline['count']} round trips{aside}): {stats} ms")
    if problem:
        lines.append(f"latency baseline: {problem}")
    if judged:
        scenarios: Mapping[str, Any] = doc.get("scenarios") or {}
        rows = []
        for v in judged:
            step, key = v.metric.removeprefix("latency.").rsplit(".", 1)
            stat = key.removesuffix("_vs_baseline")
            measured = ((scenarios.get(v.check) or {}).get("steps") or {}).get(step, {}).get(stat)
            base = (baseline or {}).get(stat)
            rows.append([v.check, step, stat, "-" if measured is None else _ms(measured),
                         "-" if base is None else _ms(base), format_ratio(v.value),
                         "-" if v.limit is None else f"{v.limit:g}{TIMES}", "PASS" if v.passed else "FAIL"])
        headers = ["scenario", "step", "stat", "ms", "baseline ms", "ratio", "limit", "verdict"]
        lines.append(_grid(headers, rows, right=(3, 4, 5, 6)))
    return "\n".join(lines)


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int]) -> str:
    # The table module's grid, repeated here: the table imports this module, not the reverse.
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])

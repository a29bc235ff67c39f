"""Compare a results file with a baseline: per scenario and step, side by side. Pure.

A change is a *regression* when

- a scenario's error rate grew by more than ``max_error_rate_increase`` (absolute: 0.01 = one
  percentage point), or it completed no iteration where the baseline did;
- a step's p50, p95 or p99 grew by more than ``max_latency_increase`` (relative: 0.25 = +25%)
  *and* by more than ``latency_floor_ms`` (so a 1 ms → 2 ms wobble is not a +100% regression);
- a scenario or step of the baseline is missing from the results.

A failure kind that the baseline did not have is reported (status ``new kind``) but is not by itself
a regression: the thresholds (``wsrace check``) are where "any failure fails" is said.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from loadgen.judge.evaluate import format_ms, format_rate
from loadgen.judge.table import grid

__all__ = [
    "LATENCY_STATS",
    "Change",
    "Tolerance",
    "compare",
    "regressions",
    "render_comparison",
]

LATENCY_STATS: tuple[str, ...] = ("p50", "p95", "p99")

Status = Literal["ok", "better", "regressed", "missing", "new", "new kind"]
REGRESSION: frozenset[str] = frozenset({"regressed", "missing"})


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How much worse the results may be than the baseline before it counts as a regression."""

    max_error_rate_increase: float = 0.01
    max_latency_increase: float = 0.25
    latency_floor_ms: float = 5.0


@dataclass(frozen=True, slots=True)
class Change:
    """One compared figure. ``step`` is None for scenario-level rows (error rate, presence,
    failure kinds); ``metric`` is ``error_rate``, ``p50``/``p95``/``p99``, ``scenario``, ``step``
    or ``kind <name>``. Error rates are fractions, latencies milliseconds, kinds counts."""

    scenario: str
    step: str | None
    metric: str
    baseline: float | None
    current: float | None
    status: Status
    note: str = ""

    @property
    def regressed(self) -> bool:
        return self.status in REGRESSION

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def relative(self) -> float | None:
        delta = self.delta
        if delta is None or not self.baseline:
            return None
        return delta / self.baseline


def _rate(entry: Mapping[str, Any]) -> float | None:
    iterations = int(entry.get("successes", 0)) + int(entry.get("failures", 0))
    return entry.get("failures", 0) / iterations if iterations else None


def _error_rate(name: str, old: Mapping[str, Any], new: Mapping[str, Any], tol: Tolerance) -> Change:
    before, after = _rate(old), _rate(new)
    if after is None:
        status: Status = "regressed" if before is not None else "ok"
        return Change(name, None, "error_rate", before, after, status, "no completed iterations")
    if before is None:
        return Change(name, None, "error_rate", before, after, "new", "baseline had no iterations")
    delta = after - before
    if delta > tol.max_error_rate_increase:
        status = "regressed"
    elif delta < -tol.max_error_rate_increase:
        status = "better"
    else:
        status = "ok"
    return Change(name, None, "error_rate", before, after, status)


def _latency(
    name: str, step: str, stat: str, before: float | None, after: float | None, tol: Tolerance
) -> Change:
    if before is None and after is None:
        return Change(name, step, stat, None, None, "ok", "no timings")
    if after is None:
        return Change(name, step, stat, before, None, "regressed", "no timings in results")
    if before is None:
        return Change(name, step, stat, None, after, "new", "no timings in baseline")
    delta = after - before

    def beyond(grow: float) -> bool:
        return grow > tol.latency_floor_ms and (before <= 0 or grow / before > tol.max_latency_increase)

    status: Status = "regressed" if beyond(delta) else "better" if beyond(-delta) else "ok"
    return Change(name, step, stat, before, after, status)


def compare(
    baseline: Mapping[str, Any], results: Mapping[str, Any], tolerance: Tolerance = Tolerance()
) -> list[Change]:
    """Every compared figure of two results documents, baseline's scenarios and steps first."""
    old_all: Mapping[str, Any] = baseline.get("scenarios") or {}
    new_all: Mapping[str, Any] = results.get("scenarios") or {}
    changes: list[Change] = []
    for name in [*old_all, *(n for n in new_all if n not in old_all)]:
        if name not in new_all:
            changes.append(Change(name, None, "scenario", None, None, "missing", "did not run"))
            continue
        if name not in old_all:
            changes.append(Change(name, None, "scenario", None, None, "new", "not in baseline"))
            continue
        old, new = old_all[name], new_all[name]
        changes.append(_error_rate(name, old, new, tolerance))
        old_kinds: Mapping[str, int] = old.get("failures_by_kind") or {}
        for kind, count in (new.get("failures_by_kind") or {}).items():
            if count and not old_kinds.get(kind):
                changes.append(Change(name, None, f"kind {kind}", 0, count, "new kind"))
        old_steps: Mapping[str, Any] = old.get("steps") or {}
        new_steps: Mapping[str, Any] = new.get("steps") or {}
        for step in [*old_steps, *(s for s in new_steps if s not in old_steps)]:
            if step not in new_steps:
                changes.append(Change(name, step, "step", None, None, "missing", "never ran"))
            elif step not in old_steps:
                changes.append(Change(name, step, "step", None, None, "new", "not in baseline"))
            else:
                for stat in LATENCY_STATS:
                    before, after = old_steps[step].get(stat), new_steps[step].get(stat)
                    changes.append(_latency(name, step, stat, before, after, tolerance))
    return changes


def regressions(changes: Sequence[Change]) -> list[Change]:
    """The changes that make ``wsrace compare`` exit 1."""
    return [change for change in changes if change.regressed]


def _figure(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric == "error_rate":
        return format_rate(value)
    if metric.startswith("kind "):
        return f"{value:g}"
    return format_ms(value)


def _delta(change: Change) -> tuple[str, str]:
    delta = change.delta
    if delta is None:
        return "-", "-"
    if change.metric == "error_rate":
        absolute = f"{delta * 100:+.2f} pp"
    elif change.metric.startswith("kind "):
        absolute = f"{delta:+g}"
    else:
        absolute = f"{'+' if delta >= 0 else '-'}{format_ms(abs(delta))} ms"
    relative = change.relative
    return absolute, "-" if relative is None else f"{relative * 100:+.1f}%"


def _rows(changes: Sequence[Change]) -> list[list[str]]:
    rows = []
    for change in changes:
        absolute, relative = _delta(change)
        status = change.status.upper() if change.regressed else change.status
        if change.note:
            status += f" ({change.note})"
        rows.append([
            change.scenario, change.step or "-", change.metric,
            _figure(change.metric, change.baseline), _figure(change.metric, change.current),
            absolute, relative, status,
        ])
    return rows


HEADERS = ["scenario", "step", "metric", "baseline", "results", "change", "change %", "status"]


def _summary(changes: Sequence[Change], tolerance: Tolerance) -> str:
    found = regressions(changes)
    tol = (
        f"tolerance: error rate +{tolerance.max_error_rate_increase * 100:g} pp, latency "
        f"+{tolerance.max_latency_increase * 100:g}% and > {tolerance.latency_floor_ms:g} ms"
    )
    if found:
        return f"REGRESSED: {len(found)} of {len(changes)} figures ({tol})"
    return f"OK: no regression in {len(changes)} figures ({tol})"


def _md(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|")


def render_comparison(
    changes: Sequence[Change], tolerance: Tolerance = Tolerance(), *, markdown: bool = False
) -> str:
    """The comparison as a plain-text table, or a GitHub-flavoured Markdown one for a PR comment."""
    rows = _rows(changes)
    summary = _summary(changes, tolerance)
    if not markdown:
        table = grid(HEADERS, rows, right=(3, 4, 5, 6)) if rows else "(nothing to compare)"
        return f"{table}\n\n{summary}\n"
    lines = ["### wsrace compare", "", f"**{summary}**", ""]
    if rows:
        lines.append("| " + " | ".join(HEADERS) + " |")
        lines.append("|" + "|".join(["---", "---", "---", "---:", "---:", "---:", "---:", "---"]) + "|")
        for row in rows:
            if row[-1].startswith(("REGRESSED", "MISSING")):
                row = [*row[:-1], f"**{row[-1]}**"]
            lines.append("| " + " | ".join(_md(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"

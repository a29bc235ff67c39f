"""From samples to the answer: medians with their spread, wsrace's ratios, targets, table, JSON.

Pure: samples (as :mod:`loadgen.bench.runner` records them) in, data and text out.

- A cell is the median over runs of one metric of one generator in one workload, with the lowest
  and highest run beside it: ``0.552 (0.530-0.581)``.
- A ratio is wsrace / baseline, taken run by run (run 1 with run 1, ...: the runs interleave the
  generators, so each pair saw the same minute of the machine), then median and spread of those.
  Below 1 is better for CPU and memory, above 1 for the rate.
- A target is met when wsrace's median is within it.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loadgen.bench.workloads import (
    BASELINES,
    FLOOR_KIB,
    FLOOR_SLACK,
    GENERATOR_TITLES,
    SUBJECT,
    WORKLOADS,
    Metric,
    Target,
)

__all__ = ["Spread", "Summary", "TargetResult", "render", "spread", "summarize", "to_json"]


@dataclass(frozen=True, slots=True)
class Spread:
    median: float
    low: float
    high: float
    n: int


def spread(values: Iterable[float | None]) -> Spread | None:
    """Median, min and max of the values that are not None; None if there are none."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    return Spread(statistics.median(present), min(present), max(present), len(present))


@dataclass(frozen=True, slots=True)
class TargetResult:
    workload: str
    metric: str
    text: str
    limit: float
    median: float | None
    met: bool | None
    """None: not measured (the workload did not run, or every sample failed)."""


@dataclass(frozen=True, slots=True)
class Summary:
    cells: dict[tuple[str, str, str], Spread]
    """(workload, generator, metric) -> spread over runs."""
    ratios: dict[tuple[str, str, str], Spread]
    """(workload, baseline, metric) -> spread of wsrace / baseline over paired runs."""
    targets: list[TargetResult]
    failures: list[dict[str, Any]]
    """Samples that did not complete, with their error."""


def _completed(samples: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for s in samples if "metrics" in s]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def floor_target(cells: Mapping[tuple[str, str, str], Spread]) -> Target:
    """The target app's bound: within 15 % of the websockets floor, i.e. of the echo server's
    median KiB per idle connection in this benchmark (the issue's 13 KiB when idle did not run)."""
    floors = [cell.median for (w, _, m), cell in cells.items() if w == "idle" and m == "server_kib_per_conn"]
    floor = statistics.median(floors) if floors else FLOOR_KIB
    source = "echo server here" if floors else "the issue's figure"
    return Target("server_kib_per_conn", floor * FLOOR_SLACK,
                  f"≤ websockets floor +15 % ({floor:.1f} KiB, {source}) = {floor * FLOOR_SLACK:.1f} KiB")


def summarize(samples: Sequence[Mapping[str, Any]]) -> Summary:
    done = _completed(samples)
    by_cell: dict[tuple[str, str, str], list[float | None]] = defaultdict(list)
    by_run: dict[tuple[str, str, int], Mapping[str, Any]] = {}
    for s in done:
        by_run[(s["workload"], s["generator"], s["run"])] = s["metrics"]
        for metric in WORKLOADS[s["workload"]].metrics:
            by_cell[(s["workload"], s["generator"], metric.key)].append(s["metrics"].get(metric.key))
    cells = {key: cell for key, values in by_cell.items() if (cell := spread(values)) is not None}

    paired: dict[tuple[str, str, str], list[float | None]] = defaultdict(list)
    for (workload, generator, run), metrics in by_run.items():
        if generator != SUBJECT:
            continue
        for baseline in BASELINES:
            other = by_run.get((workload, baseline, run))
            if other is None:
                continue
            for metric in WORKLOADS[workload].metrics:
                if metric.ratio:
                    value = _ratio(metrics.get(metric.key), other.get(metric.key))
                    paired[(workload, baseline, metric.key)].append(value)
    ratios = {key: cell for key, values in paired.items() if (cell := spread(values)) is not None}

    targets = []
    for name, workload in WORKLOADS.items():
        wanted = workload.targets if name != "idle-target" else (floor_target(cells),)
        for target in wanted:
            cell = cells.get((name, SUBJECT, target.metric))
            median = None if cell is None else cell.median
            met = None if median is None else median <= target.limit
            if any(s["workload"] == name for s in samples):
                targets.append(TargetResult(name, target.metric, target.text, target.limit, median, met))
    failures = [dict(s) for s in samples if "metrics" not in s]
    return Summary(cells, ratios, targets, failures)


# ---------------------------------------------------------------------------------------- output


def _show(cell: Spread | None, fmt: str) -> str:
    if cell is None:
        return "-"
    if cell.n == 1 or cell.low == cell.high:
        return fmt.format(cell.median)
    return f"{fmt.format(cell.median)} ({fmt.format(cell.low)}-{fmt.format(cell.high)})"


def _grid(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def _verdict(result: TargetResult, fmt: str) -> str:
    if result.met is None:
        return f"target {result.text}: not measured"
    word = "met" if result.met else "MISSED"
    return f"target {result.text}: {word} (wsrace median {fmt.format(result.median)})"


def render(summary: Summary, plan: Mapping[str, Any], machine: Mapping[str, Any]) -> str:
    """The terminal table: one block per workload, the runs' median (min-max) per cell."""
    out = [
        f"wsrace bench: {plan['runs']} run(s); median (min-max) over runs; "
        "ratio = wsrace / baseline, run by run (below 1: wsrace cheaper; for the rate, above 1: faster)",
        f"machine: {machine.get('cpu_model')}, {machine.get('nproc')} cores ({plan['cores']}); "
        f"Python {machine.get('python')}, locust {machine.get('locust')}, gevent {machine.get('gevent')}, "
        f"websockets {machine.get('websockets')}, uvloop {machine.get('uvloop')}; "
        f"load average {machine.get('load_average_at_start')} at start, {machine.get('load_average_at_end')} at end; "
        f"wsrace {machine.get('wsrace_commit')}",
    ]
    for name, workload in WORKLOADS.items():
        if name not in plan["workloads"]:
            continue
        generators = [g for g in plan["generators"] if g in workload.generators]
        baselines = [b for b in BASELINES if b in generators and SUBJECT in generators]
        header = ["", *(GENERATOR_TITLES[g] for g in generators), *(f"wsrace/{b}" for b in baselines)]
        rows = [header]
        for metric in workload.metrics:
            row = [metric.label]
            row += [_show(summary.cells.get((name, g, metric.key)), metric.fmt) for g in generators]
            row += [_show(summary.ratios.get((name, b, metric.key)), "{:.2f}") if metric.ratio else ""
                    for b in baselines]
            rows.append(row)
        out += ["", workload.title.format(**plan), *_grid(rows)]
        formats = {m.key: m.fmt for m in workload.metrics}
        out += [_verdict(t, formats.get(t.metric, "{:.3g}")) for t in summary.targets if t.workload == name]
    if summary.failures:
        out += ["", f"{len(summary.failures)} sample(s) did not complete:"]
        out += [f"  run {f['run']} {f['workload']} {f['generator']}: {str(f['error']).splitlines()[0]}"
                for f in summary.failures]
    return "\n".join(out) + "\n"


def _metric_of(workload: str, key: str) -> Metric | None:
    return next((m for m in WORKLOADS[workload].metrics if m.key == key), None)


def to_json(summary: Summary, samples: Sequence[Mapping[str, Any]], plan: Mapping[str, Any],
            machine: Mapping[str, Any]) -> dict[str, Any]:
    """The whole benchmark as plain data: what ran where, every sample, medians, ratios, targets."""
    results: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for (workload, generator, key), cell in summary.cells.items():
        results[workload][generator][key] = asdict(cell)
    ratios: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    for (workload, baseline, key), cell in summary.ratios.items():
        metric = _metric_of(workload, key)
        ratios[workload][f"{SUBJECT}/{baseline}"][key] = {
            **asdict(cell), "lower_is_better": metric.lower_is_better if metric else True}
    return {
        "format": "wsrace-bench/1",
        "machine": dict(machine),
        "plan": dict(plan),
        "results": {w: dict(g) for w, g in results.items()},
        "ratios": {w: dict(b) for w, b in ratios.items()},
        "targets": [asdict(t) for t in summary.targets],
        "samples": [dict(s) for s in samples],
        "failures": summary.failures,
    }

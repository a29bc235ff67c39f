"""From samples to the answer: medians with their spread, wsrace's ratios, targets, table, JSON.

Pure: samples (as :mod:`loadgen.bench.runner` records them) in, data and text out.

- A cell is the median over runs of one metric of one generator in one workload, with the lowest
  and highest run beside it: ``0.552 (0.530-0.581)``.
- A ratio is wsrace / baseline, taken run by run (run 1 with run 1, ...: the runs interleave the
  generators, so each pair saw the same minute of the machine), then median and spread of those.
  Below 1 is better for CPU and memory, above 1 for the rate. Every generator other than wsrace
  is a baseline here, the peers (Artillery, Tsung) included.
- The floor ratio: the target app's KiB per idle authenticated connection (``idle-target``) over
  the echo server's holding the same sessions from the same client (``idle``, wsrace), run by run.
- A target (issue 13) bounds the median of one of those ratios; it is met when the median is
  within it. A target against a generator that did not run (not in ``--only``, a peer not
  installed) is not listed; one whose samples all failed is "not measured".
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loadgen.bench.workloads import (
    ALL_GENERATORS,
    FLOOR,
    FLOOR_WORKLOAD,
    GENERATOR_TITLES,
    SUBJECT,
    WORKLOADS,
    Metric,
)

__all__ = ["Spread", "Summary", "TargetResult", "ratio_name", "render", "spread", "summarize", "to_json"]


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
    against: str
    """The baseline generator of the ratio, or ``floor`` (the target app / the echo server)."""
    text: str
    limit: float
    """The bound on the median ratio."""
    median: float | None
    """The median ratio over paired runs; None: not measured."""
    low: float | None
    high: float | None
    met: bool | None
    """None: not measured (every sample of a side failed)."""


@dataclass(frozen=True, slots=True)
class Summary:
    cells: dict[tuple[str, str, str], Spread]
    """(workload, generator, metric) -> spread over runs."""
    ratios: dict[tuple[str, str, str], Spread]
    """(workload, baseline, metric) -> spread of wsrace / baseline over paired runs; baseline
    ``floor``: the target app / the echo server (``idle-target`` only)."""
    targets: list[TargetResult]
    failures: list[dict[str, Any]]
    """Samples that did not complete, with their error."""


def _completed(samples: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [s for s in samples if "metrics" in s]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _floor_ratios(by_run: Mapping[tuple[str, str, int], Mapping[str, Any]]) -> list[float | None]:
    """Run by run: the target app's KiB per idle connection over the echo server's, both holding
    wsrace's authenticated sessions (``idle-target`` and ``idle`` of the same run)."""
    out = []
    for (workload, generator, run), metrics in by_run.items():
        if workload == "idle-target" and generator == SUBJECT:
            floor = by_run.get((FLOOR_WORKLOAD, SUBJECT, run))
            if floor is not None:
                out.append(_ratio(metrics.get("server_kib_per_conn"), floor.get("server_kib_per_conn")))
    return out


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
        for baseline in ALL_GENERATORS:
            other = by_run.get((workload, baseline, run))
            if baseline == SUBJECT or other is None:
                continue
            for metric in WORKLOADS[workload].metrics:
                if metric.ratio:
                    value = _ratio(metrics.get(metric.key), other.get(metric.key))
                    paired[(workload, baseline, metric.key)].append(value)
    paired[("idle-target", FLOOR, "server_kib_per_conn")] = _floor_ratios(by_run)
    ratios = {key: cell for key, values in paired.items() if (cell := spread(values)) is not None}

    ran = {(s["workload"], s["generator"]) for s in samples}
    targets = []
    for name, workload in WORKLOADS.items():
        for target in workload.targets:
            sides = [(name, SUBJECT), (FLOOR_WORKLOAD, SUBJECT) if target.against == FLOOR else (name, target.against)]
            if not all(side in ran for side in sides):
                continue  # a side did not run at all: nothing to say
            cell = ratios.get((name, target.against, target.metric))
            met = None if cell is None else cell.median <= target.limit
            targets.append(TargetResult(
                name, target.metric, target.against, target.text, target.limit,
                None if cell is None else cell.median, None if cell is None else cell.low,
                None if cell is None else cell.high, met))
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


def _verdict(result: TargetResult) -> str:
    if result.met is None or result.median is None:
        return f"target: {result.text} -> not measured"
    word = "met" if result.met else "MISSED"
    spread_text = "" if result.low == result.high else f", {result.low:.2f}-{result.high:.2f} over the runs"
    return f"target: {result.text} -> {word} (median {result.median:.2f}x{spread_text})"


def ratio_name(baseline: str) -> str:
    """How a ratio is named in the table and the JSON: ``wsrace/asyncio``; the floor ratio
    ``target/floor`` (the target app over the echo server)."""
    return "target/floor" if baseline == FLOOR else f"{SUBJECT}/{baseline}"


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
        generators = [g for g in plan["generators"] if g in workload.generators or g in workload.peers]
        baselines = [b for b in generators if b != SUBJECT] if SUBJECT in generators else []
        header = ["", *(GENERATOR_TITLES[g] for g in generators), *(ratio_name(b) for b in baselines)]
        rows = [header]
        for metric in workload.metrics:
            row = [metric.label]
            row += [_show(summary.cells.get((name, g, metric.key)), metric.fmt) for g in generators]
            row += [_show(summary.ratios.get((name, b, metric.key)), "{:.2f}") if metric.ratio else ""
                    for b in baselines]
            rows.append(row)
        floor = summary.ratios.get((name, FLOOR, "server_kib_per_conn"))
        if floor is not None:
            rows.append([f"{ratio_name(FLOOR)} (echo server in idle)", _show(floor, "{:.2f}")])
            rows[0] += [""] * (len(rows[-1]) - len(rows[0]))
            rows = [row + [""] * (len(rows[0]) - len(row)) for row in rows]
        out += ["", workload.title.format(**plan), *_grid(rows)]
        out += [_verdict(t) for t in summary.targets if t.workload == name]
    skipped = plan.get("peers_skipped") or {}
    if skipped:
        out += [""]
        out += [f"{peer}: skipped: {why}" for peer, why in skipped.items()]
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
        ratios[workload][ratio_name(baseline)][key] = {
            **asdict(cell), "lower_is_better": metric.lower_is_better if metric else True}
    return {
        "format": "wsrace-bench/2",
        "machine": dict(machine),
        "plan": dict(plan),
        "results": {w: dict(g) for w, g in results.items()},
        "ratios": {w: dict(b) for w, b in ratios.items()},
        "targets": [asdict(t) for t in summary.targets],
        "samples": [dict(s) for s in samples],
        "failures": summary.failures,
    }

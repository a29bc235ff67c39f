"""The Thresholds tab of Locust's web UI, as data: rows of text cells from a results document. Pure.

The web UI (:mod:`loadgen.webui`) asks for :func:`tab_rows` every time the page polls (about every
2 s), with the results document *as of now* while the run goes on (the checkpoint's document: the
tallies, Locust's step stats, the server's counters so far, the latency probe's baseline) or the
judged document once the run was judged. The verdicts are :func:`~loadgen.judge.evaluate.evaluate`'s,
the same as the headless run's table: nothing is judged twice, differently.

One row per scheduled scenario, one per server counter with a limit, one for the latency baseline
and one for the schedule (the stage in force and the time left in it). While the run goes on, a
scenario that has not yet completed its ``min_iterations`` says "not enough iterations yet" rather
than FAIL; once judged it says what the verdict says. Cells are plain text: Locust's table renders
each as it is. Keys are single lower-case words because the page camel-cases keys.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from loadgen.judge.evaluate import TIMES, Verdict, evaluate, format_ms, format_rate, top_kinds
from loadgen.judge.relative import format_ratio
from loadgen.judge.schedule import Schedule, stage_at
from loadgen.judge.thresholds import Thresholds

__all__ = ["COLUMNS", "NOT_ENOUGH", "StageStatus", "stage_status", "tab_rows", "verdict_csv"]

COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    ("name", "Scenario / check"),
    ("verdict", "Verdict"),
    ("iterations", "Iterations"),
    ("errors", "Error rate (limit)"),
    ("latency", "Latency per step (limit)"),
    ("kinds", "Top error kinds"),
    ("closes", "Close codes seen"),
)
"""The tab's columns: (key, title), in order."""

NOT_ENOUGH: Final = "not enough iterations yet"
PASS: Final = "PASS"
FAIL: Final = "FAIL"


@dataclass(frozen=True, slots=True)
class StageStatus:
    """Where the schedule is ``elapsed_s`` into the run (index from 0; None once it ended)."""

    index: int | None
    count: int
    name: str | None
    users: int | None
    left_s: float | None
    """Seconds left in the stage in force."""
    total_left_s: float

    def describe(self) -> str:
        if self.index is None:
            return f"all {self.count} stages done"
        return (f"stage {self.index + 1}/{self.count} {self.name!r}: {self.users} users, "
                f"{_seconds(self.left_s)} left in it, {_seconds(self.total_left_s)} left in the run")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{max(value, 0.0):.0f} s"


def stage_status(schedule: Schedule, elapsed_s: float) -> StageStatus:
    """The stage in force ``elapsed_s`` seconds into the run and the time left in it."""
    total = schedule.total_duration
    found = stage_at(schedule, max(elapsed_s, 0.0))
    if found is None:
        return StageStatus(None, len(schedule.stages), None, None, None, 0.0)
    index, stage = found
    end = sum(s.duration for s in schedule.stages[: index + 1])
    return StageStatus(index, len(schedule.stages), stage.name, stage.users, end - elapsed_s, total - elapsed_s)


def _cell_counts(counts: Mapping[str, int] | None) -> str:
    items = [(key, n) for key, n in (counts or {}).items() if n]
    return ", ".join(f"{key}{TIMES}{n}" for key, n in items) or "-"


def _latency_cell(verdicts: Sequence[Verdict], baseline: Mapping[str, Any] | None) -> str:
    """``echo p95 47 ms (<= 1000), p99 140 ms (<= 2500), p95 1.8x baseline (<= 12x)`` (with the
    multiplication sign); a failing one is marked FAIL."""
    by_step: dict[str, list[str]] = {}
    for v in verdicts:
        if not v.metric.startswith("latency."):
            continue
        step, key = v.metric.removeprefix("latency.").rsplit(".", 1)
        mark = "" if v.passed else f"{FAIL} "
        if key.endswith("_vs_baseline"):
            stat = key.removesuffix("_vs_baseline")
            base = (baseline or {}).get(stat)
            of = f" of {format_ms(base)} ms" if base is not None else ""
            limit = "-" if v.limit is None else f"{v.limit:g}{TIMES}"
            text = f"{mark}{stat} {format_ratio(v.value)} baseline{of} (<= {limit})"
        else:
            limit = "-" if v.limit is None else format_ms(v.limit)
            text = f"{mark}{key} {format_ms(v.value)} ms (<= {limit})"
        by_step.setdefault(step, []).append(text)
    return "; ".join(f"{step} {', '.join(parts)}" for step, parts in by_step.items()) or "-"


def _scenario_row(name: str, entry: Mapping[str, Any], verdicts: Sequence[Verdict],
                  baseline: Mapping[str, Any] | None, live: bool) -> dict[str, str]:
    own = [v for v in verdicts if v.category == "scenario" and v.check == name]
    by_metric = {v.metric: v for v in own}
    completed = int(entry.get("successes", 0)) + int(entry.get("failures", 0))
    interrupted = int(entry.get("interrupted", 0))
    enough = by_metric.get("min_iterations")
    failed = [v for v in own if not v.passed]
    if live and enough is not None and not enough.passed:
        verdict = f"{NOT_ENOUGH} ({completed} of {enough.limit})"
    elif not own:
        verdict = "-"
    elif failed:
        verdict = f"{FAIL}: {failed[0].metric}" + (f" (+{len(failed) - 1} more)" if len(failed) > 1 else "")
    else:
        verdict = PASS
    rate = by_metric.get("error_rate")
    errors = "-" if rate is None else f"{format_rate(rate.value)} (<= {format_rate(rate.limit)})"
    return {
        "name": name,
        "verdict": verdict,
        "iterations": f"{completed}" + (f" ({interrupted} interrupted)" if interrupted else ""),
        "errors": errors,
        "latency": _latency_cell(own, baseline),
        "kinds": top_kinds(entry.get("failures_by_kind")) or "-",
        "closes": _cell_counts(entry.get("close_codes")),
    }


def _blank(name: str, verdict: str, **cells: str) -> dict[str, str]:
    row = {key: "" for key, _ in COLUMNS}
    row.update(name=name, verdict=verdict, **cells)
    return row


def _baseline_row(baseline: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not baseline:
        return None
    count = int(baseline.get("count") or 0)
    stats = ", ".join(f"{s} {format_ms(baseline[s])}" for s in ("p50", "p95", "p99") if baseline.get(s) is not None)
    failures = int(baseline.get("failures") or 0)
    text = f"{stats} ms over {count} round trips" if count else "no round trip yet"
    if failures:
        text += f" ({failures} failed)"
    return _blank("latency baseline (probe echo)", "", latency=text)


def tab_rows(doc: Mapping[str, Any], thresholds: Thresholds, *, live: bool,
             stage: StageStatus | None = None, state: str = "") -> list[dict[str, str]]:
    """The tab's rows for ``doc`` (a results document, as of now when ``live``, else as judged).

    ``doc["verdicts"]`` are used when the document has them (a judged run); otherwise it is judged
    now with :func:`~loadgen.judge.evaluate.evaluate`. ``stage`` and ``state`` (Locust's runner
    state) make the schedule row."""
    given = doc.get("verdicts")
    verdicts = [Verdict.from_dict(v) for v in given] if given else evaluate(doc, thresholds)
    baseline = doc.get("baseline")
    rows = []
    if stage is not None or state:
        where = stage.describe() if stage is not None else ""
        rows.append(_blank("schedule", state, latency=where))
    scenarios: Mapping[str, Any] = doc.get("scenarios") or {}
    for name, entry in scenarios.items():
        rows.append(_scenario_row(name, entry, verdicts, baseline, live))
    for v in verdicts:
        if v.category == "server":
            value = "-" if v.value is None else f"+{v.value:g}"
            rows.append(_blank(f"server counter {v.check}", PASS if v.passed else FAIL,
                               errors=f"{value} (<= {v.limit})", kinds="" if v.passed else v.message))
    base = _baseline_row(baseline)
    if base is not None:
        rows.append(base)
    return rows


def verdict_csv(doc: Mapping[str, Any], thresholds: Thresholds) -> str:
    """Every verdict of ``doc`` (judged now if it has none) as CSV: one row per check."""
    given = doc.get("verdicts")
    verdicts = [Verdict.from_dict(v) for v in given] if given else evaluate(doc, thresholds)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["category", "check", "metric", "value", "limit", "verdict", "message"])
    for v in verdicts:
        writer.writerow([v.category, v.check, v.metric, "" if v.value is None else v.value,
                         "" if v.limit is None else v.limit, PASS if v.passed else FAIL, v.message])
    return out.getvalue()

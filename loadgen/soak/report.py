"""A soak's figures as a table for people and a JSON document for tools: pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Final

from loadgen.soak.judge import MIB, Check, RunRecord, TargetState, Tolerance, drift

__all__ = ["FORMAT", "VERSION", "document", "table"]

FORMAT: Final = "wsrace-soak"
VERSION: Final = 1


def _mib(value: int) -> str:
    return f"{value / MIB:.1f}"


def _gauge(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _run_verdict(record: RunRecord) -> str:
    outcome = record.outcome
    if outcome.passed is None:
        return f"exit {outcome.exit_code}"
    return "pass" if outcome.passed else f"fail ({len(outcome.failed_checks)})"


def table(before: TargetState, runs: Sequence[RunRecord]) -> str:
    """One line per run (and one for the idle target before run 1), then the drift vs run 1."""
    head = ("run", "verdict", "jobs", "conns made", "target RSS MiB", "target fds", "conns", "jobs run/kept", "tasks",
            "during: target peak RSS MiB", "peak conns", "peak kept", "load peak RSS MiB", "load peak fds")
    rows = [("before", "-", "-", "-", _mib(before.rss_bytes), str(before.fds), _gauge(before.connections_open),
             f"{_gauge(before.jobs_running)}/{_gauge(before.jobs_kept)}", _gauge(before.background_tasks),
             "-", "-", "-", "-", "-")]
    for r in runs:
        t, peak = r.target, r.target_peak
        during = ((_mib(peak.rss_bytes), _gauge(peak.connections_open), _gauge(peak.jobs_kept))
                  if peak is not None else ("-", "-", "-"))
        rows.append((str(r.outcome.index), _run_verdict(r), _gauge(r.outcome.jobs),
                     _gauge(r.outcome.connections), _mib(t.rss_bytes), str(t.fds),
                     _gauge(t.connections_open), f"{_gauge(t.jobs_running)}/{_gauge(t.jobs_kept)}",
                     _gauge(t.background_tasks), *during, _mib(r.load.rss_bytes), str(r.load.fds)))
    drift_head = ("run", "target RSS", "target fds", "load RSS", "load fds")
    drift_rows = [(str(d.run), _ratio(d.target_rss), _ratio(d.target_fds), _ratio(d.load_rss),
                   _ratio(d.load_fds)) for d in drift(runs)]
    return _grid(head, rows) + "\ndrift (run K / run 1):\n" + _grid(drift_head, drift_rows)


def _grid(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in (head, *rows)) for i in range(len(head))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in (head, *rows)]
    return "\n".join(lines) + "\n"


def document(*, config: dict[str, Any], machine: dict[str, Any], before: TargetState | None,
             runs: Sequence[RunRecord], checks: Sequence[Check], notes: Sequence[str],
             target: dict[str, Any], verdict: str, exit_code: int, error: str | None,
             started: str, finished: str, duration_s: float, tolerance: Tolerance) -> dict[str, Any]:
    """The JSON document of a soak (``--json``); docs/soak.md describes its fields."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "started": started,
        "finished": finished,
        "duration_s": round(duration_s, 3),
        "config": {**config, "tolerance": asdict(tolerance)},
        "machine": machine,
        "target": {**target, "before": None if before is None else asdict(before)},
        "runs": [{**asdict(r.outcome), "target": asdict(r.target), "load": asdict(r.load),
                  "target_peak": None if r.target_peak is None else asdict(r.target_peak)} for r in runs],
        "drift": [asdict(d) for d in drift(runs)],
        "checks": [asdict(c) for c in checks],
        "notes": list(notes),
        "verdict": verdict,
        "passed": verdict == "pass",
        "exit_code": exit_code,
        "error": error,
    }

"""The verdict table printed at the end of a run (and by ``wsrace check``): plain text, no color."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loadgen.judge.evaluate import Verdict, format_ms, format_rate, top_kinds
from loadgen.judge.relative import render_baseline

__all__ = ["SCENARIO_HEADERS", "grid", "render_table", "scenario_rows", "worst_step"]

SCENARIO_HEADERS = ("scenario", "iterations", "error rate", "limit", "step", "p95 ms", "p99 ms", "verdict",
                    "top error kinds")
"""The columns of :func:`scenario_rows` (the terminal's table and the HTML report's)."""


def grid(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell, two spaces apart; ``right`` lists right-aligned columns."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def worst_step(
    steps: Mapping[str, Mapping[str, Any]], prefer: Sequence[str] = ()
) -> tuple[str, Mapping[str, Any]] | None:
    """The step to show for a scenario: among ``prefer`` (steps with limits) if any have timings,
    else among all, the one with the highest p99 (then p95)."""

    def key(item: tuple[str, Mapping[str, Any]]) -> tuple[float, float]:
        stats = item[1]
        return (stats.get("p99") or 0.0, stats.get("p95") or 0.0)

    timed = [(name, s) for name, s in steps.items() if s.get("p95") is not None]
    preferred = [(name, s) for name, s in timed if name in prefer]
    pool = preferred or timed
    return max(pool, key=key) if pool else None


def scenario_rows(verdicts: Sequence[Verdict], doc: Mapping[str, Any]) -> list[list[str]]:
    """A row per judged scenario, in :data:`SCENARIO_HEADERS` order, as text."""
    scenarios: Mapping[str, Any] = doc.get("scenarios") or {}
    groups: dict[str, list[Verdict]] = {}
    for verdict in verdicts:
        if verdict.category == "scenario":
            groups.setdefault(verdict.check, []).append(verdict)
    rows = []
    for name, group in groups.items():
        entry = scenarios.get(name)
        status = "PASS" if all(v.passed for v in group) else "FAIL"
        limit = next((v.limit for v in group if v.metric == "error_rate"), None)
        if entry is None:
            rows.append([name, "-", "-", format_rate(limit), "-", "-", "-", status, "did not run"])
            continue
        iterations = int(entry.get("successes", 0)) + int(entry.get("failures", 0))
        rate = entry.get("failures", 0) / iterations if iterations else None
        limited = [
            v.metric.removeprefix("latency.").rsplit(".", 1)[0]
            for v in group
            if v.metric.startswith("latency.")
        ]
        shown = worst_step(entry.get("steps") or {}, limited)
        step, p95, p99 = "-", "-", "-"
        if shown:
            step, p95, p99 = shown[0], format_ms(shown[1].get("p95")), format_ms(shown[1].get("p99"))
        kinds = top_kinds(entry.get("failures_by_kind")) or "-"
        rows.append(
            [name, str(iterations), format_rate(rate), format_rate(limit), step, p95, p99, status, kinds]
        )
    return rows


def render_table(verdicts: Sequence[Verdict], doc: Mapping[str, Any]) -> str:
    """The verdict table: a row per scenario, per server counter and per run check, then the
    messages of the failed checks and a one-line result."""
    parts = []
    rows = scenario_rows(verdicts, doc)
    if rows:
        parts.append(grid(SCENARIO_HEADERS, rows, right=(1, 2, 3, 5, 6)))
    relative = render_baseline(verdicts, doc)  # the latency baseline and each ratio to it
    if relative:
        parts.append(relative)
    server = [v for v in verdicts if v.category == "server"]
    if server:
        rows = [
            [v.check, "-" if v.value is None else f"+{v.value:g}", f"{v.limit}",
             "PASS" if v.passed else "FAIL", "" if v.value is not None else v.message.split(":")[0]]
            for v in server
        ]
        parts.append(grid(["server counter", "growth", "max", "verdict", "note"], rows, right=(1, 2)))
    runs = [v for v in verdicts if v.category == "run"]
    if runs:
        rows = [[v.check, "PASS" if v.passed else "FAIL", v.message] for v in runs]
        parts.append(grid(["run check", "verdict", "detail"], rows))
    failed = [v for v in verdicts if not v.passed]
    if failed:
        lines = [f"  {v.check}: {v.message}" for v in failed]
        parts.append("\n".join(["Failed checks:", *lines]))
    run: Mapping[str, Any] = doc.get("run") or {}
    stopped = f"; {run.get('stop_reason')}" if run.get("interrupted") and run.get("signal") else ""
    if not verdicts:
        parts.append(f"RESULT: FAIL (no checks were made{stopped})")
    elif failed:
        parts.append(f"RESULT: FAIL ({len(failed)} of {len(verdicts)} checks failed{stopped})")
    else:
        parts.append(f"RESULT: PASS (all {len(verdicts)} checks passed)")
    return "\n\n".join(parts) + "\n"

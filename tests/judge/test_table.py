"""The verdict table: one row per scenario, server counter and run check, plain text, no color."""

from __future__ import annotations

import re
from typing import Any

from loadgen.judge.evaluate import TIMES as X
from loadgen.judge.evaluate import Verdict
from loadgen.judge.table import grid, render_table, worst_step
from tests.judge.samples import failing_doc, good_doc, step


def table(doc: dict[str, Any]) -> str:
    """Render a document's stored verdicts."""
    return render_table([Verdict.from_dict(v) for v in doc["verdicts"]], doc)


def rows(text: str) -> dict[str, list[str]]:
    """Table lines keyed by their first cell, split on runs of two or more spaces."""
    return {cells[0]: cells for line in text.splitlines() if (cells := re.split(r"\s{2,}", line.strip()))}


def test_passing_table() -> None:
    """A passing run: a row per scenario with its figures, counters, and a PASS line."""
    text = table(good_doc())
    got = rows(text)
    assert got["scenario"] == ["scenario", "iterations", "error rate", "limit", "step", "p95 ms", "p99 ms",
                               "verdict", "top error kinds"]
    assert got["fast_halt"] == ["fast_halt", "120", "0.00%", "0.00%", "start→halted", "25", "40", "PASS", "-"]
    assert got["steady"] == ["steady", "40", "0.00%", "0.00%", "echo", "6", "9", "PASS", "-"]
    assert got["unhandled_errors"] == ["unhandled_errors", "+0", "0", "PASS"]
    assert text.rstrip().endswith("RESULT: PASS (all 9 checks passed)")
    assert "\x1b" not in text  # no color codes


def test_failing_table() -> None:
    """A failing run shows FAIL rows, top error kinds, 'did not run', and every failed message."""
    text = table(failing_doc())
    got = rows(text)
    assert got["fast_halt"] == ["fast_halt", "120", "1.67%", "0.00%", "start→halted", "25", "40", "FAIL",
                                f"missed_event{X}2"]
    assert got["steady"][1] == "4" and got["steady"][7] == "FAIL"
    assert got["rapid_connect"][-2:] == ["FAIL", "did not run"]
    assert got["unhandled_errors"] == ["unhandled_errors", "-", "0", "FAIL",
                                       "/metrics was unreachable (connection refused)"]
    assert got["target_shutdown"] == ["target_shutdown", "FAIL",
                                      "bundled target did not exit within its shutdown timeout"]
    assert "Failed checks:" in text
    failed = f"  fast_halt: error rate 1.67% > limit 0.00%: 2 of 120 iterations failed; top kinds: missed_event{X}2"
    assert failed in text
    assert text.rstrip().endswith("RESULT: FAIL (6 of 11 checks failed)")


def test_columns_line_up() -> None:
    """In each block every line fits the header rule, and the rule's gaps are blank on every line."""
    text = table(failing_doc())
    for block in text.split("\n\n")[:3]:
        lines = block.splitlines()
        rule = lines[1]
        gaps = [i for i, ch in enumerate(rule) if ch == " "]
        for line in lines:
            assert len(line) <= len(rule)
            assert all(i >= len(line) or line[i] == " " for i in gaps), line


def test_no_verdicts_is_a_fail() -> None:
    """An empty verdict list never reads as a pass."""
    assert render_table([], {}).strip() == "RESULT: FAIL (no checks were made)"


def test_worst_step_prefers_limited_steps() -> None:
    """The step shown is the worst by p99 among steps with latency limits, else among all steps."""
    steps = {"connect": step(5, 300, 900), "ready": step(5, 40, 80), "echo": step(5, 60, 70)}
    assert worst_step(steps, ["ready", "echo"])[0] == "ready"
    assert worst_step(steps)[0] == "connect"
    assert worst_step({"x": {"count": 0, "p95": None}}) is None


def test_grid_alignment() -> None:
    """grid pads cells, right-aligns the columns asked, and strips trailing spaces."""
    assert grid(["a", "num"], [["xyz", "1"], ["b", "100"]], right=(1,)) == (
        "a    num\n---  ---\nxyz    1\nb    100"
    )

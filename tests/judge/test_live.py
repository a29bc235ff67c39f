"""The web UI's Thresholds tab as data (loadgen.judge.live): rows, stage, CSV. Pure."""

from __future__ import annotations

import csv
import io
from typing import Any

from loadgen.judge.live import COLUMNS, NOT_ENOUGH, stage_status, tab_rows, verdict_csv
from loadgen.judge.schedule import schedule_from_dict
from tests.judge.samples import good_doc, limits, step

SCHEDULE = schedule_from_dict({"stage": [
    {"name": "a", "scenarios": ["steady"], "users": 4, "spawn_rate": 4, "duration": 10},
    {"name": "b", "scenarios": ["fast_halt"], "users": 6, "spawn_rate": 6, "duration": 5},
]}, "test-schedule.toml")


def by_name(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["name"]: row for row in rows}


def unjudged(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "verdicts"}


def test_every_row_has_every_column() -> None:
    """Locust's table renders the columns it was given: each row has exactly those keys."""
    rows = tab_rows(good_doc(), limits(), live=True, stage=stage_status(SCHEDULE, 3.0), state="running")
    assert rows and all(set(row) == {key for key, _ in COLUMNS} for row in rows)


def test_a_passing_scenario_shows_its_counts_limits_and_latency() -> None:
    """The cells say what the verdict was made of: iterations, error rate against its limit, each step's stats."""
    doc = good_doc()
    rows = by_name(tab_rows(doc, limits(), live=False))
    fast = rows["fast_halt"]
    assert fast["verdict"] == "PASS"
    assert fast["iterations"] == str(doc["scenarios"]["fast_halt"]["successes"])
    assert fast["errors"] == "0.00% (<= 0.00%)"
    assert "start→halted p95 25 ms (<= 1000)" in fast["latency"] and "p99 40 ms (<= 2500)" in fast["latency"]
    assert fast["closes"] == "1000\N{MULTIPLICATION SIGN}120"
    assert "interrupted" in rows["steady"]["iterations"]
    assert rows["server counter unhandled_errors"]["verdict"] == "PASS"


def test_below_min_iterations_is_not_a_verdict_while_live_but_fails_once_judged() -> None:
    """A scenario short of min_iterations says 'not enough iterations yet' during the run, FAIL after."""
    doc = unjudged(good_doc())
    doc["scenarios"]["fast_halt"] = {**doc["scenarios"]["fast_halt"], "successes": 5}
    live_row = by_name(tab_rows(doc, limits(), live=True))["fast_halt"]
    assert live_row["verdict"].startswith(NOT_ENOUGH) and "5 of 20" in live_row["verdict"]
    judged_row = by_name(tab_rows(doc, limits(), live=False))["fast_halt"]
    assert judged_row["verdict"].startswith("FAIL: min_iterations")


def test_a_breach_names_the_failed_metric_and_the_error_kinds() -> None:
    """An error rate over its limit and a slow step: FAIL with the first failed check, kinds shown."""
    doc = unjudged(good_doc())
    doc["scenarios"]["fast_halt"] = {**doc["scenarios"]["fast_halt"], "failures": 6,
                                     "failures_by_kind": {"foreign_event": 4, "timeout": 2},
                                     "steps": {"start→halted": step(100, 2000, 3000)}}
    row = by_name(tab_rows(doc, limits(), live=True))["fast_halt"]
    assert row["verdict"].startswith("FAIL: error_rate")
    assert row["kinds"] == "foreign_event\N{MULTIPLICATION SIGN}4, timeout\N{MULTIPLICATION SIGN}2"
    assert "FAIL p95 2000 ms (<= 1000)" in row["latency"]


def test_the_stage_in_force_and_the_time_left() -> None:
    """3 s into a 10 s stage of a 15 s schedule: stage 1/2, 7 s left in it, 12 s in the run; then done."""
    now = stage_status(SCHEDULE, 3.0)
    assert (now.index, now.count, now.name, now.users) == (0, 2, "a", 4)
    assert (now.left_s, now.total_left_s) == (7.0, 12.0)
    later = stage_status(SCHEDULE, 12.0)
    assert (later.index, later.left_s) == (1, 3.0)
    assert stage_status(SCHEDULE, SCHEDULE.total_duration).index is None
    row = by_name(tab_rows(good_doc(), limits(), live=True, stage=now, state="running"))["schedule"]
    assert "stage 1/2 'a'" in row["latency"] and "7 s left in it" in row["latency"]


def test_the_csv_has_one_row_per_verdict() -> None:
    """The Reports tab's CSV: a header, then each verdict of the document with PASS/FAIL."""
    doc = good_doc()
    rows = list(csv.reader(io.StringIO(verdict_csv(doc, limits()))))
    assert rows[0][:3] == ["category", "check", "metric"]
    assert len(rows) - 1 == len(doc["verdicts"])
    assert {row[5] for row in rows[1:]} == {"PASS"}

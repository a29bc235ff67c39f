"""The soak's table and JSON document, from figures: one row per run, the drift, the verdict."""

from __future__ import annotations

import json

from loadgen.soak.judge import Tolerance, judge
from loadgen.soak.report import FORMAT, VERSION, document, table
from tests.soak.samples import BEFORE, flat, record, state


def test_the_table_has_a_row_before_the_runs_one_per_run_and_the_drift() -> None:
    """Rows: the header, 'before', each run; then the drift's header and one row per run."""
    runs = flat(3)
    text = table(BEFORE, runs)
    figures, _, drift_part = text.partition("drift (run K / run 1):\n")
    rows = figures.strip().splitlines()
    assert len(rows) == 1 + 1 + len(runs)
    assert rows[1].split()[0] == "before"
    assert [row.split()[0] for row in rows[2:]] == [str(r.outcome.index) for r in runs]
    assert [row.split()[0] for row in drift_part.strip().splitlines()[1:]] == ["1", "2", "3"]
    assert all(row.split()[1] == "pass" for row in rows[2:])


def test_a_run_that_failed_its_own_thresholds_says_how_many() -> None:
    """A run's own verdict is shown: 'fail (N)' with the number of its failed checks."""
    runs = flat(2)
    failing = record(2, state())
    failing = type(failing)(type(failing.outcome)(2, 1, False, ("a: x", "b: y")), failing.target, failing.load)
    text = table(BEFORE, [runs[0], failing])
    assert text.splitlines()[3].split()[1:3] == ["fail", "(2)"]


def test_the_document_is_plain_json_with_every_part() -> None:
    """The JSON document round-trips and carries the config, runs, drift, checks and verdict."""
    runs = flat(2)
    checks = judge(BEFORE, runs)
    doc = document(config={"runs": 2}, machine={"nproc": 2}, before=BEFORE, runs=runs, checks=checks,
                   notes=[], target={"pid": 100}, verdict="pass", exit_code=0, error=None,
                   started="s", finished="f", duration_s=1.0, tolerance=Tolerance())
    back = json.loads(json.dumps(doc, allow_nan=False))
    assert (back["format"], back["version"], back["verdict"], back["passed"]) == (FORMAT, VERSION, "pass", True)
    assert [r["index"] for r in back["runs"]] == [1, 2]
    assert back["runs"][0]["target"]["rss_bytes"] == runs[0].target.rss_bytes
    assert back["target"]["before"]["fds"] == BEFORE.fds
    assert len(back["checks"]) == len(checks) and [d["run"] for d in back["drift"]] == [1, 2]
    assert back["config"]["tolerance"]["rss_growth_ratio"] == Tolerance().rss_growth_ratio


def test_each_row_shows_the_work_its_run_did() -> None:
    """The jobs and connections a run made (from its results) stand beside its memory figures."""
    base = record(1, state())
    busy = type(base)(type(base.outcome)(1, 0, True, (), 1.0, "r.json", connections=2300.0, jobs=50102.0),
                      base.target, base.load)
    row = table(BEFORE, [busy]).splitlines()[2].split()
    assert row[:4] == ["1", "pass", "50102", "2300"]

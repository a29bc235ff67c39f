"""``wsrace compare``: per scenario and step, what got worse than the baseline, past the tolerance."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from loadgen.cli import main
from loadgen.judge.compare import Change, Tolerance, compare, regressions, render_comparison
from loadgen.judge.results import ScenarioTally, write_results
from tests.judge.samples import good_doc, step

BASE = good_doc()


def changed(**scenarios: Any) -> dict[str, Any]:
    """A copy of BASE with scenario entries updated (None: removed), derived counts kept consistent."""
    doc = copy.deepcopy(BASE)
    for name, update in scenarios.items():
        if update is None:
            del doc["scenarios"][name]
        else:
            entry = doc["scenarios"][name]
            entry.update(update)
            entry["iterations"] = entry["successes"] + entry["failures"]
            entry["error_rate"] = entry["failures"] / entry["iterations"] if entry["iterations"] else None
    return doc


def find(changes: list[Change], scenario: str, step_name: str | None, metric: str) -> Change:
    """The one change on (scenario, step, metric)."""
    (got,) = [c for c in changes if (c.scenario, c.step, c.metric) == (scenario, step_name, metric)]
    return got


def test_self_comparison_has_no_regression() -> None:
    """A run compared with itself: every figure ok."""
    changes = compare(BASE, BASE)
    assert changes and {c.status for c in changes} == {"ok"}
    assert regressions(changes) == []


ECHO = "echo"
CASES = [
    # (name, steady entry update, (step, metric), expected status)
    ("error rate within", {"successes": 99, "failures": 1}, (None, "error_rate"), "ok"),  # 0 → 1.0%: +1.0 pp, not more
    ("error rate up", {"successes": 98, "failures": 2}, (None, "error_rate"), "regressed"),
    ("no iterations", {"successes": 0, "failures": 0}, (None, "error_rate"), "regressed"),
    ("p95 +50%", {"steps": {ECHO: step(2, 9, 9)}}, (ECHO, "p95"), "ok"),  # +3 ms: under the 5 ms floor
    ("p95 +12 ms", {"steps": {ECHO: step(2, 18, 9)}}, (ECHO, "p95"), "regressed"),
    ("p99 +20%", {"steps": {ECHO: step(2, 6, 9)}}, (ECHO, "p99"), "ok"),
    ("p50 faster", {"steps": {ECHO: step(0.5, 6, 9)}}, (ECHO, "p50"), "ok"),  # -1.5 ms: under the floor
    ("p99 much faster", {"steps": {ECHO: step(2, 6, 1)}}, (ECHO, "p99"), "better"),
    ("no timings", {"steps": {ECHO: {"count": 0, "failures": 3, "p50": None, "p95": None, "p99": None}}},
     (ECHO, "p95"), "regressed"),
    ("step missing", {"steps": {}}, (ECHO, "step"), "missing"),
    ("step new", {"steps": {ECHO: step(2, 6, 9), "burst": step(1, 2, 3)}}, ("burst", "step"), "new"),
]


@pytest.mark.parametrize(("update", "where", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_change_status(update: dict[str, Any], where: tuple[str | None, str], status: str) -> None:
    """Each kind of change lands on its side of the default tolerance."""
    changes = compare(BASE, changed(steady=update))
    assert find(changes, "steady", *where).status == status


def test_latency_relative_and_floor() -> None:
    """Latency regresses only past both the relative limit and the floor."""
    slow = changed(fast_halt={"steps": {"start→halted": step(12, 40, 40), "connect": step(3, 8, 15, count=30)}})
    p95 = find(compare(BASE, slow), "fast_halt", "start→halted", "p95")
    assert (p95.baseline, p95.current, p95.delta, p95.relative, p95.status) == (25.0, 40.0, 15.0, 0.6, "regressed")
    loose = Tolerance(max_latency_increase=1.0)
    assert find(compare(BASE, slow, loose), "fast_halt", "start→halted", "p95").status == "ok"
    floor = Tolerance(latency_floor_ms=20)
    assert find(compare(BASE, slow, floor), "fast_halt", "start→halted", "p95").status == "ok"


def test_improvements_are_marked() -> None:
    """A much faster step or a lower error rate shows as better, never as a regression."""
    base = good_doc(tallies={"steady": ScenarioTally(successes=90, failures=10, failures_by_kind={"timeout": 10}),
                             "fast_halt": ScenarioTally(successes=120)},
                    step_stats={"steady": {ECHO: step(200, 400, 800)}})
    now = good_doc(tallies={"steady": ScenarioTally(successes=100), "fast_halt": ScenarioTally(successes=120)},
                   step_stats={"steady": {ECHO: step(20, 40, 80)}})
    changes = compare(base, now)
    assert find(changes, "steady", None, "error_rate").status == "better"
    assert find(changes, "steady", ECHO, "p99").status == "better"
    assert regressions(changes) == []


def test_missing_and_new_scenarios() -> None:
    """A baseline scenario absent from the results regresses; a new one is reported only."""
    changes = compare(BASE, changed(fast_halt=None))
    assert find(changes, "fast_halt", None, "scenario").status == "missing"
    assert [c.scenario for c in regressions(changes)] == ["fast_halt"]
    changes = compare(changed(fast_halt=None), BASE)
    assert find(changes, "fast_halt", None, "scenario").status == "new"
    assert regressions(changes) == []


def test_new_failure_kind_is_reported() -> None:
    """A failure kind the baseline did not have is listed, with its count."""
    now = changed(steady={"successes": 999, "failures": 1, "failures_by_kind": {"seq_gap": 1}})
    kind = find(compare(BASE, now), "steady", None, "kind seq_gap")
    assert (kind.status, kind.baseline, kind.current) == ("new kind", 0, 1)
    assert "kind seq_gap" in render_comparison(compare(BASE, now))


def test_text_rendering() -> None:
    """The text table has a header, side-by-side figures with the change, and a summary line."""
    now = changed(steady={"successes": 90, "failures": 10, "steps": {ECHO: step(2, 18, 9)}})
    text = render_comparison(compare(BASE, now))
    lines = text.splitlines()
    assert lines[0].split() == ["scenario", "step", "metric", "baseline", "results", "change", "change", "%", "status"]
    (rate,) = [line for line in lines if line.startswith("steady") and "error_rate" in line]
    assert rate.split() == ["steady", "-", "error_rate", "0.00%", "10.00%", "+10.00", "pp", "-", "REGRESSED"]
    (p95,) = [line for line in lines if line.startswith("steady") and " p95 " in line]
    assert p95.split() == ["steady", "echo", "p95", "6", "18", "+12", "ms", "+200.0%", "REGRESSED"]
    assert lines[-1].startswith("REGRESSED: 2 of ")
    assert "tolerance: error rate +1 pp, latency +25% and > 5 ms" in lines[-1]


def test_markdown_rendering() -> None:
    """--markdown gives a GitHub table: header, alignment row, one row per figure, escaped pipes."""
    now = changed(steady={"successes": 90, "failures": 10})
    now["scenarios"]["a|b"] = now["scenarios"]["steady"]
    base = copy.deepcopy(BASE)
    base["scenarios"]["a|b"] = base["scenarios"]["steady"]
    md = render_comparison(compare(base, now), markdown=True)
    lines = md.splitlines()
    assert lines[0] == "### wsrace compare"
    assert lines[2].startswith("**REGRESSED: 2 of ")
    assert lines[4] == "| scenario | step | metric | baseline | results | change | change % | status |"
    assert lines[5] == "|---|---|---|---:|---:|---:|---:|---|"
    assert "| steady | - | error_rate | 0.00% | 10.00% | +10.00 pp | - | **REGRESSED** |" in lines
    assert any(line.startswith("| a\\|b | - | error_rate") for line in lines)
    assert all(line.count("|") - line.count("\\|") == 9 for line in lines[4:])


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A baseline and a regressed results file on disk."""
    base, now = tmp_path / "base.json", tmp_path / "now.json"
    write_results(base, BASE)
    write_results(now, changed(steady={"successes": 98, "failures": 2, "steps": {ECHO: step(2, 18, 9)}}))
    return base, now


def test_cli_self_comparison_exits_0(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A run compared with itself exits 0."""
    assert main(["compare", str(files[0]), str(files[0])]) == 0
    assert "OK: no regression" in capsys.readouterr().out


def test_cli_regression_exits_1(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """A regression past the tolerance exits 1; --markdown prints the GitHub table."""
    assert main(["compare", *map(str, files), "--markdown"]) == 1
    assert "| steady | echo | p95 | 6 | 18 | +12 ms | +200.0% | **REGRESSED** |" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags",
    [
        ["--max-error-rate-increase", "0.05", "--max-latency-increase", "3"],
        ["--max-error-rate-increase", "5%", "--latency-floor-ms", "20"],
        ["--tolerance", "error_rate=0.05,latency=300%"],
        ["--tolerance", "error_rate=0.05, floor_ms=20ms"],
        ["--tolerance", "error_rate=0,floor_ms=20", "--max-error-rate-increase", "0.05"],  # the flag wins
    ],
)
def test_cli_tolerances(files: tuple[Path, Path], flags: list[str]) -> None:
    """Looser tolerances, as flags or as the --tolerance shorthand, turn the regression into a pass."""
    assert main(["compare", *map(str, files), *flags]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["only-one.json"], "the following arguments are required: RESULTS"),
        (["a", "b", "--max-latency-increase", "fast"], "expected a number like 0.25 or 25%, got 'fast'"),
        (["a", "b", "--max-latency-increase", "-1"], "expected a number >= 0"),
        (["a", "b", "--latency-floor-ms", "nan"], "expected a number of ms >= 0"),
        (["a", "b", "--tolerance", "speed=2"], "KEY one of error_rate, latency, floor_ms, got 'speed=2'"),
        (["a", "b", "--tolerance", ","], "expected at least one KEY=VALUE"),
    ],
)
def test_cli_bad_flags_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Bad flags exit 2 with argparse's usage and a message saying what is expected."""
    assert main(["compare", *argv]) == 2
    assert message in capsys.readouterr().err


def test_cli_bad_file_exits_2(files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing or broken results file exits 2, naming it."""
    assert main(["compare", str(files[0]), str(tmp_path / "gone.json")]) == 2
    assert "gone.json: no such file" in capsys.readouterr().err
    (tmp_path / "x.json").write_text('{"format": "other"}', encoding="utf-8")
    assert main(["compare", str(tmp_path / "x.json"), str(files[0])]) == 2
    assert 'x.json: format: expected "wsrace-results"' in capsys.readouterr().err

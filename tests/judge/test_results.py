"""The results document: mergeable tallies, the builder, atomic writing and checked reading."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loadgen.judge.config_errors import ConfigError
from loadgen.judge.evaluate import run_check
from loadgen.judge.results import (
    ScenarioTally,
    build_results,
    load_results,
    merge,
    write_results,
)
from tests.judge.samples import good_doc, limits, meta

T1 = ScenarioTally(successes=3, failures=2, failures_by_kind={"timeout": 1, "seq_gap": 1}, close_codes={"1000": 4})
T2 = ScenarioTally(successes=1, interrupted=2, close_codes={"1006": 1, "1000": 1})
T3 = ScenarioTally(failures=5, failures_by_kind={"timeout": 5}, close_codes={"4001": 2, "1011": 3})


# --- tallies ---------------------------------------------------------------------------------


def test_merge_adds_every_counter() -> None:
    """merge adds outcomes, failure kinds and close codes, key by key."""
    got = merge(T1, T3)
    assert (got.successes, got.failures, got.interrupted) == (3, 7, 0)
    assert dict(got.failures_by_kind) == {"seq_gap": 1, "timeout": 6}
    assert dict(got.close_codes) == {"1000": 4, "1011": 3, "4001": 2}


def test_merge_is_associative_and_commutative() -> None:
    """Any grouping and order of worker reports gives the same total, down to key order."""
    totals = {
        json.dumps(merge(merge(a, b), c).to_dict()) for a, b, c in itertools.permutations([T1, T2, T3])
    } | {json.dumps(merge(a, merge(b, c)).to_dict()) for a, b, c in itertools.permutations([T1, T2, T3])}
    assert len(totals) == 1


def test_merge_identity_and_plus() -> None:
    """The empty tally is neutral, and ``a + b`` is ``merge(a, b)``."""
    assert merge(ScenarioTally(), T1) == T1 == merge(T1, ScenarioTally())
    assert merge(T1, T2) == T1 + T2


def test_many_single_iterations_add_up_exactly() -> None:
    """Ten thousand one-iteration tallies merge to exact counts (integers, no drift)."""
    total = ScenarioTally()
    for n in range(10_000):
        outcome = ("success", "failure", "interrupted")[n % 3]
        total += ScenarioTally.one(outcome, "timeout" if outcome == "failure" else None, 1000)
    assert (total.successes, total.failures, total.interrupted) == (3334, 3333, 3333)
    assert total.iterations == 6667
    assert dict(total.close_codes) == {"1000": 10_000}


@pytest.mark.parametrize(
    ("tally", "iterations", "rate"),
    [
        (ScenarioTally(), 0, None),
        (ScenarioTally(interrupted=7), 0, None),  # interrupted iterations are never successes
        (ScenarioTally(successes=118, failures=2, interrupted=3), 120, 2 / 120),
        (ScenarioTally(failures=4), 4, 1.0),
    ],
)
def test_error_rate_excludes_interrupted(tally: ScenarioTally, iterations: int, rate: float | None) -> None:
    """error_rate is failures / (successes + failures); no completed iteration gives None."""
    assert tally.iterations == iterations
    assert tally.error_rate == rate


def test_tally_round_trips_through_plain_data() -> None:
    """to_dict/from_dict are inverses (worker → master)."""
    assert ScenarioTally.from_dict(json.loads(json.dumps(T1.to_dict()))) == T1


def test_int_close_codes_become_strings_sorted_numerically() -> None:
    """Close codes given as ints are stored as JSON-friendly strings, in numeric order."""
    tally = ScenarioTally(close_codes={4001: 1, 1000: 2, 1006: 1})  # type: ignore[dict-item]
    assert list(tally.close_codes) == ["1000", "1006", "4001"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"successes": -1}, "successes"),
        ({"failures": 1.5}, "failures"),
        ({"failures_by_kind": {"timeout": -2}}, "failures_by_kind"),
    ],
)
def test_tally_rejects_bad_counts(kwargs: dict[str, Any], match: str) -> None:
    """Counts are whole numbers >= 0, so merging stays exact."""
    with pytest.raises(ValueError, match=match):
        ScenarioTally(**kwargs)


def test_one_failure_needs_a_kind() -> None:
    """A failed iteration without its error kind is refused (it could not be reported by kind)."""
    with pytest.raises(ValueError, match="kind"):
        ScenarioTally.one("failure")
    with pytest.raises(ValueError, match="outcome"):
        ScenarioTally.one("skipped")  # type: ignore[arg-type]


# --- the document ------------------------------------------------------------------------------


def test_build_results_layout() -> None:
    """The builder fills every documented top-level field and judges the run."""
    doc = good_doc()
    assert list(doc) == ["format", "version", "run", "scenarios", "server", "thresholds", "verdicts",
                         "passed", "run_error"]
    assert (doc["format"], doc["version"], doc["passed"], doc["run_error"]) == ("wsrace-results", 1, True, None)
    assert doc["run"]["host"] == "ws://127.0.0.1:8765" and doc["run"]["faults"] == []
    steady = doc["scenarios"]["steady"]
    assert (steady["iterations"], steady["interrupted"], steady["error_rate"]) == (40, 3, 0.0)
    assert doc["scenarios"]["fast_halt"]["steps"]["start→halted"]["p95"] == 25.0
    assert doc["server"] == {"available": True, "error": None,
                             "counters": {"unhandled_errors": 0, "dropped_messages": 0, "connections_total": 900},
                             "resets": [], "samples": []}
    assert doc["thresholds"]["scenarios"]["fast_halt"]["min_iterations"] == 20
    assert all(v["passed"] for v in doc["verdicts"])


def test_build_results_zero_iteration_scenario() -> None:
    """A scenario with only step stats gets zero counts, a null error rate, and fails."""
    doc = good_doc(tallies={"steady": ScenarioTally(successes=40)})
    fast = doc["scenarios"]["fast_halt"]
    assert (fast["iterations"], fast["error_rate"]) == (0, None)
    assert doc["passed"] is False


def test_build_results_step_without_timings_has_null_percentiles() -> None:
    """A step that only failed has null percentiles, not 0 ms."""
    stats = {"fast_halt": {"start→halted": {"count": 0, "failures": 3, "p95": 0.0}}}
    doc = good_doc(step_stats=stats)
    entry = doc["scenarios"]["fast_halt"]["steps"]["start→halted"]
    assert entry["failures"] == 3 and entry["p95"] is None and entry["max"] is None


@pytest.mark.parametrize(
    ("stats", "match"),
    [
        ({"count": 1, "p95": 1.0, "p96": 2.0}, "unknown field"),
        ({"count": -1}, "count"),
        ({"count": 1, "p95": float("nan")}, "p95"),
        ({"count": 1, "p95": "12"}, "p95"),
    ],
)
def test_build_results_rejects_bad_step_stats(stats: dict[str, Any], match: str) -> None:
    """Malformed step stats from the caller are a programming error, named precisely."""
    with pytest.raises(ValueError, match=match):
        good_doc(step_stats={"fast_halt": {"x": stats}})


def test_build_results_server_unreachable() -> None:
    """No counters means /metrics was unreachable: recorded with its reason, and judged failed."""
    doc = good_doc(server_counters=None, server_error="connection refused")
    assert doc["server"] == {"available": False, "counters": {}, "error": "connection refused",
                             "resets": [], "samples": []}
    assert doc["passed"] is False


def test_build_results_keeps_the_server_samples_and_resets() -> None:
    """The poller's samples and the restarts it saw are written as given, and survive a round trip."""
    samples = [{"t": 0.0, "at": "a", "counters": {"unhandled_errors": 0}}, {"t": 5.0, "at": "b", "error": "refused"},
               {"t": 10.0, "at": "c", "counters": {"unhandled_errors": 0}}]
    resets = [{"t": 10.0, "counters": ["connections_total"]}]
    doc = good_doc(server_samples=samples, server_resets=resets)
    assert (doc["server"]["samples"], doc["server"]["resets"]) == (samples, resets)
    assert json.loads(json.dumps(doc))["server"] == doc["server"]


def test_build_results_run_checks_and_run_error() -> None:
    """The caller's run checks are judged with the rest; a run error fails the run."""
    shutdown = run_check("target_shutdown", False, "bundled target did not exit within its shutdown timeout")
    doc = good_doc(run_checks=[shutdown])
    assert doc["verdicts"][-1] == shutdown.to_dict() and doc["passed"] is False
    doc = good_doc(run_error="locust crashed")
    assert doc["passed"] is False and doc["run_error"] == "locust crashed"


def test_build_results_given_verdicts_are_used_as_is() -> None:
    """Verdicts given by the caller replace judging."""
    ok = run_check("custom", True, "fine")
    doc = build_results(meta(), {}, {}, {}, limits(), [ok])
    assert doc["verdicts"] == [ok.to_dict()] and doc["passed"] is True


# --- writing and reading -------------------------------------------------------------------------


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    """A written results file loads back equal, and no temporary file is left behind."""
    path = tmp_path / "results.json"
    doc = good_doc()
    write_results(path, doc)
    assert load_results(path) == json.loads(json.dumps(doc))
    assert os.listdir(tmp_path) == ["results.json"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_is_atomic_when_serialising_fails(tmp_path: Path) -> None:
    """If the document cannot be serialised, the old file stays whole and no partial file is left."""
    path = tmp_path / "results.json"
    path.write_text("old", encoding="utf-8")
    bad = dict(good_doc(), extra=object())
    with pytest.raises(TypeError):
        write_results(path, bad)
    with pytest.raises(ValueError):  # NaN is not JSON
        write_results(path, dict(good_doc(), extra=float("nan")))
    assert path.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["results.json"]


def test_write_is_atomic_when_writing_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the disk write fails half-way, the temporary file is removed and the target untouched."""

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        write_results(tmp_path / "results.json", good_doc())
    assert os.listdir(tmp_path) == []


def _saved(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    doc = json.loads(json.dumps(good_doc()))
    change(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


BAD_DOCS: list[tuple[Callable[[dict[str, Any]], object], str]] = [
    (lambda d: d.update(format="locust-stats"), 'format: expected "wsrace-results"'),
    (lambda d: d.pop("format"), "format: expected"),
    (lambda d: d.update(version=2), "version: written by a newer wsrace (version 2); this wsrace reads version 1"),
    (lambda d: d.update(version="1"), 'version: expected 1, got "1"'),
    (lambda d: d.update(scenarios=[]), "scenarios: expected an object, got a list"),
    (lambda d: d["scenarios"]["steady"].update(failures=-1), "scenarios.steady.failures: expected a whole number"),
    (lambda d: d["scenarios"]["steady"].update(iterations=41),
     "scenarios.steady.iterations: expected successes + failures = 40, got 41"),
    (lambda d: d["scenarios"]["steady"]["failures_by_kind"].update(timeout="2"),
     'scenarios.steady.failures_by_kind.timeout: expected a whole number >= 0, got "2"'),
    (lambda d: d["scenarios"]["steady"]["steps"]["echo"].update(p95="fast"),
     'scenarios.steady.steps.echo.p95: expected a number or null, got "fast"'),
    (lambda d: d["server"].update(available="yes"), 'server.available: expected true or false, got "yes"'),
    (lambda d: d.update(verdicts={}), "verdicts: expected a list"),
    (lambda d: d["verdicts"][0].update(category="x"), "verdicts[0].category: expected"),
    (lambda d: d.update(run_error=3), "run_error: expected a string or null, got 3"),
]


@pytest.mark.parametrize(("change", "expected"), BAD_DOCS)
def test_load_results_names_what_is_wrong(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    """A results file that readers cannot use is a ConfigError naming the file and the key."""
    path = _saved(tmp_path, change)
    with pytest.raises(ConfigError) as caught:
        load_results(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"format": "wsrace-results",\n "version": }', "line 2, column 13: invalid JSON"),
        ("[]", "expected an object, got a list"),
        ("", "line 1, column 1: invalid JSON"),
    ],
)
def test_load_results_bad_json(write: Callable[[str, str], Path], text: str, expected: str) -> None:
    """Broken JSON names the file, line and column."""
    path = write("r.json", text)
    with pytest.raises(ConfigError, match=expected):
        load_results(path)


def test_load_results_missing_file(tmp_path: Path) -> None:
    """A missing results file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="no such file"):
        load_results(tmp_path / "missing.json")


def test_load_results_accepts_unknown_fields(tmp_path: Path) -> None:
    """Additive fields (a later version-1 writer) are accepted and kept."""
    path = _saved(tmp_path, lambda d: d.update(notes={"by": "a newer wsrace"}))
    assert load_results(path)["notes"] == {"by": "a newer wsrace"}


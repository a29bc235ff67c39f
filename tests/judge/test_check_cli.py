"""``wsrace check``: exit 0 pass, 1 fail, 2 bad input, through the real dispatcher ``loadgen.cli.main``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from loadgen.cli import main
from loadgen.judge.evaluate import run_check
from loadgen.judge.results import load_results, write_results
from tests.judge.samples import good_doc

STRICT = """
[defaults]
min_iterations = 10
[scenarios.fast_halt.latency."start→halted"]
p95 = 20
"""


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A passing results file."""
    path = tmp_path / "results.json"
    write_results(path, good_doc())
    return path


def test_saved_results_pass(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A saved passing run re-judged with its embedded thresholds exits 0 and prints the table."""
    assert main(["check", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "against the thresholds embedded in it" in out
    assert "RESULT: PASS (all 9 checks passed)" in out


def test_stricter_thresholds_fail(saved: Path, write: Callable[[str, str], Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The same file flips to exit 1 with stricter thresholds, naming the breached limit."""
    strict = write("strict.toml", STRICT)
    assert main(["check", str(saved), "--thresholds", str(strict)]) == 1
    out = capsys.readouterr().out
    assert "step 'start→halted' p95 25 ms > limit 20 ms" in out
    assert "RESULT: FAIL (1 of 5 checks failed)" in out


def test_junit_written(saved: Path, write: Callable[[str, str], Path], tmp_path: Path) -> None:
    """--junit writes a report of the re-judged verdicts."""
    report = tmp_path / "check.junit.xml"
    assert main(["check", str(saved), "--thresholds", str(write("s.toml", STRICT)), "--junit", str(report)]) == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_unwritable_junit_exits_2(saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --junit path in a missing directory exits 2 naming it, not a traceback."""
    assert main(["check", str(saved), "--junit", str(tmp_path / "no" / "j.xml")]) == 2
    assert "--junit " in capsys.readouterr().err


def test_run_checks_are_kept(tmp_path: Path) -> None:
    """A run check recorded by the run (target_shutdown) still counts when re-judged."""
    path = tmp_path / "r.json"
    write_results(path, good_doc(run_checks=[run_check("target_shutdown", False, "did not exit in time")]))
    assert main(["check", str(path)]) == 1


def test_run_error_and_interruption_are_rejudged(tmp_path: Path) -> None:
    """The judge's own run checks are made again from the file, not duplicated."""
    path = tmp_path / "r.json"
    write_results(path, good_doc(run_error="locust crashed"))
    assert main(["check", str(path), "--junit", str(tmp_path / "j.xml")]) == 1
    names = [c.get("name") for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")]
    assert names.count("run_error") == 1


def _mangle(path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (lambda p, w: [str(p.parent / "missing.json")], "missing.json: no such file"),
        (lambda p, w: [str(w("bad.json", "{nope"))], "bad.json: line 1, column 2: invalid JSON"),
        (lambda p, w: [str(p), "--thresholds", str(w("t.toml", "[defaults]\nmax_error_rate = 2\n"))],
         "t.toml: defaults.max_error_rate: expected a number between 0 and 1, got 2"),
        (lambda p, w: [str(p), "--thresholds", str(p.parent / "none.toml")], "none.toml: no such file"),
        (lambda p, w: [str(_mangle(p, lambda d: d.update(thresholds=None)))],
         "thresholds: none embedded in this file; pass --thresholds FILE"),
        (lambda p, w: [str(_mangle(p, lambda d: d["thresholds"]["defaults"].update(min_iterations=0)))],
         "thresholds.defaults.min_iterations: expected a whole number >= 1, got 0"),
        (lambda p, w: [str(_mangle(p, lambda d: d.update(version=7)))], "written by a newer wsrace"),
    ],
    ids=["missing file", "bad json", "bad thresholds", "missing thresholds", "none embedded",
         "bad embedded", "newer version"],
)
def test_bad_input_exits_2(saved: Path, write: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str],
                           args: Callable[[Path, Callable[[str, str], Path]], list[str]], message: str) -> None:
    """Bad input exits 2 with a message naming what to fix, never a traceback."""
    assert main(["check", *args(saved, write)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsrace check: ")
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [[], ["--bogus"], ["a.json", "b.json"]])
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """argparse errors exit 2 with usage and the problem."""
    assert main(["check", *argv]) == 2
    err = capsys.readouterr().err
    assert "usage: wsrace check" in err and "error:" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """--help prints usage and exits 0."""
    assert main(["check", "--help"]) == 0
    assert "--thresholds FILE" in capsys.readouterr().out


def test_check_does_not_modify_the_file(saved: Path, write: Callable[[str, str], Path]) -> None:
    """Re-judging only reads the results file."""
    before = saved.read_bytes()
    main(["check", str(saved), "--thresholds", str(write("s.toml", STRICT))])
    assert saved.read_bytes() == before
    assert load_results(saved)["passed"] is True

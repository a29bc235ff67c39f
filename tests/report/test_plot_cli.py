"""``wsrace plot``: a results file's plot drawn again; bad input is a message and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadgen.cli import main
from loadgen.judge.results import results_json
from tests.report.samples import document

pytestmark = pytest.mark.timeout(60)


def test_the_plot_of_a_results_file_goes_beside_it_or_to_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Default: RESULTS .json -> .png beside it; --out elsewhere; the path is printed."""
    results = tmp_path / "r.json"
    results.write_text(results_json(document()))
    assert main(["plot", str(results)]) == 0
    assert (tmp_path / "r.png").read_bytes().startswith(b"\x89PNG")
    assert main(["plot", str(results), "--out", str(tmp_path / "other.png")]) == 0
    assert (tmp_path / "other.png").read_bytes().startswith(b"\x89PNG")
    assert f"plot: {tmp_path / 'other.png'}" in capsys.readouterr().out


def test_bad_input_says_what_to_fix_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Not a results file, or an --out that cannot be written: one line naming it, exit 2."""
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something else"}))
    assert main(["plot", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
    results = tmp_path / "r.json"
    results.write_text(results_json(document()))
    assert main(["plot", str(results), "--out", str(tmp_path / "no" / "such" / "dir.png")]) == 2
    assert "--out" in capsys.readouterr().err

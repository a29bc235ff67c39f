"""``wsrace soak`` refuses bad input with exit 2 and a message saying what to fix, before it starts anything."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from loadgen import cli, exitcodes


def exit_code(args: Sequence[str]) -> int:
    """The command's exit code, whether it returns it or argparse exits with it."""
    try:
        return cli.main(["soak", *args])
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(("args", "says"), [
    (["--runs", "1"], "at least 2"),
    (["--runs", "x"], "expected a whole number"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--run-timeout", "0"], "--run-timeout 0: expected a number of seconds > 0"),
    (["--schedule", "no-such.toml"], "no-such.toml"),
    (["--profile", "long"], "invalid choice"),
])
def test_bad_flags_exit_2_naming_the_problem(args: list[str], says: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad flag is refused with exit 2 and a message that names it, and nothing is written."""
    assert exit_code(["--out", str(tmp_path / "out"), *args]) == exitcodes.BAD_INPUT
    assert says in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_out_path_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--out names a directory; a file there is bad input."""
    afile = tmp_path / "f"
    afile.write_text("")
    assert exit_code(["--out", str(afile)]) == exitcodes.BAD_INPUT
    assert "give a directory" in capsys.readouterr().err

"""``wsrace selftest`` refuses bad input with exit 2 before starting any run, saying what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen import cli


@pytest.mark.parametrize(("argv", "says"), [
    (["--only", "no-such-fault"], "--only no-such-fault: unknown fault; valid faults: lost-snapshot"),
    (["--schedule", "/nonexistent/schedule.toml"], "--schedule /nonexistent/schedule.toml: no such file"),
    (["--thresholds", "/nonexistent/t.toml"], "--thresholds /nonexistent/t.toml: no such file"),
    (["--json", "/nonexistent/dir/out.json"], "directory /nonexistent/dir does not exist"),
])
def test_bad_input_exits_2_with_a_message(argv: list[str], says: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["selftest", *argv]) == 2
    err = capsys.readouterr().err
    assert says in err and "runs (" not in err  # refused before anything started


def test_a_file_as_results_dir_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert cli.main(["selftest", "--results-dir", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_parallel_must_be_a_positive_whole_number(value: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["selftest", "--parallel", value])
    assert exc.value.code == 2


@pytest.mark.parametrize("value", ["0", "-3", "ten"])
def test_repeat_must_be_a_positive_whole_number(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["selftest", "--repeat", value])
    assert exc.value.code == 2 and "--repeat" in capsys.readouterr().err

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
    (["--only", "bus-write-behind"], "give --target-broker redis://HOST:PORT"),
    (["--target-broker", "localhost:6379"], "--target-broker localhost:6379: expected redis://HOST:PORT"),
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


def _specs(argv: list[str], tmp_path: Path) -> dict[str | None, tuple[str, ...]]:
    """The runs ``wsrace selftest ARGV`` would start, fault -> argv (pure: nothing is started)."""
    from loadgen.commands import selftest

    args = selftest._parser().parse_args(argv)
    names = selftest._check(args)
    extra = {name: selftest._fault_args(name, args) for name in names}
    specs = selftest._round_specs(names, tmp_path, selftest._run_args(args), 1, 1, extra)
    return {spec.fault: spec.argv for spec in specs}


def test_the_bus_faults_run_only_with_a_broker_and_then_on_two_workers_through_it(tmp_path: Path) -> None:
    """Without --target-broker every other fault runs and no bus fault; with it, each bus fault's run
    gets two target workers and the broker, and no other run changes."""
    from loadgen.protocol.faults import BROKER_FAULTS, FAULTS

    plain = _specs([], tmp_path)
    assert set(plain) == {None} | (set(FAULTS) - BROKER_FAULTS)
    url = "unix:///tmp/redis.sock"
    brokered = _specs(["--target-broker", url], tmp_path)
    assert set(brokered) == {None} | set(FAULTS)
    for fault, argv in brokered.items():
        if fault in BROKER_FAULTS:
            assert ("--target-workers", "2", "--target-broker", url) == argv[argv.index("--target-workers"):][:4]
        else:
            assert argv == plain[fault]

"""``wsrace bench`` flags: a bad one is exit 2 with a message naming it, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadgen.bench.workloads import DEFAULT_WORKLOADS, GENERATORS
from loadgen.cli import main
from loadgen.commands.bench import parse


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--runs", "0"], "--runs"),
        (["--runs", "x"], "--runs"),
        (["--duration", "0"], "--duration"),
        (["--duration", "nan"], "--duration"),
        (["--connections", "-1"], "--connections"),
        (["--idle", "100000"], "--idle"),
        (["--only", "wsrace,nope"], "nope"),
        (["--workloads", ""], "--workloads"),
        (["--workloads", "roundtrip,soak"], "soak"),
        (["--frobnicate"], "--frobnicate"),
    ],
)
def test_bad_flag_is_exit_2(argv: list[str], named: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad flag exits 2 and the message names what to fix."""
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("wsrace bench: ") and named in err


def test_json_into_missing_directory_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unwritable --json is refused before a minute of benchmarking, not after."""
    assert main(["bench", "--json", str(tmp_path / "no" / "b.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_help_is_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--help"]) == 0
    assert "--runs" in capsys.readouterr().out


def test_defaults() -> None:
    """The defaults the README quotes: 3 runs of 10 s, 100 connections, 1000 idle, everything."""
    args = parse([])
    assert args is not None
    assert (args.runs, args.duration, args.connections, args.idle) == (3, 10.0, 100, 1000)
    assert args.workloads == DEFAULT_WORKLOADS and args.only == GENERATORS and not args.check


def test_names_are_deduplicated_and_trimmed() -> None:
    args = parse(["--only", " wsrace , asyncio,wsrace", "--workloads", "idle"])
    assert args is not None
    assert args.only == ("wsrace", "asyncio") and args.workloads == ("idle",)

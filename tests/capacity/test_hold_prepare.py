"""loadgen.capacity.hold.prepare: ``wsrace run --profile hold --sessions N`` turned into the flags of
an ordinary run, for given machine limits (no Locust started, no socket connected: the flag for
Locust's worker processes is only compared, so this module is not in the port-5557 group)."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import pytest

from loadgen.capacity import hold
from loadgen.capacity.levels import hold_shape
from loadgen.commands.run import _parser
from loadgen.exitcodes import UsageError
from loadgen.judge.schedule import parse_schedule
from loadgen.sessions_plan import MachineLimits, parse_addresses, sessions_per_process

HERE = MachineLimits(nofile=20_000, port_range=(32768, 60999), cores=2, memory_bytes=24 * 2**30)


def _args(tmp_path: Path, *argv: str) -> tuple[argparse.Namespace, list[str]]:
    args, passthrough = _parser().parse_known_args(["--profile", "hold", "--results",
                                                    str(tmp_path / "r.json"), *argv])
    return args, passthrough


def test_a_big_hold_sets_processes_target_workers_and_addresses(tmp_path: Path) -> None:
    """100k sessions: --processes and --target-workers from the fd limit, source addresses from the
    ports, and the schedule for N written next to the results and read back by --schedule."""
    args, passthrough = _args(tmp_path, "--sessions", "100k", "--loglevel", "INFO")
    extra = hold.prepare(args, passthrough, HERE)
    processes = -(-100_000 // sessions_per_process(HERE.nofile))
    assert extra == ["--loglevel", "INFO", hold.PROCESSES_FLAG, str(processes)]
    assert args.target_workers == processes
    assert len(parse_addresses(args.source_addresses)) >= 100_000 // int(HERE.ports * 0.9)
    schedule = parse_schedule(args.schedule)
    assert Path(args.schedule) == tmp_path / "r.schedule.toml"
    (stage,) = schedule.stages
    shipped = hold_shape(hold.template(_args(tmp_path)[0]))
    assert stage.users == 100_000 and stage.spawn_rate == shipped.rate
    assert stage.duration == pytest.approx(100_000 / shipped.rate + shipped.hold_s)
    assert "plan:" in Path(args.schedule).read_text()


def test_a_small_hold_stays_one_process_with_no_bound_address(tmp_path: Path) -> None:
    args, passthrough = _args(tmp_path, "--sessions", "300")
    assert hold.prepare(args, passthrough, HERE) == []
    assert args.target_workers == 1 and args.source_addresses is None


def test_the_test_schedule_gives_n_when_sessions_is_left_out(tmp_path: Path) -> None:
    """Without --sessions, N is the template's users (a test's own short schedule)."""
    template = tmp_path / "t.toml"
    template.write_text('[[stage]]\nname = "h"\nscenarios = ["hold"]\nusers = 50\nspawn_rate = 50\nduration = 3\n')
    args, passthrough = _args(tmp_path, "--schedule", str(template), "--hold-interval", "1")
    hold.prepare(args, passthrough, HERE)
    assert tomllib.loads(Path(args.schedule).read_text())["stage"][0]["users"] == 50


@pytest.mark.parametrize(("argv", "problem"), [
    (("--sessions", "60000", "--source-addresses", "127.0.0.2-127.0.0.3"), "give at least 3 addresses"),
    (("--sessions", "20000", hold.PROCESSES_FLAG, "4"), hold.PROCESSES_FLAG),
    (("--sessions", "20000", "--target-workers", "1"), "--target-workers 1"),
    (("--source-addresses", "192.0.2.1"), "not an address of this machine"),
    (("--connect-rate", "0"), None),
    (("--hold", "10"), "shorter than one held period"),
])
def test_impossible_holds_are_refused_saying_what_to_fix(tmp_path: Path, argv: tuple[str, ...],
                                                         problem: str | None) -> None:
    if problem is None:  # argparse refuses it itself (exit 2, its own message)
        with pytest.raises(SystemExit):
            _args(tmp_path, *argv)
        return
    args, passthrough = _args(tmp_path, *argv)
    with pytest.raises(UsageError, match=problem):
        hold.prepare(args, passthrough, HERE)


def test_the_hold_flags_are_refused_with_another_profile(tmp_path: Path) -> None:
    args, _ = _parser().parse_known_args(["--profile", "quick", "--sessions", "10"])
    with pytest.raises(UsageError, match="--sessions is for --profile hold or capacity"):
        hold.check_unused(args)


@pytest.mark.parametrize(("host", "loopback"), [
    (None, True), ("ws://127.0.0.1:8765", True), ("ws://localhost:1", True), ("ws://127.5.0.1", True),
    ("wss://example.com", False), ("ws://10.0.0.5:80", False),
])
def test_loopback_targets(host: str | None, loopback: bool) -> None:
    assert hold.is_loopback(host) is loopback

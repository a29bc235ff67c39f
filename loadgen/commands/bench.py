"""``wsrace bench``: wsrace's Locust load generator beside two baselines, side by side, in one go.

Runs each workload with each generator against a fresh echo server, generator and server each on
a core of their own when the machine has two, ``--runs`` times, and prints the medians, spreads
and wsrace's ratios to each baseline, with the targets of issue 13 (met or missed). ``--peers``
adds Artillery and Tsung where installed (it installs nothing; a missing one is one line saying
how to get it). See
``docs/benchmark.md`` for the method. Exit 0 once the benchmark completed (missed targets are
reported, not failed, unless ``--check``), 1 with ``--check`` and a target missed, 2 bad flags,
3 a sample could not complete (a generator or server failed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from loadgen import exitcodes
from loadgen.bench import machine, measure, peers, report, runner
from loadgen.bench.workloads import ALL_GENERATORS, DEFAULT_WORKLOADS, GENERATORS, PEERS, WORKLOADS
from loadgen.judge.atomic import atomic_write_text

__all__ = ["choose_generators", "main", "parse"]

MAX_CONNECTIONS = 10_000


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise exitcodes.UsageError(message)


def _bounded(kind: Callable[[str], float], low: float, high: float, what: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return convert


def _names(choices: Sequence[str], what: str) -> Callable[[str], tuple[str, ...]]:
    def convert(text: str) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
        unknown = [n for n in names if n not in choices]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"{', '.join(unknown) or repr(text)}: not {what} (choose from {', '.join(choices)})")
        return names

    return convert


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wsrace bench",
        description="Benchmark wsrace's Locust load generator against a Locust user on websockets.sync "
        "and plain asyncio + uvloop + websockets (and, with --peers, Artillery and Tsung), on the same "
        "workloads, side by side.",
        epilog="Exit status: 0 completed, 1 --check and a target missed, 2 bad flags, 3 a sample failed.",
    )
    add = parser.add_argument
    add("--runs", type=_bounded(int, 1, 100, "a whole number of runs from 1 to 100"), default=3,
        help="repetitions of every workload and generator; medians and min-max are over these (default 3)")
    add("--duration", type=_bounded(float, 0.5, 600, "a number of seconds from 0.5 to 600"), default=10.0,
        help="seconds of each round-trip and connect-storm window (default 10)")
    add("--connections", type=_bounded(int, 1, MAX_CONNECTIONS, f"a whole number from 1 to {MAX_CONNECTIONS}"),
        default=100, help="concurrent connections (round trips) and users (storm) (default 100)")
    add("--idle", type=_bounded(int, 1, MAX_CONNECTIONS, f"a whole number from 1 to {MAX_CONNECTIONS}"),
        default=1000, help="connections held open in the idle workloads (default 1000)")
    add("--workloads", type=_names(tuple(WORKLOADS), "a workload"), default=DEFAULT_WORKLOADS,
        metavar="W[,W]", help=f"which workloads (default {','.join(DEFAULT_WORKLOADS)})")
    add("--only", type=_names(ALL_GENERATORS, "a generator"), default=GENERATORS, metavar="GEN[,GEN]",
        help=f"which generators (default {','.join(GENERATORS)}; also {','.join(PEERS)}); ratios need wsrace "
        "and a baseline")
    add("--peers", action="store_true",
        help=f"also run the peers ({', '.join(PEERS)}) on the workloads they can express, where installed; "
        "installs nothing: " + "; ".join(f"{p}: {how}" for p, how in peers.INSTALL.items()))
    add("--json", metavar="PATH", help="also write every sample, median, ratio and target as JSON")
    add("--check", action="store_true", help="exit 1 if wsrace misses a target")
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace | None:
    """The flags, or None after ``--help``. Bad flags raise :class:`~loadgen.exitcodes.UsageError`."""
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit:  # --help printed
        return None
    if args.json:
        directory = Path(args.json).resolve().parent
        if not directory.is_dir():
            raise exitcodes.UsageError(f"--json {args.json}: directory {directory} does not exist")
    return args


def _write_json(path: str, doc: dict[str, Any]) -> None:
    try:
        atomic_write_text(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise exitcodes.UsageError(f"--json {path}: cannot write: {exc.strerror or exc}") from exc


def choose_generators(only: Sequence[str], with_peers: bool,
                      skip_reason: Callable[[str], str | None] = peers.skip_reason,
                      ) -> tuple[tuple[str, ...], dict[str, str]]:
    """The generators to run (``--only``, plus every peer with ``--peers``) and the peers skipped,
    each with the reason and how to get it."""
    wanted = tuple(dict.fromkeys((*only, *(PEERS if with_peers else ()))))
    skipped = {peer: why for peer in wanted if peer in PEERS and (why := skip_reason(peer)) is not None}
    return tuple(g for g in wanted if g not in skipped), skipped


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    if args is None:
        return exitcodes.PASS
    cores = measure.core_plan()
    generators, skipped = choose_generators(args.only, args.peers)
    plan = runner.Plan(args.runs, args.duration, args.connections, args.idle, args.workloads, generators, cores)
    about = machine.describe()
    described = {
        "runs": plan.runs, "duration": plan.duration, "connections": plan.connections, "idle": plan.idle,
        "workloads": list(plan.workloads), "generators": list(plan.generators), "cores": cores.note,
        "peers_skipped": skipped,
    }
    for peer, why in skipped.items():
        sys.stderr.write(f"wsrace bench: {peer} skipped: {why}\n")
    sys.stderr.write(f"wsrace bench: {cores.note}; progress below, table at the end\n")
    try:
        samples = runner.run_all(plan)
    except KeyboardInterrupt:
        sys.stderr.write("wsrace bench: interrupted; every process it started is stopped\n")
        return exitcodes.BROKEN
    about["load_average_at_end"] = machine.load_average()
    summary = report.summarize(samples)
    sys.stdout.write(report.render(summary, described, about))
    if args.json:
        _write_json(args.json, report.to_json(summary, samples, described, about))
    if summary.failures:
        return exitcodes.BROKEN
    if args.check and any(t.met is False for t in summary.targets):
        return exitcodes.FAILED
    return exitcodes.PASS

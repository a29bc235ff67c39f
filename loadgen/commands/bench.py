"""``wsrace bench``: wsrace's Locust load generator beside two baselines, side by side, in one go.

Runs each workload with each generator against a fresh echo server, generator and server each on
a core of their own when the machine has two, ``--runs`` times, and prints the medians, spreads
and wsrace's ratios to each baseline, with the targets of issue 5 (met or missed). See
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
from loadgen.bench import machine, measure, report, runner
from loadgen.bench.workloads import DEFAULT_WORKLOADS, GENERATORS, WORKLOADS
from loadgen.judge.atomic import atomic_write_text

__all__ = ["main", "parse"]

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
        "and plain asyncio + uvloop + websockets, on the same workloads, side by side.",
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
    add("--only", type=_names(GENERATORS, "a generator"), default=GENERATORS, metavar="GEN[,GEN]",
        help=f"which generators (default {','.join(GENERATORS)}); ratios need wsrace and a baseline")
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


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    if args is None:
        return exitcodes.PASS
    cores = measure.core_plan()
    plan = runner.Plan(args.runs, args.duration, args.connections, args.idle, args.workloads, args.only, cores)
    about = machine.describe()
    described = {
        "runs": plan.runs, "duration": plan.duration, "connections": plan.connections, "idle": plan.idle,
        "workloads": list(plan.workloads), "generators": list(plan.generators), "cores": cores.note,
    }
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

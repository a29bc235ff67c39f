"""``wsrace soak``: the full profile run several times back to back against one target process.

After each run, once the target is idle, its memory, open files and gauges are read; the soak
passes when they stay flat from run to run and nothing is left behind (connections, jobs, tasks).
See docs/soak.md for what is measured, the tolerances and the figures of a real soak.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from loadgen import exitcodes, paths
from loadgen.bundled import default_workers
from loadgen.judge.schedule import parse_schedule
from loadgen.run_options import whole_number, writable_problem
from loadgen.soak import machine
from loadgen.soak.judge import MIB, Tolerance
from loadgen.soak.report import document, table
from loadgen.soak.runner import SoakConfig, run_soak

DESCRIPTION = """\
Run a profile N times back to back against one bundled target process and check that the
target's memory and open files stay flat and that nothing leaks (connections, jobs, tasks).
Each run is 'wsrace run --host ...' with its results in OUT/run-K.json.

exit codes: 0 pass, 1 something grew or was left behind, 2 bad input,
            3 the soak broke (the target did not start or died, a run broke or overran)
"""

RUN_MARGIN_S = 120.0
"""Beyond the schedule's own length, a run's Locust start, stop and judging (slow on a shared machine)."""
SETTLE_TIMEOUT_S = 90.0
"""Halted jobs are kept 60 s (PROTOCOL.md) and swept every 5 s: 90 s covers both with a margin."""
IDLE_TIMEOUT_S = 30.0
DEFAULT_TOLERANCE = Tolerance()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsrace soak", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=whole_number, default=3, help="runs back to back (at least 2; default 3)")
    parser.add_argument("--profile", choices=paths.PROFILES, default=paths.DEFAULT_PROFILE,
                        help=f"shipped schedule of each run (default {paths.DEFAULT_PROFILE})")
    parser.add_argument("--schedule", metavar="FILE", help="a schedule TOML instead of the profile's")
    parser.add_argument("--workers", type=whole_number, default=None,
                        help="the target's worker processes (default: half the cores, at least 1)")
    parser.add_argument("--out", metavar="DIR", default="wsrace-soak",
                        help="where each run's results and log go (default ./wsrace-soak)")
    parser.add_argument("--json", metavar="PATH", help="also write the soak's JSON document here")
    parser.add_argument("--run-timeout", type=float, default=None, metavar="S",
                        help=f"longest one run may take (default: its schedule + {RUN_MARGIN_S:g} s)")
    parser.add_argument("--settle-timeout", type=float, default=SETTLE_TIMEOUT_S, metavar="S",
                        help="longest the target may take to sweep its jobs once idle (default %(default)g s)")
    parser.add_argument("--rss-growth", type=float, default=DEFAULT_TOLERANCE.rss_growth_ratio, metavar="RATIO",
                        help="allowed growth of the target's RSS beyond run 1's (default %(default)g)")
    parser.add_argument("--rss-growth-mib", type=float, default=DEFAULT_TOLERANCE.rss_growth_bytes / MIB, metavar="MIB",
                        help="... and at most this many MiB (default %(default)g)")
    parser.add_argument("--fds-growth", type=whole_number, default=DEFAULT_TOLERANCE.fds_growth, metavar="N",
                        help="allowed extra open files beyond run 1's (default %(default)s)")
    return parser


def config_from(args: argparse.Namespace) -> SoakConfig:
    """The soak's configuration, or :class:`~loadgen.exitcodes.UsageError` saying what to fix."""
    if args.runs < 2:
        raise exitcodes.UsageError(f"--runs {args.runs}: a soak compares runs, it needs at least 2")
    if args.workers is not None and args.workers < 1:
        raise exitcodes.UsageError("--workers must be at least 1")
    for flag, value in (("--run-timeout", args.run_timeout), ("--settle-timeout", args.settle_timeout)):
        if value is not None and not value > 0:
            raise exitcodes.UsageError(f"{flag} {value:g}: expected a number of seconds > 0")
    if not (args.rss_growth >= 0 and args.rss_growth_mib >= 0):  # NaN is refused too
        raise exitcodes.UsageError("--rss-growth and --rss-growth-mib must be >= 0")
    schedule_path = Path(args.schedule) if args.schedule else paths.default_schedule(args.profile)
    schedule = parse_schedule(schedule_path)  # a ConfigError is a UsageError: exit 2, naming the file
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise exitcodes.UsageError(f"--out {out}: is a file; give a directory (it is created if missing)")
    # The directory is created, so only its parent must exist now.
    for flag, path in (("--out", out if not out.is_dir() else out / "soak.json"), ("--json", args.json)):
        if path and (problem := writable_problem(flag, str(path))):
            raise exitcodes.UsageError(problem)
    return SoakConfig(
        runs=args.runs, profile=args.profile,
        schedule=Path(args.schedule).resolve() if args.schedule else None,
        schedule_s=schedule.total_duration,
        workers=args.workers or default_workers(), out_dir=Path(args.out),
        run_timeout_s=args.run_timeout or schedule.total_duration + RUN_MARGIN_S,
        idle_timeout_s=IDLE_TIMEOUT_S, settle_timeout_s=args.settle_timeout,
        tolerance=Tolerance(rss_growth_ratio=args.rss_growth, rss_growth_bytes=int(args.rss_growth_mib * MIB),
                            fds_growth=args.fds_growth),
    )


def _say(text: str) -> None:
    sys.stderr.write(f"wsrace soak: {text}\n")
    sys.stderr.flush()


def _now() -> datetime:
    return datetime.now(UTC)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    config = config_from(args)
    started = _now()
    machine_before = machine.describe()
    result = run_soak(config, _say)
    finished = _now()
    doc = document(config=config.as_dict(), machine={**machine_before, "load_average_after":
                                                     machine.describe()["load_average"]},
                   before=result.before, runs=result.runs, checks=result.checks, notes=result.notes,
                   target=result.target, verdict=result.verdict, exit_code=result.exit_code,
                   error=result.error, started=started.isoformat(timespec="milliseconds"),
                   finished=finished.isoformat(timespec="milliseconds"),
                   duration_s=(finished - started).total_seconds(), tolerance=config.tolerance)
    text = json.dumps(doc, indent=2) + "\n"
    for path in [config.out_dir / "soak.json", *([Path(args.json)] if args.json else [])]:
        path.write_text(text)
    if result.before is not None and result.runs:
        sys.stdout.write(table(result.before, result.runs))
    for check in result.checks:
        sys.stdout.write(f"{'ok  ' if check.passed else 'FAIL'} {check.name}: {check.message}\n")
    for note in result.notes:
        sys.stdout.write(f"note {note}\n")
    if result.error:
        sys.stdout.write(f"soak broke: {result.error}\n")
    sys.stdout.write(f"soak: {result.verdict.upper()} ({len(result.runs)} of {config.runs} runs, "
                     f"{(finished - started).total_seconds() / 60:.1f} min)\n")
    return result.exit_code

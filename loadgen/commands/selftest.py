"""``wsrace selftest``: run the quick profile against the bundled target, clean and with each fault.

Answers, on the machine it runs on: can these scenarios and thresholds catch these races, and does
a correct server pass? Every run is a real ``wsrace run`` subprocess with its own bundled target
(see :mod:`loadgen.selftest.runner`); what each caught is read from its results file
(:mod:`loadgen.selftest.matrix`). Prints the table and the score, writes JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from loadgen import exitcodes, paths
from loadgen.exitcodes import UsageError
from loadgen.judge.atomic import atomic_write_text
from loadgen.protocol.faults import BROKER_FAULTS, FAULTS
from loadgen.run_options import writable_problem
from loadgen.selftest import matrix, runner

DESCRIPTION = """\
Run the race scenarios (the quick profile by default) against the bundled target: once correct,
and once with each fault injected, several runs at once. Prints, for each fault, what caught it
(scenario and error kind, or the failed check) or MISSED; a failing clean run is a FALSE ALARM.

The faults in the bus between target workers ({broker}) run only
with --target-broker: each against a target of 2 workers sharing its jobs through that Redis.

exit codes: 0 every fault caught and the clean run passed, 1 a fault missed, a false alarm or a
            run without a verdict, 2 bad input
""".format(broker=", ".join(sorted(BROKER_FAULTS)))

DEFAULT_RUN_TIMEOUT_S = 300.0


def default_parallel() -> int:
    """Runs at once: one per two cores (each run is a Locust process and a target worker)."""
    return max(1, (os.cpu_count() or 1) // 2)


def _positive(kind: type) -> object:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
        return value  # type: ignore[no-any-return]

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsrace selftest", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="test only this fault (repeatable; default: every fault)")
    parser.add_argument("--parallel", type=_positive(int), default=default_parallel(), metavar="N",
                        help=f"runs at once (default: half the cores, here {default_parallel()})")
    parser.add_argument("--repeat", type=_positive(int), default=1, metavar="N",
                        help="run the whole self-test N times (rounds) and say how often each fault "
                             "was caught and the clean run passed (default 1)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    parser.add_argument("--profile", choices=paths.PROFILES, default="quick",
                        help="shipped schedule each run uses (default quick)")
    parser.add_argument("--schedule", metavar="FILE", help="schedule each run uses (TOML), instead of --profile's")
    parser.add_argument("--thresholds", metavar="FILE", help="thresholds each run is judged by (TOML)")
    parser.add_argument("--results-dir", metavar="DIR",
                        help="where each run's results and log go (default: a new temporary directory)")
    parser.add_argument("--target-broker", metavar="URL",
                        help="a running Redis (redis://HOST:PORT or unix:///PATH): the bus faults run "
                             "against 2 target workers sharing jobs through it (default: not run)")
    parser.add_argument("--run-timeout", type=_positive(float), default=DEFAULT_RUN_TIMEOUT_S,
                        metavar="S", help=f"stop a run after S seconds (default {DEFAULT_RUN_TIMEOUT_S:g})")
    parser.add_argument("--total-timeout", type=_positive(float), metavar="S",
                        help="stop the whole self-test after S seconds (default: enough for every "
                             "run to use its whole timeout)")
    return parser


def _check(args: argparse.Namespace) -> list[str]:
    """Refuse bad input before any run; the faults to test."""
    unknown = [name for name in args.only if name not in FAULTS]
    if unknown:
        raise UsageError(f"--only {unknown[0]}: unknown fault; valid faults: {', '.join(FAULTS)}")
    for flag in ("schedule", "thresholds"):
        value = getattr(args, flag)
        if value is not None and not Path(value).is_file():
            raise UsageError(f"--{flag} {value}: no such file")
    if args.json is not None and (problem := writable_problem("--json", args.json)):
        raise UsageError(problem)
    if args.results_dir is not None:
        directory = Path(args.results_dir)
        if directory.exists() and not directory.is_dir():
            raise UsageError(f"--results-dir {directory}: not a directory")
        if not directory.exists() and not directory.parent.is_dir():
            raise UsageError(f"--results-dir {directory}: directory {directory.parent} does not exist")
    needing = [name for name in args.only if name in BROKER_FAULTS]
    if needing and not args.target_broker:
        raise UsageError(f"--only {needing[0]}: a fault in the bus between target workers; give "
                         f"--target-broker redis://HOST:PORT (or unix:///PATH) of a running redis-server")
    if args.target_broker and (problem := _broker_problem(args.target_broker)):
        raise UsageError(f"--target-broker {args.target_broker}: {problem}")
    chosen = list(dict.fromkeys(args.only)) or list(FAULTS)
    return [name for name in chosen if args.target_broker or name not in BROKER_FAULTS]


def _broker_problem(url: str) -> str | None:
    from urllib.parse import urlsplit

    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss", "unix"):
        return "expected redis://HOST:PORT, rediss://HOST:PORT or unix:///PATH"
    return None


def _fault_args(name: str, args: argparse.Namespace) -> list[str]:
    """A bus fault's runs need the target's workers to share jobs: two of them, through the broker."""
    if name in BROKER_FAULTS:
        return ["--target-workers", "2", "--target-broker", args.target_broker]
    return []


def _run_args(args: argparse.Namespace) -> list[str]:
    out = ["--profile", args.profile]
    if args.schedule:
        out += ["--schedule", str(Path(args.schedule).resolve())]
    if args.thresholds:
        out += ["--thresholds", str(Path(args.thresholds).resolve())]
    return out


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    names = _check(args)
    if args.results_dir is not None:
        directory = Path(args.results_dir)
        directory.mkdir(exist_ok=True)
    else:
        directory = Path(tempfile.mkdtemp(prefix="wsrace-selftest-"))
    run_args = _run_args(args)
    if not args.target_broker and not args.only:
        sys.stderr.write(f"wsrace selftest: not running {', '.join(sorted(BROKER_FAULTS))}: faults in the bus "
                         f"between target workers need --target-broker URL (a running redis-server)\n")
    extra = {name: _fault_args(name, args) for name in names}
    rounds = [_round_specs(names, directory, run_args, k, args.repeat, extra) for k in range(1, args.repeat + 1)]
    runs = [run for specs in rounds for run in specs]
    total = args.total_timeout or math.ceil(len(runs) / args.parallel) * args.run_timeout
    times = f" x {args.repeat} rounds" if args.repeat > 1 else ""
    sys.stderr.write(f"wsrace selftest: {len(runs)} runs ({len(names)} faults and a clean run{times}), "
                     f"{args.parallel} at a time; results and logs in {directory}\n")
    finished = 0

    def progress(record: matrix.RunRecord) -> None:
        nonlocal finished
        finished += 1
        outcome = matrix.judge(record)
        where = f"{Path(record.results_path or '').parent.name} " if args.repeat > 1 else ""
        sys.stderr.write(f"  [{finished}/{len(runs)}] {where}{record.fault or '(clean run)'}: "
                         f"{outcome.status} - {outcome.summary()}\n")

    records = runner.run_all(runs, parallel=args.parallel, run_timeout=args.run_timeout,
                             total_timeout=total, on_done=progress)
    settings = {"profile": args.profile, "schedule": args.schedule, "thresholds": args.thresholds,
                "target_broker": bool(args.target_broker),
                "parallel": args.parallel, "repeat": args.repeat, "run_timeout_s": args.run_timeout,
                "total_timeout_s": total, "results_dir": str(directory), "cpus": os.cpu_count()}
    per_round = len(runs) // args.repeat
    reports = [matrix.report(records[k * per_round:(k + 1) * per_round], names, settings)
               for k in range(args.repeat)]
    rep: matrix.Report | matrix.RepeatReport
    if args.repeat == 1:
        rep = reports[0]
        sys.stdout.write(matrix.render(rep))
    else:
        rep = matrix.RepeatReport(tuple(reports), settings)
        sys.stdout.write(matrix.render_repeated(rep))
    if args.json is not None:
        atomic_write_text(args.json, json.dumps(rep.to_json(), indent=2) + "\n")
    return exitcodes.PASS if rep.passed else exitcodes.FAILED


def _round_specs(names: Sequence[str], directory: Path, run_args: Sequence[str], k: int,
                 repeat: int, extra: dict[str, list[str]]) -> list[runner.RunSpec]:
    """Round ``k``'s runs (the clean run first); with repeats, each round in its own ``round-K``."""
    where = directory if repeat == 1 else directory / f"round-{k:0{len(str(repeat))}d}"
    where.mkdir(exist_ok=True)
    return [runner.spec(None, where, run_args)] + [runner.spec(n, where, [*run_args, *extra.get(n, [])])
                                                   for n in names]

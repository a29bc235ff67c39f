"""``wsrace check RESULTS [--thresholds FILE] [--junit PATH]``: re-judge a results file.

Nothing is re-run: the stored counts and timings are judged again, against the thresholds embedded
in the file or, with ``--thresholds``, against another (e.g. stricter) file. Run checks recorded by
the run itself (such as ``target_shutdown``) are kept as they were. Exit 0 pass, 1 fail, 2 bad input.
A run that was interrupted (``run.interrupted``: a signal, Ctrl-C) is said to be so first, and fails
its ``interrupted`` check: re-judging it exits 1, whatever signal stopped it (the run's own exit
code, 130 or 143, said how it ended; this one says how it is judged).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from loadgen import exitcodes
from loadgen.judge.config_errors import ConfigError
from loadgen.judge.evaluate import JUDGE_RUN_CHECKS, Verdict, evaluate
from loadgen.judge.junit import write_junit
from loadgen.judge.results import load_results, with_verdicts
from loadgen.judge.table import render_table
from loadgen.judge.thresholds import Thresholds, parse_thresholds, thresholds_from_dict


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsrace check",
        description="Re-judge a results file against its thresholds, or stricter ones.",
        epilog="Exit status: 0 every check passed, 1 a check failed, 2 bad input.",
    )
    parser.add_argument("results", metavar="RESULTS", help="a wsrace results file (JSON)")
    parser.add_argument(
        "--thresholds", metavar="FILE",
        help="thresholds TOML to judge against (default: those embedded in RESULTS)",
    )
    parser.add_argument("--junit", metavar="PATH", help="also write a JUnit XML report")
    return parser


def embedded_thresholds(doc: Mapping[str, Any], path: str) -> Thresholds:
    """The thresholds a results file was judged with; errors name ``thresholds.<key>``."""
    data = doc.get("thresholds")
    if data is None:
        raise ConfigError(path, "thresholds", "none embedded in this file; pass --thresholds FILE")
    try:
        return thresholds_from_dict(data, path, dicts="an object")
    except ConfigError as exc:
        key = f"thresholds.{exc.key}" if exc.key else "thresholds"
        raise ConfigError(exc.file, key, exc.problem) from exc


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse printed usage and the problem (or --help)
        return exitcodes.PASS if exc.code in (0, None) else exitcodes.BAD_INPUT
    doc = load_results(args.results)
    thresholds = (
        parse_thresholds(args.thresholds)
        if args.thresholds
        else embedded_thresholds(doc, args.results)
    )
    kept = [
        Verdict.from_dict(v)
        for v in doc.get("verdicts") or []
        if v.get("category") == "run" and v.get("check") not in JUDGE_RUN_CHECKS
    ]
    verdicts = evaluate(doc, thresholds, kept)
    judged = with_verdicts(doc, thresholds, verdicts)
    against = args.thresholds or "the thresholds embedded in it"
    sys.stdout.write(f"Re-judging {args.results} against {against}\n\n")
    run: Mapping[str, Any] = doc.get("run") or {}
    if run.get("interrupted"):
        why = run.get("stop_reason") or "no reason recorded"
        sys.stdout.write(f"This run was interrupted ({why}): its counts cover only what ran until then, "
                         "and an interrupted run never passes.\n\n")
    sys.stdout.write(render_table(verdicts, judged))
    if args.junit:
        try:
            write_junit(args.junit, judged)
        except OSError as exc:  # a directory that does not exist, no permission: the user's to fix
            raise exitcodes.UsageError(f"--junit {args.junit}: cannot write: {exc.strerror or exc}") from exc
    return exitcodes.PASS if judged["passed"] else exitcodes.FAILED

"""``wsrace compare BASELINE RESULTS``: what got worse since the baseline run.

Error rates and p50/p95/p99 per scenario and step, side by side, with the change. Exit 1 when
something regressed past the tolerance, 0 otherwise, 2 on bad input. ``--markdown`` prints a
GitHub-flavoured table for a PR comment.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from loadgen import exitcodes
from loadgen.judge.compare import Tolerance, compare, regressions, render_comparison
from loadgen.judge.results import load_results

DEFAULTS = Tolerance()
SPEC_KEYS = {
    "error_rate": "max_error_rate_increase",
    "latency": "max_latency_increase",
    "floor_ms": "latency_floor_ms",
}


def fraction(text: str) -> float:
    """``0.25`` or ``25%`` → 0.25 (a non-negative number)."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.25 or 25%, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def milliseconds(text: str) -> float:
    """``5`` → 5.0 (a non-negative number of ms)."""
    try:
        value = float(text.removesuffix("ms"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected milliseconds like 5, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of ms >= 0, got {text!r}")
    return value


def tolerance_spec(text: str) -> dict[str, float]:
    """``error_rate=0.02,latency=50%,floor_ms=10`` → Tolerance fields (any subset)."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in SPEC_KEYS:
            raise argparse.ArgumentTypeError(
                f"expected KEY=VALUE[,KEY=VALUE...] with KEY one of {', '.join(SPEC_KEYS)}, "
                f"got {item!r}"
            )
        parse = milliseconds if key.strip() == "floor_ms" else fraction
        out[SPEC_KEYS[key.strip()]] = parse(value.strip())
    if not out:
        raise argparse.ArgumentTypeError("expected at least one KEY=VALUE")
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsrace compare",
        description="Compare a results file with a baseline; exit 1 on a regression.",
        epilog="Exit status: 0 no regression, 1 a regression, 2 bad input.",
    )
    parser.add_argument("baseline", metavar="BASELINE", help="the results file to compare against")
    parser.add_argument("results", metavar="RESULTS", help="the new results file")
    parser.add_argument(
        "--max-error-rate-increase", type=fraction, metavar="X",
        help="absolute growth of a scenario's error rate allowed "
        f"(default {DEFAULTS.max_error_rate_increase:g}, i.e. 1 percentage point; 1%% also works)",
    )
    parser.add_argument(
        "--max-latency-increase", type=fraction, metavar="X",
        help="relative growth of p50/p95/p99 allowed "
        f"(default {DEFAULTS.max_latency_increase:g}, i.e. +25%%; 25%% also works)",
    )
    parser.add_argument(
        "--latency-floor-ms", type=milliseconds, metavar="MS",
        help="latency growth at or below this many ms is never a regression "
        f"(default {DEFAULTS.latency_floor_ms:g})",
    )
    parser.add_argument(
        "--tolerance", type=tolerance_spec, metavar="SPEC",
        help="shorthand for the three above: e.g. error_rate=0.02,latency=50%%,floor_ms=10 "
        "(a flag given on its own wins)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a GitHub-flavoured table")
    return parser


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse printed usage and the problem (or --help)
        return exitcodes.PASS if exc.code in (0, None) else exitcodes.BAD_INPUT
    fields = dict(args.tolerance or {})
    for name in SPEC_KEYS.values():
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    tolerance = Tolerance(**fields)
    baseline = load_results(args.baseline)
    results = load_results(args.results)
    changes = compare(baseline, results, tolerance)
    sys.stdout.write(render_comparison(changes, tolerance, markdown=args.markdown))
    return exitcodes.FAILED if regressions(changes) else exitcodes.PASS

"""``wsrace plot RESULTS [--out PNG]``: draw a results file's plot again.

The plot a run writes beside its results (each scenario's error rate and p99 over time, stage
boundaries marked; :mod:`loadgen.report.plot`) is a pure function of the results document, so it
can be drawn from any results file, e.g. one kept as a CI artifact. Exit 0, or 2 on bad input (a
file that is not a results file, a PNG that cannot be written).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from loadgen import exitcodes
from loadgen.judge.results import load_results
from loadgen.report.plot import plot_path, write_png


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsrace plot", description="Draw the plot of a results file as a PNG.")
    parser.add_argument("results", metavar="RESULTS", help="a wsrace results file (JSON)")
    parser.add_argument("--out", metavar="PNG", help="where to write it (default: beside RESULTS, .json -> .png)")
    return parser


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse printed usage and the problem (or --help)
        return exitcodes.PASS if exc.code in (0, None) else exitcodes.BAD_INPUT
    doc = load_results(args.results)
    out = args.out or str(plot_path(args.results))
    if "timeline" not in doc:
        sys.stderr.write(f"wsrace plot: {args.results} has no timeline (written by an older wsrace): "
                         "the panels will be empty\n")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):  # said before the drawing, which takes a second or more
        raise exitcodes.UsageError(f"--out {out}: no such directory {folder}")
    try:
        write_png(doc, out)
    except OSError as exc:
        raise exitcodes.UsageError(f"--out {out}: cannot write: {exc.strerror or exc}") from exc
    sys.stdout.write(f"plot: {os.path.abspath(out)}\n")
    return exitcodes.PASS

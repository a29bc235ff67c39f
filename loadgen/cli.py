"""The ``wsrace`` console script: one entry point, a subcommand per job.

Each subcommand lives in :mod:`loadgen.commands` and is imported only when used, so ``wsrace serve``
never loads gevent or Locust, and ``wsrace run`` never loads asyncio servers.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from loadgen import exitcodes

COMMANDS: dict[str, str] = {
    "serve": "run the bundled target app (same flags as python -m target_app)",
    "run": "run the race scenarios headless, judge them, write results",
    "check": "re-judge a results file against (stricter) thresholds",
    "compare": "compare a results file against a baseline",
    "plot": "draw a results file's error rate and p99 over time as a PNG",
    "bench": "benchmark wsrace's load generator against baselines, side by side",
    "selftest": "run the quick profile against the bundled target clean and with each fault: what catches what",
    "soak": "run a profile N times against one target; check memory, files, jobs stay flat",
    "capacity": "hold N sessions (or step up levels until one fails): memory per session, connect rate",
}

USAGE = (
    "usage: wsrace COMMAND [ARGS...]\n\ncommands:\n"
    + "".join(f"  {name:<9} {text}\n" for name, text in COMMANDS.items())
    + "\nRun 'wsrace COMMAND --help' for a command's flags.\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return exitcodes.PASS if args else exitcodes.BAD_INPUT
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"wsrace: unknown command {name!r}\n\n{USAGE}")
        return exitcodes.BAD_INPUT
    module = importlib.import_module(f"loadgen.commands.{name}")
    try:
        return int(module.main(rest))
    except exitcodes.UsageError as exc:
        sys.stderr.write(f"wsrace {name}: {exc}\n")
        return exitcodes.BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())

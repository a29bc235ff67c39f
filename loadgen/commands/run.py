"""``wsrace run``: the whole job in one command.

Runs the scenarios headless in Locust (``locust -f scenarios --headless``) with the chosen profile,
against the bundled target (or ``--host``), judges the thresholds, writes the results (and JUnit),
and exits with the contract's code. Every flag that is not wsrace's own passes through to Locust
(``--processes 2``, ``--loglevel DEBUG``, ``--csv out``...).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from loadgen import exitcodes, paths
from loadgen.capacity import hold
from loadgen.commands import salvage
from loadgen.run_options import RunOptions, add_cli_options, check_inputs, locust_args

DESCRIPTION = """\
Run wsrace's race scenarios headless, judge each scenario against its thresholds, write results.

Without --host, the bundled target app is started on a free port and stopped at the end.
Flags not listed here pass through to Locust (e.g. --processes 2, --loglevel DEBUG); run
'locust --help' for them.

exit codes: 0 pass, 1 a threshold failed, 2 bad input (file, flag, unreachable host),
            3 the run itself broke (target died, Locust crashed),
            130 / 143 stopped by SIGINT (Ctrl-C) / SIGTERM: results written, marked interrupted
"""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wsrace run", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_cli_options(parser)
    hold.add_options(parser)  # --sessions, --connect-rate, --hold, --levels: never handed to Locust
    return parser


def locust_command(args: argparse.Namespace, passthrough: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Locust's command line and the environment variables added for it (the secret goes there)."""
    argv, env = locust_args(args)
    return [sys.executable, "-m", "locust", "--headless", *argv, *passthrough], env


def _verdict_code(locust_code: int, results: Path) -> int:
    """Map Locust's exit to the contract, trusting the results file over the bare code."""
    if locust_code == exitcodes.BAD_INPUT and not results.exists():
        # The plugin (or Locust's parser) refused an input before any load and said which. Locust
        # also exits 2 for an uncaught exception in an event handler: with results written, that
        # happened after the run, so it is a broken run, not bad input.
        return exitcodes.BAD_INPUT
    try:
        doc = json.loads(results.read_text())
    except (OSError, ValueError):
        sys.stderr.write(f"wsrace run: Locust exited with code {locust_code} without writing {results}: "
                         "the run broke (see the log above)\n")
        return exitcodes.BROKEN
    if doc.get("run_error"):
        sys.stderr.write(f"wsrace run: the run broke: {doc['run_error']}\n")
        return exitcodes.BROKEN
    run = doc.get("run") or {}
    if run.get("interrupted") and run.get("signal") in {s.name for s in STOP_SIGNALS}:
        why = run.get("stop_reason") or run["signal"]
        sys.stderr.write(f"wsrace run: {why}; the results say what ran until then\n")
        return exitcodes.interrupted(run["signal"])
    if locust_code not in (exitcodes.PASS, exitcodes.FAILED):
        sys.stderr.write(f"wsrace run: Locust exited with code {locust_code}: the run broke (see the log above)\n")
        return exitcodes.BROKEN
    return exitcodes.PASS if doc.get("passed") else exitcodes.FAILED


def _check_locustfile(spec: str) -> None:
    """What Locust accepts for ``-f``: .py files, directories, URLs (comma-separated)."""
    for part in (item.strip() for item in spec.split(",")):
        if part == "-" or "://" in part:
            continue  # the master's locustfile, or a URL: Locust fetches it
        path = Path(part)
        if not (path.is_dir() or (path.is_file() and path.suffix == ".py")):
            raise exitcodes.UsageError(f"--locustfile {part}: no such .py file or directory")


def main(argv: Sequence[str]) -> int:
    args, passthrough = _parser().parse_known_args(list(argv))
    if args.profile == paths.CAPACITY_PROFILE:  # one hold run per level: loadgen.capacity.runner
        from loadgen.capacity import runner

        return runner.main(args, passthrough)
    if args.profile == paths.HOLD_PROFILE:  # N planned for this machine; then the ordinary run
        passthrough = hold.prepare(args, passthrough)
    else:
        hold.check_unused(args)
    # Refused here, before Locust starts; the plugin makes the same checks for `locust -f` by hand.
    check_inputs(RunOptions.from_namespace(args), args.host)
    _check_locustfile(args.locustfile)
    results = Path(args.results)
    # A results file left by an earlier run must never pass for this one's.
    with contextlib.suppress(FileNotFoundError):
        results.unlink()
    cmd, env = locust_command(args, passthrough)
    # Ctrl-C and a CI runner's SIGINT / SIGTERM reach Locust directly (same process group) and
    # Locust stops, writes the results and exits with their code; we only wait, ignoring both
    # signals so as to report that code. Locust starts with both at their defaults: a parent shell
    # that ignored SIGINT (`bash -c 'wsrace run &'`) must not pass that on across exec.
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
    launched = salvage.before_locust()  # a master that dies leaves its children to us
    try:
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, preexec_fn=_default_stop_signals)
        code = proc.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    salvaged = salvage.after_locust(code, results, args.junit, launched)  # a master that died: its checkpoint
    if args.profile == paths.HOLD_PROFILE:
        hold.after(results)  # the machine limits that failed sessions, in plain words
    return salvaged if salvaged is not None else _verdict_code(code, results)


def _default_stop_signals() -> None:
    """In the Locust child, between fork and exec: SIGINT and SIGTERM back to their defaults."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)

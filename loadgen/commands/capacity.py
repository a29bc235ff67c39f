"""``wsrace capacity``: reproduce a big hold and print what it cost, memory per session on both sides
and the connect rate. Not a timed test: the same as ``wsrace run --profile capacity`` (every flag of
``wsrace run`` works), e.g.::

    wsrace capacity --sessions 100000                    # one level: ramp to 100k, hold 60 s
    wsrace capacity --levels 10k,30k,60k,100k            # step up, stop at the first failure
"""

from __future__ import annotations

from collections.abc import Sequence

from loadgen.commands import run

USAGE = """\
usage: wsrace capacity [--sessions N | --levels N,N,...] [--connect-rate R] [--hold S]
                       [--hold-interval S] [--source-addresses ADDRS] [--results PATH] [wsrace run flags]

Holds N sessions (or each level in turn, stopping at the first that fails) against a fresh bundled
target planned for this machine, and prints per level: sessions held, connect rate, RSS per session
on the target and the load side, CPU of each. Same as 'wsrace run --profile capacity';
'wsrace run --help' lists every flag. Exit 0 when a level held, 1 when the first failed.
"""


def main(argv: Sequence[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(USAGE, end="")
        return 0
    if any(arg == "--profile" or arg.startswith("--profile=") for arg in argv):
        raise run.exitcodes.UsageError("--profile: wsrace capacity is the capacity profile; leave it out")
    return run.main(["--profile", "capacity", *argv])

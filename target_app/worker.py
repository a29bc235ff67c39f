"""A worker process: ``python -m target_app.worker`` (started by the supervisor, not by hand).

Runs one uvloop event loop serving the shared port. It tells the supervisor it accepts connections
by writing ``ready`` to ``--ready-fd``; the secret comes in ``WSRACE_SECRET``, never in argv; it
asks Linux for SIGTERM should the supervisor die without stopping it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Sequence

import uvloop

from loadgen.protocol.tokens import resolve_secret
from target_app import faults, logs
from target_app.config import BROKER_ENV, Config
from target_app.server import run_worker

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the supervisor died before prctl took effect
        sys.exit(1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m target_app.worker")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--config", required=True, help="Config.to_worker_json()")
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        die_with_parent(args.parent_pid)
    config = Config.from_worker_json(args.config, resolve_secret(None), os.environ.get(BROKER_ENV))
    logs.setup(config.log_level, f"w{args.index}")
    wiring = faults.build(config.faults)  # the faults are installed here, once, at start-up
    return uvloop.run(run_worker(config, args.index, wiring, args.ready_fd))


if __name__ == "__main__":
    sys.exit(main())

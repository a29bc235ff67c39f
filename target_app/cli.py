"""``python -m target_app`` / ``wsrace serve``: flags -> :class:`~.config.Config` -> supervisor.

:func:`parse` is pure (argv in, Config or exit code out) so that flag handling is tested without
processes. Bad flags print one clear message and give exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import NoReturn

from loadgen.protocol.tokens import DEV_SECRET, SECRET_ENV, resolve_secret
from target_app import config as c
from target_app import faults

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the flags.\n")


def _number(kind: type[float] | type[int], low: float, what: str,
            above: bool = False) -> Callable[[str], float | int]:
    """A converter for numbers ``>= low`` (``> low`` if ``above``), naming ``what`` on error."""

    def convert(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return convert


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return value


def _fault(text: str) -> str:
    problem = faults.check([text])
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def _broker(text: str) -> str:
    from target_app.broker_merge import check_url

    problem = check_url(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def build_parser(prog: str = "python -m target_app") -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description=textwrap.dedent("""\
            The bundled WebSocket target of wsrace (PROTOCOL.md, version 1).

            Once every worker accepts connections, prints one JSON line on stdout, e.g.
              {"event": "listening", "host": "127.0.0.1", "port": 43125, "workers": 2, "pid": 1234}
            Logs go to stderr. On SIGTERM or SIGINT it closes every connection with 1001 and exits
            0 within --shutdown-timeout (non-zero if a worker had to be killed)."""),
        epilog="faults (each off unless named):\n" + faults.describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--host", default=c.DEFAULT_HOST, help="address to listen on (default %(default)s)")
    add("--port", type=_port, default=c.DEFAULT_PORT,
        help="TCP port (default %(default)s); 0 lets the OS pick a free one (read it from the "
        "listening line)")
    add("--workers", type=_number(int, 1, "a whole number of at least 1"), default=1,
        help="worker processes sharing the port with SO_REUSEPORT (default %(default)s); jobs are "
        "per worker unless --broker shares them")
    add("--broker", type=_broker, default=None, metavar="URL",
        help="Redis to share jobs, subscriptions and state events across workers through: "
        "redis://HOST:PORT[/DB] or unix:///PATH/TO/redis.sock (default: none, jobs per worker)")
    add("--secret", default=None,
        help=f"HS256 secret for tokens (default: ${SECRET_ENV}, else the documented development "
        f"secret {DEV_SECRET!r} - never use that in production)")
    add("--auth-timeout", type=_number(float, 0.0, "a number of seconds above 0", above=True),
        default=c.DEFAULT_AUTH_TIMEOUT_S,
        help="seconds a connection without a handshake token has to send its auth message "
        "(default %(default)s)")
    add("--max-size", type=_number(int, 1, "a whole number of bytes (at least 1)"),
        default=c.DEFAULT_MAX_SIZE,
        help="largest incoming message in bytes; bigger closes with 1009 (default %(default)s)")
    add("--shutdown-timeout", type=_number(float, 0.0, "a number of seconds"),
        default=c.DEFAULT_SHUTDOWN_TIMEOUT_S,
        help="seconds a worker has to close every connection and exit after SIGTERM; after that "
        "(plus 1 s of grace) the supervisor kills it and exits 1 (default %(default)s)")
    add("--stall-timeout", type=_number(float, 0.0, "a number of seconds"),
        default=c.DEFAULT_STALL_TIMEOUT_S,
        help="seconds a client may read nothing while output waits for it before it is closed "
        "with 1013; 0 turns this off (default %(default)s)")
    add("--fault", dest="faults", action="append", type=_fault, default=[], metavar="NAME",
        help="inject a bug, repeatable (see the list below)")
    add("--log-level", choices=c.LOG_LEVELS, default="info", help="stderr log level (default %(default)s)")
    return parser


def parse(argv: Sequence[str], environ: dict[str, str] | None = None,
          prog: str = "python -m target_app") -> c.Config | int:
    """Return the Config, or the exit code when parsing ended (0 after --help, 2 on bad flags)."""
    parser = build_parser(prog)
    try:
        ns = parser.parse_args(list(argv))
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_BAD_INPUT
    env = os.environ if environ is None else environ
    secret = resolve_secret(ns.secret, env)
    if not secret:
        sys.stderr.write(f"{prog}: error: --secret must not be empty\n")
        return EXIT_BAD_INPUT
    problem = faults.check(ns.faults) or faults.broker_problem(ns.faults, ns.broker)
    if problem:
        sys.stderr.write(f"{prog}: error: {problem}\n")
        return EXIT_BAD_INPUT
    return c.Config(
        host=ns.host, port=ns.port, workers=ns.workers, secret=secret,
        auth_timeout=ns.auth_timeout, max_size=ns.max_size,
        shutdown_timeout=ns.shutdown_timeout, stall_timeout=ns.stall_timeout,
        faults=tuple(dict.fromkeys(ns.faults)), log_level=ns.log_level, broker=ns.broker,
    )


def main(argv: Sequence[str] | None = None, prog: str = "python -m target_app") -> int:
    parsed = parse(sys.argv[1:] if argv is None else argv, prog=prog)
    if isinstance(parsed, int):
        return parsed
    from target_app import supervisor  # only now: --help and bad flags stay fast

    return supervisor.main(parsed)

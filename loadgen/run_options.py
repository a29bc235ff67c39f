"""``wsrace run``'s options and input checks, declared once for both of their parsers.

The same flags are read twice: by ``wsrace run`` (plain argparse, before Locust starts, so that
bad input is refused before any load) and by the Locust plugin (Locust's own parser, also for
``locust -f scenarios`` run by hand). Both build their parsers from :data:`OPTIONS` and both call
the checks below, so a flag, its default, its help and its error messages exist once.

Light on purpose (no Locust, no gevent, no ``target_app``): the CLI imports it before deciding to
start anything. The fault names come from the protocol core; which faults can be combined is the
target app's to say, at its start (exit 2 with the reason).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from loadgen import paths
from loadgen.exitcodes import UsageError
from loadgen.protocol.faults import unknown_problem
from loadgen.protocol.tokens import SECRET_ENV
from loadgen.sessions_plan import PlanError, parse_addresses
from loadgen.urls import base_url_problem

__all__ = [
    "DEFAULT_RESULTS",
    "OPTIONS",
    "OptionSpec",
    "RunOptions",
    "add_cli_options",
    "add_locust_options",
    "addresses_problem",
    "check_inputs",
    "fault_problem",
    "host_problem",
    "locust_args",
    "writable_problem",
]

DEFAULT_RESULTS: Final = "wsrace-results.json"


def whole_number(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


HOLD_INTERVAL_S: Final = 30.0


@dataclass(frozen=True)
class OptionSpec:
    """One flag of ``wsrace run``.

    ``owner`` says who declares it to Locust: ``"wsrace"`` (the plugin adds it to Locust's parser)
    or ``"locust"`` (Locust has the flag itself: ``wsrace run`` declares it for its own checks and
    help, and hands it on). ``env_var`` and ``is_secret`` are Locust-only keywords: Locust also
    reads the flag from that variable, and its web UI masks it; ``wsrace run`` hands such a value on
    in the environment, never in Locust's argv.
    """

    flags: tuple[str, ...]
    help: str
    default: Any = None
    metavar: str | None = None
    action: Literal["store", "append", "store_true"] = "store"
    type: Any = None
    choices: tuple[str, ...] | None = None
    env_var: str | None = None
    is_secret: bool = False
    owner: Literal["wsrace", "locust"] = "wsrace"
    web_ui: bool = False
    """Shown among the custom parameters of Locust's start form: only what a start from the page
    honours (:mod:`loadgen.webui` loads it at each start); the rest is fixed for the process."""

    @property
    def dest(self) -> str:
        return self.flags[0].lstrip("-").replace("-", "_")

    def argparse_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"help": self.help, "dest": self.dest}
        if self.action == "append":
            kwargs.update(action="append", default=[])
        elif self.action == "store_true":
            kwargs.update(action="store_true", default=False)
        else:
            kwargs["default"] = self.default
        for name in ("metavar", "type", "choices"):
            if getattr(self, name) is not None:
                kwargs[name] = getattr(self, name)
        return kwargs


OPTIONS: Final[tuple[OptionSpec, ...]] = (
    OptionSpec(("--profile",), "shipped schedule: quick (< 60 s, for CI) or full (default); hold (many "
               "held sessions, --sessions N) or capacity (hold at growing counts until one fails)",
               default=paths.DEFAULT_PROFILE, choices=paths.RUN_PROFILES, owner="locust"),
    OptionSpec(("--host", "-H"), "base URL of a server that speaks the protocol (default: the bundled target)",
               owner="locust"),
    OptionSpec(("--locustfile", "-f"), "scenarios to run (default: the shipped scenarios)",
               default=str(paths.SCENARIOS_DIR), metavar="PATH", owner="locust"),
    OptionSpec(("--fault",), "start the bundled target with this race bug injected (repeatable; no --host)",
               metavar="NAME", action="append"),
    OptionSpec(("--target-workers",), "worker processes of the bundled target (default 1: jobs are per worker "
               "unless --target-broker)", default=0, type=whole_number, metavar="N"),
    OptionSpec(("--target-broker",), "Redis the bundled target shares jobs across its workers through "
               "(redis://HOST:PORT or unix:///PATH; a running redis-server)", metavar="URL"),
    OptionSpec(("--secret",), f"HS256 secret to mint user tokens with (default: ${SECRET_ENV}, else the "
               "target app's development secret)", env_var=SECRET_ENV, is_secret=True),
    OptionSpec(("--token-file",), "file of JWTs, one per line, for servers whose secret you do not hold",
               metavar="FILE"),
    OptionSpec(("--token-command",), "shell command printing one JWT; runs once per user with WSRACE_USER set",
               metavar="COMMAND"),
    OptionSpec(("--thresholds",), f"pass thresholds (TOML; default {paths.default_thresholds()})", metavar="FILE",
               web_ui=True),
    OptionSpec(("--schedule",), "stages to run (TOML; default: the shipped schedule of --profile quick|full)",
               metavar="FILE", web_ui=True),
    OptionSpec(("--results",), f"where to write the JSON results (default {DEFAULT_RESULTS})",
               default=DEFAULT_RESULTS, metavar="PATH"),
    OptionSpec(("--junit",), "also write JUnit XML for CI test reporters", metavar="PATH"),
    OptionSpec(("--locust-stats",), "headless: also print Locust's request tables (every 2 s and a final "
               "summary) instead of one progress line per stage", action="store_true"),
    OptionSpec(("--source-addresses",), "bind the load side's sessions to these local addresses, each "
               "process to its share (e.g. 127.0.0.2-127.0.0.9): past ~28k sessions per address pair",
               metavar="ADDRS"),
    OptionSpec(("--hold-interval",), "seconds between a held session's keep-alive echoes (hold scenario)",
               default=HOLD_INTERVAL_S, type=positive_seconds, metavar="S"),
)


def add_cli_options(parser: argparse.ArgumentParser) -> None:
    """Every option, for ``wsrace run``'s own parser."""
    for spec in OPTIONS:
        parser.add_argument(*spec.flags, **spec.argparse_kwargs())


def add_locust_options(parser: Any) -> None:
    """wsrace's own options, for Locust's parser (``init_command_line_parser``).

    On the parser itself, not a group: only Locust's parser knows the web-UI keywords (is_secret...).
    """
    for spec in OPTIONS:
        if spec.owner != "wsrace":
            continue
        kwargs = spec.argparse_kwargs()
        if spec.env_var:
            kwargs["env_var"] = spec.env_var
        if spec.is_secret:
            kwargs["is_secret"] = True
        parser.add_argument(*spec.flags, include_in_web_ui=spec.web_ui, **kwargs)


def locust_args(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The flags (argv) and environment variables that hand ``wsrace run``'s options to Locust.

    A value equal to its default is left out (the plugin has the same default), except the
    profile and the locustfile, which Locust's own parser would not default the same way.
    """
    argv: list[str] = []
    env: dict[str, str] = {}
    for spec in OPTIONS:
        value = getattr(args, spec.dest)
        if spec.action == "append":
            for item in value:
                argv += [spec.flags[0], item]
        elif spec.action == "store_true":
            argv += [spec.flags[0]] if value else []
        elif value is None or (value == spec.default and spec.owner == "wsrace"):
            continue
        elif spec.env_var:
            env[spec.env_var] = str(value)
        else:
            argv += [spec.flags[0], str(value)]
    return argv, env


@dataclass(frozen=True)
class RunOptions:
    """The parsed options one run uses, typed; from Locust's or ``wsrace run``'s namespace."""

    faults: tuple[str, ...] = ()
    target_workers: int = 0
    target_broker: str | None = None
    secret: str | None = None
    token_file: str | None = None
    token_command: str | None = None
    thresholds: str | None = None
    schedule: str | None = None
    results: str = DEFAULT_RESULTS
    junit: str | None = None
    profile: str | None = None
    locust_stats: bool = False
    source_addresses: str | None = None
    hold_interval: float = HOLD_INTERVAL_S

    @classmethod
    def from_namespace(cls, ns: Any) -> RunOptions:
        """From parsed options; a missing namespace or attribute (a bare test Environment) is the default."""

        def get(name: str, default: Any) -> Any:
            value = getattr(ns, name, default) if ns is not None else default
            return default if value is None and default is not None else value

        return cls(
            faults=tuple(get("fault", ()) or ()),
            target_workers=int(get("target_workers", 0) or 0),
            target_broker=get("target_broker", None),
            secret=get("secret", None),
            token_file=get("token_file", None),
            token_command=get("token_command", None),
            thresholds=get("thresholds", None),
            schedule=get("schedule", None),
            results=get("results", DEFAULT_RESULTS),
            junit=get("junit", None),
            profile=get("profile", None),
            locust_stats=bool(get("locust_stats", False)),
            source_addresses=get("source_addresses", None),
            hold_interval=float(get("hold_interval", HOLD_INTERVAL_S)),
        )


# --------------------------------------------------------------------------- checks


def fault_problem(faults: Sequence[str], host: str | None) -> str | None:
    """What is wrong with ``--fault`` (given ``--host``), or None."""
    if faults and host:
        return "--fault injects bugs into the bundled target: it cannot be used with --host"
    problem = unknown_problem(faults)
    return f"--fault: {problem}" if problem else None


def host_problem(host: str | None) -> str | None:
    """What is wrong with ``--host`` as a base URL, or None (reachability is checked separately)."""
    if not host:
        return None
    problem = base_url_problem(host)
    return f"--host {host}: {problem}" if problem else None


def addresses_problem(text: str | None) -> str | None:
    """What is wrong with ``--source-addresses``, or None."""
    if text is None:
        return None
    try:
        parse_addresses(text)
    except PlanError as exc:
        return str(exc)
    return None


def writable_problem(flag: str, value: str) -> str | None:
    """What stops ``value`` from being written as the file of ``flag``, or None."""
    path = Path(value)
    if path.is_dir():
        return f"{flag} {value}: is a directory; give a file path"
    if not path.parent.is_dir():
        return f"{flag} {value}: directory {path.parent} does not exist"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"{flag} {value}: cannot write to directory {path.parent}"
    return None


def check_inputs(options: RunOptions, host: str | None) -> None:
    """Refuse bad flags before any load (both parsers call this): raises :class:`UsageError`."""
    problems: Iterable[str | None] = (
        fault_problem(options.faults, host),
        host_problem(host),
        writable_problem("--results", options.results),
        writable_problem("--junit", options.junit) if options.junit else None,
        addresses_problem(options.source_addresses),
    )
    for problem in problems:
        if problem:
            raise UsageError(problem)

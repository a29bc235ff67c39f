"""``wsrace run --profile hold --sessions N``: plan the processes for N, then run as usual.

Before Locust starts: the machine's limits are read (:mod:`.machine`), N is planned
(:func:`loadgen.sessions_plan.plan_sessions`: Locust worker processes, target workers, source
addresses; impossible inputs exit 2 saying what to fix), and the hold schedule for N is written
next to the results (``<results>.schedule.toml``, so the run can be repeated with ``--schedule``).
The run itself is the ordinary ``wsrace run`` with those flags: its verdict, results and exit code
are made the same way. After it, a line in plain words for each machine limit that failed sessions
(:func:`loadgen.machine_limits.explain`).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from loadgen import paths
from loadgen.capacity.levels import LevelsError, check_hold, hold_schedule, hold_shape, schedule_toml
from loadgen.capacity.machine import read_limits
from loadgen.exitcodes import UsageError
from loadgen.judge.config_errors import ConfigError
from loadgen.judge.schedule import Schedule, parse_schedule
from loadgen.machine_limits import explain
from loadgen.sessions_plan import (
    MachineLimits,
    PlanError,
    SessionsPlan,
    format_addresses,
    parse_addresses,
    plan_sessions,
)

__all__ = ["add_options", "after", "check_unused", "is_loopback", "not_local", "plan_for", "prepare", "template"]


PROCESSES_FLAG = "--processes"
"""Locust's flag for forked worker processes, which the hold profile sets itself."""


def _count(text: str) -> int:
    cleaned = text.replace("_", "").lower()
    value = int(cleaned[:-1]) * 1000 if cleaned.endswith("k") and cleaned[:-1].isdigit() else None
    if value is None and cleaned.isdigit():
        value = int(cleaned)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of sessions >= 1 (e.g. 5000 or 100k), got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_options(parser: argparse.ArgumentParser) -> None:
    """The flags of the hold and capacity profiles (``wsrace run`` only; Locust never sees them)."""
    group = parser.add_argument_group("hold and capacity profiles (--profile hold|capacity)")
    group.add_argument("--sessions", type=_count, metavar="N",
                       help="held sessions (hold: default the schedule's users, 1000); the processes, "
                       "target workers and source addresses for N are set by themselves")
    group.add_argument("--connect-rate", type=_seconds, metavar="R",
                       help="new sessions per second during the ramp (default: the schedule's spawn_rate)")
    group.add_argument("--hold", type=_seconds, metavar="S",
                       help="seconds every session is held once all are connected (default 60)")
    group.add_argument("--levels", metavar="N,N,...",
                       help="capacity: session counts to step through, smallest first (e.g. 10k,30k,60k,100k)")


def check_unused(args: argparse.Namespace) -> None:
    """Refuse the hold and capacity flags with another profile, rather than ignore them."""
    for flag in ("sessions", "connect_rate", "hold", "levels"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag.replace('_', '-')} is for --profile hold or capacity, "
                             f"not --profile {args.profile}")


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (None: the bundled target) is on this machine's loopback."""
    if not host:
        return True
    name = urlsplit(host).hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def template(args: argparse.Namespace) -> Schedule:
    """The hold schedule the run scales: ``--schedule``, else the shipped ``schedule-hold.toml``."""
    source = args.schedule or str(paths.default_schedule(paths.HOLD_PROFILE))
    try:
        return parse_schedule(source)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def not_local(addresses: Sequence[str]) -> list[str]:
    """The addresses no interface of this machine has (a bind to them fails): each is tried once,
    bound to port 0 and closed at once, nothing connected."""
    missing = []
    for address in addresses:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, 0))
            except OSError:
                missing.append(address)
    return missing


def plan_for(sessions: int, args: argparse.Namespace, limits: MachineLimits | None = None) -> SessionsPlan:
    """The plan for ``sessions`` under ``limits`` (default: this machine's), with the flags given;
    exit 2 when impossible."""
    try:
        addresses = parse_addresses(args.source_addresses) if args.source_addresses else ()
        if missing := not_local(addresses):
            raise PlanError(f"--source-addresses: {', '.join(missing[:5])} is not an address of this machine "
                            "(any of 127.0.0.0/8 is, on Linux); give local addresses")
        plan = plan_sessions(sessions, limits or read_limits(), addresses, loopback=is_loopback(args.host),
                             bundled_target=not args.host)
    except PlanError as exc:
        raise UsageError(str(exc)) from None
    if args.target_workers and not args.host and args.target_workers < plan.target_workers:
        raise UsageError(f"--target-workers {args.target_workers}: {sessions:,} sessions need at least "
                         f"{plan.target_workers} under the fd limit (at most {plan.per_process:,} each); "
                         "leave it out to have it set")
    return plan


def prepare(args: argparse.Namespace, passthrough: Sequence[str], limits: MachineLimits | None = None) -> list[str]:
    """Plan the hold for this machine (or ``limits``): sets ``args.schedule``, ``args.target_workers``
    and ``args.source_addresses``, and returns Locust's extra flags (``--processes P``)."""
    if any(arg == PROCESSES_FLAG or arg.startswith(f"{PROCESSES_FLAG}=") for arg in passthrough):
        raise UsageError(f"{PROCESSES_FLAG}: the hold profile sets it for the sessions asked for; leave it out")
    base = template(args)
    try:
        shape = hold_shape(base, args.connect_rate, args.hold)
        check_hold(shape, args.hold_interval)
    except LevelsError as exc:
        raise UsageError(str(exc)) from None
    sessions = args.sessions or base.stages[0].users
    plan = plan_for(sessions, args, limits)
    schedule = hold_schedule(shape, sessions, base.source)
    out = Path(args.results).with_suffix(".schedule.toml")
    comment = (f"wsrace run --profile hold --sessions {sessions}: derived from {base.source}\n"
               f"ramp {sessions / shape.rate:g} s at {shape.rate:g}/s, then {shape.hold_s:g} s held\n"
               f"plan: {plan.describe()}")
    out.write_text(schedule_toml(schedule, comment))
    sys.stderr.write(f"wsrace run: hold {plan.describe()}; ramp {sessions / shape.rate:.0f} s at "
                     f"{shape.rate:g}/s, hold {shape.hold_s:g} s (schedule {out})\n")
    args.schedule = str(out)
    if not args.host:
        args.target_workers = max(args.target_workers or 0, plan.target_workers)
    if plan.source_addresses:
        args.source_addresses = format_addresses(plan.source_addresses)
    return [*passthrough, *([PROCESSES_FLAG, str(plan.load_processes)] if plan.load_processes > 1 else [])]


def after(results: Path) -> None:
    """After the run: one line in plain words per machine limit that failed held periods."""
    try:
        doc = json.loads(results.read_text())
    except (OSError, ValueError):
        return  # no results: the run's own message says why
    for name, scenario in (doc.get("scenarios") or {}).items():
        for line in explain(scenario.get("failures_by_kind") or {}):
            sys.stdout.write(f"{name}: {line}\n")

"""``wsrace run --profile capacity`` (and ``wsrace capacity``): hold runs at growing session counts.

Levels come from ``--sessions N`` (one level), ``--levels 10k,30k,...`` or a schedule whose every
stage is a level (``--schedule``, default the shipped ``schedule-capacity.toml``). Every level is
planned before any load (:func:`loadgen.sessions_plan.plan_sessions`; an impossible one exits 2).
Then, smallest first, each level is:

1. a fresh bundled target with the workers its plan needs (not with ``--host``), sampled idle;
2. the real ``wsrace run --profile hold --sessions N --host ...`` as a child (its results in
   ``<results>.level-N.json``, its schedule and log next to it), which plans its ``--processes``
   and source addresses as any hold run does, judged by the thresholds as any run;
3. while it runs, both sides sampled every second (:mod:`.sampler`): RSS and CPU over each process
   tree, the target's open connections, the machine's available memory — below
   :data:`MEMORY_FLOOR` the level is stopped (SIGTERM, results still written) and fails on memory;
4. the target stopped and checked.

A level passes when its run exits 0, the target held all its sessions at once for the hold asked
(as sampled: :func:`~loadgen.capacity.levels.hold_problem`) and its target stopped cleanly. The ramp stops at the first
level that fails; the results file (``format: wsrace-capacity``, docs/results-format.md) gives
``capacity.max_sessions_passed`` and one entry per level. Exit 0 when a level passed, 1 when the
first failed, 3 when a level broke (its run exited 3 or overran its deadline, or the target did not
start), 130/143 on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from loadgen import exitcodes, paths
from loadgen.bundled import BundledTarget, StartFailed, shutdown_timeout_for
from loadgen.capacity import hold
from loadgen.capacity.levels import (
    HoldShape,
    LevelsError,
    check_hold,
    figures,
    hold_problem,
    hold_schedule,
    hold_shape,
    max_sessions_passed,
    parse_levels,
    per_added_session,
    schedule_toml,
)
from loadgen.capacity.machine import describe, read_limits
from loadgen.capacity.sampler import LevelSampler
from loadgen.capacity.table import render
from loadgen.children import Child
from loadgen.judge.atomic import atomic_write_text
from loadgen.judge.results import utc_now
from loadgen.judge.schedule import Schedule
from loadgen.machine_limits import WORDS, explain
from loadgen.protocol.tokens import SECRET_ENV
from loadgen.run_options import RunOptions, check_inputs
from loadgen.sessions_plan import SessionsPlan, format_addresses

__all__ = ["FORMAT", "VERSION", "main"]

FORMAT: Final = "wsrace-capacity"
VERSION: Final = 1
START_TIMEOUT_S: Final = 60.0
RUN_MARGIN_S: Final = 120.0
"""A level's run may take its schedule plus this (Locust and the users starting and stopping)."""
MEMORY_FLOOR: Final = 0.05
"""A level is stopped when the machine's available memory falls below this share of its total."""
SAMPLE_S: Final = 1.0
"""Both sides are sampled this often during a level."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stopped(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _levels(args: argparse.Namespace) -> list[tuple[int, HoldShape]]:
    """The levels asked for, each with its rate and hold; exit 2 on bad input."""
    if args.sessions and args.levels:
        raise exitcodes.UsageError("give --sessions N (one level) or --levels N,N,... (a ramp), not both")
    source = args.schedule or str(paths.SCENARIOS_DIR / "schedule-capacity.toml")
    args.schedule = source
    base = hold.template(args)
    try:
        if args.sessions or args.levels:
            shape = hold_shape(Schedule(base.stages[:1], base.source), args.connect_rate, args.hold)
            counts = (args.sessions,) if args.sessions else parse_levels(args.levels)
            return [(count, shape) for count in counts]
        levels = [(stage.users, hold_shape(Schedule((stage,), base.source), args.connect_rate, args.hold))
                  for stage in base.stages]
    except LevelsError as exc:
        raise exitcodes.UsageError(str(exc)) from None
    try:
        for _, shape in levels:
            check_hold(shape, args.hold_interval)
    except LevelsError as exc:
        raise exitcodes.UsageError(str(exc)) from None
    if any(b <= a for (a, _), (b, _) in itertools.pairwise(levels)):
        raise exitcodes.UsageError(f"{source}: the stages of a capacity schedule are levels: their users must grow")
    return levels


def _level_command(args: argparse.Namespace, sessions: int, shape: HoldShape, host: str,
                   files: dict[str, Path], passthrough: Sequence[str]) -> list[str]:
    """The level's run: ``wsrace run --profile hold --sessions N`` against the level's target (it
    plans the load side the same way, and writes its schedule next to its results)."""
    cmd = [sys.executable, "-m", "loadgen.cli", "run", "--profile", paths.HOLD_PROFILE, "--host", host,
           "--schedule", str(files["schedule"]), "--sessions", str(sessions), "--connect-rate", f"{shape.rate:g}",
           "--hold", f"{shape.hold_s:g}", "--results", str(files["results"]),
           "--hold-interval", f"{args.hold_interval:g}"]
    for flag in ("thresholds", "source_addresses", "token_file", "token_command"):
        if getattr(args, flag):
            cmd += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    return cmd + list(passthrough)


def _own_verdict(path: Path) -> tuple[list[str], dict[str, int]]:
    """The checks that failed in a level's results, and its failures by kind (summed)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return ["no results written (see the level's log)"], {}
    failed = [f"{v.get('check')}: {v.get('message')}" for v in doc.get("verdicts", []) if not v.get("passed", True)]
    kinds: dict[str, int] = {}
    for scenario in (doc.get("scenarios") or {}).values():
        for kind, count in (scenario.get("failures_by_kind") or {}).items():
            kinds[kind] = kinds.get(kind, 0) + count
    if doc.get("run_error"):
        failed.insert(0, f"run error: {doc['run_error']}")
    return failed, kinds


def _target_said(log: str) -> list[str]:
    """Machine limits the target's own log names (it accepts connections: EMFILE shows there)."""
    lines = []
    if "Too many open files" in log:
        lines.append(f"the target said no: {WORDS['out_of_fds']}")
    if "Cannot allocate memory" in log or "MemoryError" in log:
        lines.append(f"the target said no: {WORDS['out_of_memory']}")
    return lines


def run_level(args: argparse.Namespace, sessions: int, shape: HoldShape, plan: SessionsPlan,
              base: Path, passthrough: Sequence[str], say: Any) -> dict[str, Any]:
    """One level: target, run, samples, stop; its entry for the results file."""
    files = {name: base.with_suffix(f".level-{sessions}.{ext}")
             for name, ext in (("results", "json"), ("schedule", "schedule.toml"), ("log", "log"))}
    schedule = hold_schedule(shape, sessions, args.schedule)
    # The level's own one-stage template (its hold run rewrites it in place, the same, with its plan).
    files["schedule"].write_text(schedule_toml(schedule, f"capacity level {sessions} of {args.schedule}"))
    entry: dict[str, Any] = {"sessions": sessions, "passed": False, "results": str(files["results"].resolve()),
                             "plan": {"load_processes": plan.load_processes, "target_workers": plan.target_workers,
                                      "source_addresses": format_addresses(plan.source_addresses) or None}}
    target = None
    host = args.host
    if not host:
        broker = getattr(args, "target_broker", None)
        target = BundledTarget(workers=plan.target_workers, faults=args.fault, secret=args.secret,
                               shutdown_timeout=shutdown_timeout_for(sessions),
                               extra_args=("--broker", broker) if broker else ())
        try:
            host = target.start(START_TIMEOUT_S)
        except StartFailed as exc:
            entry.update(broken=f"the bundled target did not start: {exc}")
            return entry
    try:
        cmd = _level_command(args, sessions, shape, host, files, passthrough)
        say(f"level {sessions:,}: {plan.describe()}; ramp {sessions / shape.rate:.0f} s at {shape.rate:g}/s, "
            f"hold {shape.hold_s:g} s")
        env = {SECRET_ENV: args.secret} if args.secret else None
        code, samples, why_stopped = _run(cmd, env, files["log"], target, host,
                                          schedule.total_duration + RUN_MARGIN_S)
    finally:
        stop = target.stop() if target is not None else None
    failed, kinds = _own_verdict(files["results"])
    found = figures(samples, sessions)
    held_short = hold_problem(found, sessions, shape.hold_s, SAMPLE_S)
    if held_short is not None:
        failed.append(f"hold: {held_short}")
    reasons = explain(kinds) + (_target_said(target.child.log_text()) if target and target.child and
                                target.child.log_path.exists() else [])
    if why_stopped and why_stopped.startswith("interrupted by "):
        entry["interrupted"] = why_stopped.removeprefix("interrupted by ")
    elif why_stopped:
        reasons.insert(0, why_stopped)
    if stop is not None and not stop.clean:
        failed.append(f"target_shutdown: {stop.reason}")
    entry.update(exit_code=code, failed_checks=failed, failures_by_kind=kinds, machine_said=reasons,
                 target_stop=None if stop is None else stop.reason, **found.to_dict())
    entry["passed"] = code == exitcodes.PASS and not failed and not why_stopped
    if (code is None or code == exitcodes.BROKEN) and "interrupted" not in entry:
        entry["broken"] = why_stopped or f"the level's run broke (exit {code}); see {files['log']}"
    return entry


def _run(cmd: list[str], env: dict[str, str] | None, log: Path, target: BundledTarget | None, host: str,
         limit_s: float) -> tuple[int | None, list[Any], str | None]:
    """The level's run as a child, sampled; its exit code (None: overran), samples, why it was stopped."""
    started = time.monotonic()
    why: str | None = None
    floor = MEMORY_FLOOR * (read_limits().memory_bytes or 0)
    with Child.start(cmd, name="capacity level", output="log", env=env) as child:
        target_pid = target.child.pid if target is not None and target.child is not None else None
        with LevelSampler(child.pid, target_pid, host, SAMPLE_S) as sampler:
            try:
                while (code := child.wait(min(started + limit_s, time.monotonic() + 1.0))) is None:
                    last = sampler.last
                    if last is not None and last.available_bytes < floor:
                        why = (f"memory: the machine's available memory fell to {last.available_bytes / 2**20:.0f} "
                               f"MiB (< {MEMORY_FLOOR:.0%}); the level was stopped")
                        code = _stop_group(child, 60.0)
                        break
                    if time.monotonic() >= started + limit_s:
                        why = f"the level's run did not finish within {limit_s:.0f} s; killed"
                        child.kill()
                        break
                    if target is not None and not target.alive():
                        why = _target_gone(target)
                        code = _stop_group(child, 30.0)
                        break
            except _Stopped as exc:  # the level's run has its own session: pass the stop on, then report
                why = f"interrupted by {exc.name}"
                code = _stop_group(child, 30.0)
            finally:
                log.write_text(child.log_text())
    return code, list(sampler.samples), why


def _stop_group(child: Child, grace: float) -> int | None:
    """SIGTERM to the level's whole process group, as a terminal's Ctrl-C or a CI cancel would send
    it (``wsrace run`` itself ignores a signal sent to it alone, and Locust stops, writing its
    results); after ``grace`` seconds, SIGKILL. The exit code, None if it had to be killed."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGTERM)
    code = child.wait(time.monotonic() + grace)
    if code is None:
        child.kill()
    return code


def _target_gone(target: BundledTarget) -> str:
    code = target.proc.returncode if target.proc is not None else None
    if code == -signal.SIGKILL:
        return "memory: the target was killed by SIGKILL during the level (the kernel's OOM killer?)"
    return f"the target exited during the level (code {code})"


def main(args: argparse.Namespace, passthrough: Sequence[str]) -> int:
    """``wsrace run --profile capacity``: the whole ramp; its exit code."""
    check_inputs(RunOptions.from_namespace(args), args.host)
    if any(arg == hold.PROCESSES_FLAG or arg.startswith(f"{hold.PROCESSES_FLAG}=") for arg in passthrough):
        raise exitcodes.UsageError(f"{hold.PROCESSES_FLAG}: the capacity profile sets it per level; leave it out")
    levels = _levels(args)
    plans = [hold.plan_for(sessions, args) for sessions, _ in levels]  # every level, before any load
    limits = read_limits()
    base = Path(args.results)
    started, began = utc_now(), time.monotonic()
    entries: list[dict[str, Any]] = []
    stopped: str | None = None
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in STOP_SIGNALS}
    try:
        for (sessions, shape), plan in zip(levels, plans, strict=True):
            entry = run_level(args, sessions, shape, plan, base, passthrough, _say)
            before = next((e for e in reversed(entries) if e["passed"]), None)
            for side in ("load", "target"):
                entry[f"{side}_kib_per_added_session"] = per_added_session(before, entry, side)
            entries.append(entry)
            if "interrupted" in entry:
                stopped = entry["interrupted"]
                break
            _say(f"level {sessions:,}: {'PASS' if entry['passed'] else 'FAIL'}")
            if not entry["passed"]:
                break
    except _Stopped as exc:
        stopped = exc.name
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    best = max_sessions_passed([(e["sessions"], e["passed"]) for e in entries if "interrupted" not in e])
    broken = next((e["broken"] for e in entries if e.get("broken")), None)
    failing = next((e for e in entries if not e["passed"] and "interrupted" not in e), None)
    reason = (f"interrupted by {stopped}" if stopped else broken if broken
              else None if failing is None else _why(failing))
    doc = {
        "format": FORMAT, "version": VERSION,
        "passed": best is not None and not broken and not stopped,
        "run": {"started": started, "finished": utc_now(), "duration_s": round(time.monotonic() - began, 1),
                "host": args.host, "bundled_target": not args.host, "machine": describe(limits),
                "hold_interval_s": args.hold_interval, "levels_asked": [s for s, _ in levels],
                "interrupted": stopped is not None, "signal": stopped},
        "capacity": {"max_sessions_passed": best,
                     "first_failed": None if failing is None else failing["sessions"],
                     "stop_reason": reason or "every level passed", "levels": entries},
    }
    atomic_write_text(base, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    sys.stdout.write("\n" + render(doc) + f"\nresults: {base.resolve()}\n")
    if stopped:
        return exitcodes.interrupted(stopped)
    if broken:
        return exitcodes.BROKEN
    return exitcodes.PASS if best is not None else exitcodes.FAILED


def _why(entry: dict[str, Any]) -> str:
    parts = list(entry.get("machine_said") or []) + list(entry.get("failed_checks") or [])
    return f"{entry['sessions']:,} sessions failed: " + ("; ".join(parts[:4]) or f"exit {entry.get('exit_code')}")


def _raise_stopped(signum: int, _frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def _say(text: str) -> None:
    sys.stderr.write(f"wsrace capacity: {text}\n")
    sys.stderr.flush()

"""Run a soak: one bundled target process, then ``wsrace run --host`` against it once per run.

As a user would: the target is ``python -m target_app --port 0`` (through
:class:`~loadgen.bundled.BundledTarget`, on :mod:`loadgen.children`), and each run is the real
``wsrace run`` command in a child process, its results in ``<out>/run-K.json``. While a run goes,
its process tree is sampled every second for the load side's peak memory and files. After it, the
target is given time to become idle (no connections open; then no job running or kept and its idle
number of background tasks: the halted jobs the protocol keeps for 60 s must have been swept) and
its figures are read. Every wait has a deadline computed once; the whole soak is bounded by
:meth:`SoakConfig.time_bound`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from loadgen import exitcodes
from loadgen.bundled import BundledTarget, StartFailed
from loadgen.children import Child
from loadgen.soak.judge import (
    MIB,
    Check,
    LoadPeak,
    RunOutcome,
    RunRecord,
    TargetPeak,
    TargetState,
    Tolerance,
    judge,
    load_notes,
)
from loadgen.soak.probe import Gauges, PeakSampler, TargetSampler, tree_usage, wait_for

__all__ = ["SoakBroken", "SoakConfig", "SoakResult", "run_soak"]

START_TIMEOUT_S = 30.0
STOP_MARGIN_S = 15.0
QUIET_SAMPLES = 5
"""Idle figures are read this many times, 0.2 s apart, after the last scrape; the fewest open files
is kept (a scrape's own connection may still be closing in a worker for a moment)."""


class SoakBroken(Exception):
    """The soak could not go on (the target did not start or died, a run broke or overran)."""


@dataclass(frozen=True, slots=True)
class SoakConfig:
    runs: int
    profile: str
    schedule: Path | None
    """A schedule given with ``--schedule`` (None: the profile's own)."""
    schedule_s: float
    workers: int
    out_dir: Path
    run_timeout_s: float
    idle_timeout_s: float
    settle_timeout_s: float
    sample_interval_s: float = 1.0
    tolerance: Tolerance = field(default_factory=Tolerance)

    def time_bound(self) -> float:
        """The longest the soak can take: every deadline passed in full."""
        per_run = self.run_timeout_s + self.idle_timeout_s + self.settle_timeout_s + 2.0
        return START_TIMEOUT_S + self.settle_timeout_s + self.runs * per_run + STOP_MARGIN_S

    def run_command(self, host: str, results: Path) -> list[str]:
        cmd = [sys.executable, "-m", "loadgen.cli", "run", "--profile", self.profile, "--host", host,
               "--results", str(results)]
        return cmd + (["--schedule", str(self.schedule)] if self.schedule is not None else [])

    def as_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "profile": self.profile,
                "schedule": None if self.schedule is None else str(self.schedule),
                "schedule_s": self.schedule_s, "workers": self.workers, "out_dir": str(self.out_dir),
                "run_timeout_s": self.run_timeout_s, "idle_timeout_s": self.idle_timeout_s,
                "settle_timeout_s": self.settle_timeout_s, "sample_interval_s": self.sample_interval_s,
                "time_bound_s": round(self.time_bound(), 1)}


@dataclass
class SoakResult:
    before: TargetState | None = None
    runs: list[RunRecord] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "broken"
        return "pass" if self.checks and all(c.passed for c in self.checks) else "fail"

    @property
    def exit_code(self) -> int:
        return {"pass": exitcodes.PASS, "fail": exitcodes.FAILED}.get(self.verdict, exitcodes.BROKEN)


def _idle(gauges: Gauges, tasks: float | None) -> bool:
    return (gauges.exposed and gauges.connections_open == 0 and gauges.jobs_running == 0
            and gauges.jobs_kept == 0 and (tasks is None or gauges.background_tasks == tasks))


def settle(host: str, pid: int, *, idle_tasks: float | None, idle_deadline: float,
           settle_deadline: float) -> TargetState:
    """Wait for the target to be idle (each step by its deadline), then read its figures.

    Deadlines passed are not errors here: the figures then show what was left, and the judge fails
    them. An unreachable ``/metrics`` or a vanished target is :class:`SoakBroken`."""
    started = time.monotonic()
    try:
        at_idle, _ = wait_for(host, lambda g: g.connections_open == 0, idle_deadline)
        gauges, _ = wait_for(host, lambda g: _idle(g, idle_tasks), settle_deadline)
    except OSError as exc:
        raise SoakBroken(f"the target's /metrics: {exc}") from exc
    settled_s = time.monotonic() - started
    try:
        samples = []
        for i in range(QUIET_SAMPLES):
            if i:
                time.sleep(0.2)
            samples.append(tree_usage(pid))
    except psutil.Error as exc:
        raise SoakBroken(f"the target process {pid} is gone: {exc}") from exc
    quiet = min(samples, key=lambda u: u.fds)
    return TargetState(rss_bytes=samples[-1].rss_bytes, fds=quiet.fds, pids=samples[-1].pids,
                       connections_open=gauges.connections_open, jobs_running=gauges.jobs_running,
                       jobs_kept=gauges.jobs_kept, background_tasks=gauges.background_tasks,
                       unhandled_errors=gauges.unhandled_errors, kept_at_idle=at_idle.jobs_kept,
                       settle_s=round(settled_s, 2))


def _own_verdict(results: Path) -> tuple[bool | None, tuple[str, ...], dict[str, float | None]]:
    """A run's own verdict from its results file: passed, the checks that failed, the work done."""
    try:
        doc = json.loads(results.read_text())
    except (OSError, ValueError):
        return None, (), {}
    failed = tuple(f"{v.get('check')}: {v.get('message')}" for v in doc.get("verdicts", [])
                   if not v.get("passed", True))
    counters = (doc.get("server") or {}).get("counters") or {}
    work = {"connections": counters.get("connections_total"), "jobs": counters.get("jobs_started")}
    return bool(doc.get("passed")), failed, work


def one_run(config: SoakConfig, index: int, host: str, target_pid: int,
            say: Callable[[str], None]) -> tuple[RunOutcome, LoadPeak, TargetPeak]:
    """``wsrace run`` once, both sides sampled; its outcome, the load side's and the target's peaks."""
    results = config.out_dir / f"run-{index}.json"
    cmd = config.run_command(host, results)
    say(f"run {index}/{config.runs}: {' '.join(cmd[2:])} (timeout {config.run_timeout_s:.0f} s)")
    started = time.monotonic()
    with Child.start(cmd, name=f"wsrace run {index}", output="log") as child:
        with PeakSampler(child.pid, config.sample_interval_s) as sampler, \
                TargetSampler(target_pid, host, config.sample_interval_s) as target_sampler:
            code = child.wait(started + config.run_timeout_s)
        (config.out_dir / f"run-{index}.log").write_text(child.log_text())
        if code is None:
            child.kill()
            raise SoakBroken(f"run {index} did not finish within {config.run_timeout_s:.0f} s "
                             f"(log: {config.out_dir / f'run-{index}.log'})")
    took = time.monotonic() - started
    passed, failed, work = _own_verdict(results)
    outcome = RunOutcome(index, code, passed, failed, round(took, 1), str(results), **work)
    say(f"run {index}: exit {code} in {took:.0f} s" + (f", {len(failed)} checks failed" if failed else ""))
    if code not in (exitcodes.PASS, exitcodes.FAILED):
        raise SoakBroken(f"run {index} broke (exit {code}); see {config.out_dir / f'run-{index}.log'}")
    return outcome, sampler.peak(), target_sampler.target_peak()


def run_soak(config: SoakConfig, say: Callable[[str], None]) -> SoakResult:
    """The whole soak; never raises for a broken soak (the result says what broke)."""
    result = SoakResult()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    target = BundledTarget(workers=config.workers)
    result.target = {"command": target.command(), "workers": config.workers}
    try:
        host = target.start(START_TIMEOUT_S)
        result.target.update(host=host, pid=target.child.pid if target.child else None)
        say(f"target {host} (pid {result.target['pid']}, {config.workers} workers); "
            f"the soak takes at most {config.time_bound() / 60:.0f} min")
        pid = int(result.target["pid"])
        now = time.monotonic()
        result.before = settle(host, pid, idle_tasks=None, idle_deadline=now + config.idle_timeout_s,
                               settle_deadline=now + config.settle_timeout_s)
        before = result.before
        if (before.background_tasks is None or before.connections_open != 0 or before.jobs_running != 0
                or before.jobs_kept != 0):
            raise SoakBroken(f"the target is not idle before any load (or exposes no job and task "
                             f"gauges): {result.before}")
        for index in range(1, config.runs + 1):
            outcome, peak, target_peak = one_run(config, index, host, pid, say)
            if not target.alive():
                code = target.proc.returncode if target.proc else None
                raise SoakBroken(f"the target exited during run {index} (code {code})")
            now = time.monotonic()
            state = settle(host, pid, idle_tasks=result.before.background_tasks,
                           idle_deadline=now + config.idle_timeout_s,
                           settle_deadline=now + config.idle_timeout_s + config.settle_timeout_s)
            result.runs.append(RunRecord(outcome, state, peak, target_peak))
            say(f"run {index}: target idle after {state.settle_s:.0f} s: RSS {state.rss_bytes / MIB:.1f} MiB, "
                f"{state.fds} open files; {state.kept_at_idle or 0:g} jobs kept when the last connection closed")
    except StartFailed as exc:
        result.error = f"the target did not start: {exc}"
    except SoakBroken as exc:
        result.error = str(exc)
    except KeyboardInterrupt:
        result.error = "interrupted"
    finally:
        stop = target.stop()
        result.target["stop"] = {"clean": stop.clean, "reason": stop.reason, "returncode": stop.returncode}
    if result.runs and result.before is not None:
        result.checks = judge(result.before, result.runs, config.tolerance)
        result.notes = load_notes(result.runs, config.tolerance)
        result.checks.append(Check("target stopped cleanly", stop.clean, stop.reason))
    return result

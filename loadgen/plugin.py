"""wsrace inside Locust: its command-line options, the bundled target, and the verdict at quit.

Importing this module (``loadgen.user`` does) registers listeners on Locust's events:

- ``init_command_line_parser``: wsrace's options (``--secret``, ``--fault``, ``--thresholds``...);
  Locust's own ``--profile`` picks the shipped schedule (``quick`` or ``full``).
- ``init``, on the master (or a standalone process): loads and checks the thresholds and schedule
  (a bad file: message and exit 2), starts the bundled target when no ``--host`` was given (exit 3
  if it cannot start) or checks that the given host answers ``/healthz`` (exit 2 if not), and reads
  the server counters at the start. On workers: sends tallies to the master with each report.
- ``quitting``, on the master: collects the workers' last reports, reads the server counters again,
  stops the bundled target (one that does not exit within its shutdown timeout fails the run),
  judges, prints the verdict table, writes the results (and JUnit) atomically — also after Ctrl-C —
  and sets the exit code: 0 pass, 1 a threshold failed, 3 the run broke.

Judging itself is :func:`loadgen.judge.evaluate.evaluate`, a pure function; this module only
gathers its inputs and turns its verdicts into output and an exit code.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gevent
import locust
from locust import events
from locust.runners import MasterRunner, WorkerRunner

from loadgen import exitcodes
from loadgen.bundled import BundledTarget, StartFailed, default_workers
from loadgen.collector import REPORT_KEY
from loadgen.context import run_context
from loadgen.judge.evaluate import Verdict, run_check
from loadgen.judge.junit import write_junit
from loadgen.judge.results import RunMeta, ScenarioTally, build_results, utc_now, write_results
from loadgen.judge.schedule import Schedule, check_scenarios, parse_schedule
from loadgen.judge.table import render_table
from loadgen.judge.thresholds import Thresholds, parse_thresholds
from loadgen.metrics_scrape import ServerCounters, metrics_url, scrape
from loadgen.shape import COMPLETED_ATTR, SCHEDULE_ATTR, ScheduleShape, scenario_classes
from loadgen.urls import base_url_problem, http_url
from target_app import faults  # the fault names only: loads no server code

__all__ = ["DEFAULT_RESULTS", "PROFILES", "default_schedule", "default_thresholds"]

log = logging.getLogger("wsrace")

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
PROFILES = ("quick", "full")
DEFAULT_PROFILE = "full"
DEFAULT_RESULTS = "wsrace-results.json"
HEALTH_TIMEOUT_S = 5.0
WATCH_INTERVAL_S = 1.0
STATE_ATTR = "wsrace_run"


def default_schedule(profile: str | None) -> Path:
    return SCENARIOS_DIR / f"schedule-{profile or DEFAULT_PROFILE}.toml"


def default_thresholds() -> Path:
    return SCENARIOS_DIR / "thresholds.toml"


@dataclass
class RunState:
    """The master's view of one run (kept on the Environment, not in module globals)."""

    thresholds: Thresholds
    thresholds_path: str
    schedule: Schedule | None
    schedule_path: str | None
    host: str
    target: BundledTarget | None = None
    counters_at_start: ServerCounters | None = None
    counters_error: str | None = None
    started: str = field(default_factory=utc_now)
    started_monotonic: float = field(default_factory=time.monotonic)
    run_error: str | None = None
    finished: bool = False
    workers_reporting: set[str] = field(default_factory=set)


# --------------------------------------------------------------------------- options


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    # On the parser itself, not a group: only Locust's parser knows the web-UI keywords (is_secret...).
    group = parser
    group.add_argument("--secret", env_var="WSRACE_SECRET", default=None, is_secret=True,
                       help="HS256 secret to mint user tokens with (the target app's; default: its development secret)")
    group.add_argument("--token-file", default=None,
                       help="file of JWTs, one per line, for servers whose secret you do not hold")
    group.add_argument("--token-command", default=None,
                       help="shell command printing one JWT; runs once per user with WSRACE_USER set")
    group.add_argument("--fault", action="append", default=[], metavar="NAME",
                       help="start the bundled target with this race bug injected (repeatable; no --host)")
    group.add_argument("--target-workers", type=int, default=0,
                       help="worker processes of the bundled target (default: half the cores, at least 1)")
    group.add_argument("--thresholds", default=None, metavar="FILE",
                       help=f"pass thresholds (TOML; default {default_thresholds()})")
    group.add_argument("--schedule", default=None, metavar="FILE",
                       help="stages to run (TOML; default: the shipped schedule of --profile quick|full)")
    group.add_argument("--results", default=DEFAULT_RESULTS, metavar="PATH",
                       help=f"where to write the JSON results (default {DEFAULT_RESULTS})")
    group.add_argument("--junit", default=None, metavar="PATH", help="also write JUnit XML for CI test reporters")


# --------------------------------------------------------------------------- start


def _usage_exit(message: str) -> None:
    sys.stderr.write(f"wsrace: {message}\n")
    sys.exit(exitcodes.BAD_INPUT)


def _load_plan(environment: Any) -> tuple[Thresholds, str, Schedule | None, str | None]:
    opts = environment.parsed_options
    thresholds_path = opts.thresholds or str(default_thresholds())
    thresholds = parse_thresholds(thresholds_path)
    uses_schedule = environment.shape_class is not None and isinstance(environment.shape_class, ScheduleShape)
    if not uses_schedule:
        return thresholds, thresholds_path, None, None
    if opts.schedule is None and opts.profile not in (None, *PROFILES):
        raise exitcodes.UsageError(
            f"--profile {opts.profile!r}: no such schedule; expected one of {', '.join(PROFILES)}, "
            "or give --schedule FILE"
        )
    schedule_path = opts.schedule or str(default_schedule(opts.profile))
    schedule = parse_schedule(schedule_path)
    check_scenarios(schedule, set(scenario_classes(environment.user_classes)))
    return thresholds, thresholds_path, schedule, schedule_path


def _scheduled_scenarios(environment: Any, state: RunState) -> set[str]:
    if state.schedule is not None:
        return set(state.schedule.scenarios)
    return set(scenario_classes(environment.user_classes))


def _check_host(host: str) -> None:
    problem = base_url_problem(host)
    if problem:
        raise exitcodes.UsageError(f"--host {host}: {problem}")
    url = http_url(host, "/healthz")
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as resp:
            if resp.status == 200:
                return
            problem = f"answered HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        problem = f"answered HTTP {exc.code}"
    except (OSError, urllib.error.URLError, ValueError) as exc:
        problem = f"is unreachable ({getattr(exc, 'reason', exc)})"
    raise exitcodes.UsageError(f"--host {host}: {url} {problem}; is the server running and is the URL right?")


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        environment.events.report_to_master.add_listener(
            lambda client_id, data, **__: data.__setitem__(REPORT_KEY, run_context(environment).collector.drain())
        )
        return
    if runner is None:
        return
    opts = environment.parsed_options
    try:
        thresholds, thresholds_path, schedule, schedule_path = _load_plan(environment)
        if environment.host and opts.fault:
            raise exitcodes.UsageError("--fault injects bugs into the bundled target: it cannot be used with --host")
        fault_problem = faults.check(opts.fault)
        if fault_problem:
            raise exitcodes.UsageError(f"--fault: {fault_problem}")
        if environment.host:
            _check_host(environment.host)
        run_context(environment)  # builds the token source now: a bad --token-file is exit 2 before any load
    except exitcodes.UsageError as exc:
        _usage_exit(str(exc))
        return
    target = None
    if not environment.host:
        target = BundledTarget(workers=opts.target_workers or default_workers(), faults=opts.fault, secret=opts.secret)
        try:
            environment.host = target.start()
        except StartFailed as exc:
            sys.stderr.write(f"wsrace: the bundled target did not start: {exc}\n")
            sys.exit(exitcodes.BROKEN)
    state = RunState(thresholds, thresholds_path, schedule, schedule_path, environment.host, target)
    setattr(environment, STATE_ATTR, state)
    setattr(environment, SCHEDULE_ATTR, schedule)
    try:
        state.counters_at_start = scrape(environment.host)
    except (OSError, ValueError) as exc:
        state.counters_error = f"{metrics_url(environment.host)} unreachable at the start: {exc}"
    if isinstance(runner, MasterRunner):

        def absorb(client_id: str, data: dict[str, Any], **__: Any) -> None:
            state.workers_reporting.add(client_id)
            run_context(environment).collector.absorb(data.get(REPORT_KEY) or {})

        environment.events.worker_report.add_listener(absorb)
    if target is not None:
        gevent.spawn(_watch_target, environment, state)


def _watch_target(environment: Any, state: RunState) -> None:
    """A bundled target that dies mid-run breaks the run: stop at once and say so."""
    assert state.target is not None
    while not state.finished:
        gevent.sleep(WATCH_INTERVAL_S)
        if not state.finished and not state.target.alive():
            state.run_error = f"the bundled target died during the run (exit code {state.target.proc.returncode})"
            log.error("%s; stopping the run", state.run_error)
            environment.runner.quit()
            return


# --------------------------------------------------------------------------- quit


def _step_stats(environment: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Per scenario and step: count, failures and latency percentiles (ms) from Locust's stats."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in environment.stats.entries.values():
        if not entry.num_requests and not entry.num_failures:
            continue
        timed = entry.num_requests > 0
        pct = entry.get_response_time_percentile
        out.setdefault(entry.method, {})[entry.name] = {
            "count": entry.num_requests,
            "failures": entry.num_failures,
            "p50": pct(0.5) if timed else None,
            "p90": pct(0.9) if timed else None,
            "p95": pct(0.95) if timed else None,
            "p99": pct(0.99) if timed else None,
            "max": entry.max_response_time if timed else None,
            "avg": entry.avg_response_time if timed else None,
            "min": entry.min_response_time if timed else None,
        }
    return out


def _server_growth(state: RunState) -> tuple[dict[str, float] | None, str | None]:
    if state.counters_at_start is None:
        return None, state.counters_error
    try:
        end = scrape(state.host)
    except (OSError, ValueError) as exc:
        return None, f"{metrics_url(state.host)} unreachable at the end: {exc}"
    growth = end.minus(state.counters_at_start)
    counters: dict[str, float] = dict(growth.values)
    counters.update({f"closes.{code}": n for code, n in growth.closes.items()})
    return counters, None


def _stop_target(state: RunState) -> list[Verdict]:
    if state.target is None:
        return []
    outcome = state.target.stop()
    log.info("bundled target: %s", outcome.reason)
    return [run_check("target_shutdown", outcome.clean, outcome.reason, value=round(outcome.seconds, 3),
                      limit=state.target.shutdown_timeout)]


def _run_meta(environment: Any, state: RunState, processes: int) -> RunMeta:
    opts = environment.parsed_options
    completed = bool(getattr(environment, COMPLETED_ATTR, False)) or state.schedule is None
    stopped_early = "stopped before the schedule finished (Ctrl-C or a signal)"
    stop_reason = state.run_error or (None if completed else stopped_early)
    return RunMeta(
        started=state.started,
        finished=utc_now(),
        duration_s=round(time.monotonic() - state.started_monotonic, 3),
        host=state.host,
        bundled_target=state.target is not None,
        faults=tuple(opts.fault or ()),
        profile=opts.profile,
        schedule=state.schedule_path,
        thresholds=state.thresholds_path,
        locust_version=locust.__version__,
        processes=max(processes, 1),
        interrupted=not completed,
        stop_reason=stop_reason,
    )


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    state: RunState | None = getattr(environment, STATE_ATTR, None)
    if state is None or state.finished:
        return
    state.finished = True
    # Until the verdict is written, this run counts as broken: an error below must not end in
    # Locust's own exit code for a crashed handler.
    environment.process_exit_code = exitcodes.BROKEN
    runner = environment.runner
    if isinstance(runner, MasterRunner) and runner.clients:
        runner.quit()  # workers send their last report on "quit": collect it before judging
    server_counters, server_error = _server_growth(state)
    run_checks = _stop_target(state)
    scheduled = _scheduled_scenarios(environment, state)
    # Judge what this run scheduled: thresholds of scenarios it did not schedule do not apply, and a
    # scheduled scenario that never completed an iteration still gets a (failing) min_iterations check.
    thresholds = replace(
        state.thresholds, scenarios={k: v for k, v in state.thresholds.scenarios.items() if k in scheduled}
    )
    counted = run_context(environment).collector.tallies()
    tallies = {name: counted.get(name, ScenarioTally()) for name in scheduled}
    steps = {k: v for k, v in _step_stats(environment).items() if k in scheduled}
    meta = _run_meta(environment, state, max(len(state.workers_reporting), 1))
    doc = build_results(meta, tallies, steps, server_counters, thresholds, run_checks=run_checks,
                        run_error=state.run_error, server_error=server_error)
    verdicts = [Verdict.from_dict(v) for v in doc["verdicts"]]
    sys.stdout.write("\n" + render_table(verdicts, doc) + "\n")
    opts = environment.parsed_options
    try:
        write_results(opts.results, doc)
        sys.stdout.write(f"results: {os.path.abspath(opts.results)}\n")
        if opts.junit:
            write_junit(opts.junit, doc)
            sys.stdout.write(f"junit: {os.path.abspath(opts.junit)}\n")
    except OSError as exc:
        sys.stderr.write(f"wsrace: could not write the results: {exc}\n")
        return  # the exit code stays BROKEN: results that were not written are never a pass
    sys.stdout.flush()
    if state.run_error:
        environment.process_exit_code = exitcodes.BROKEN
    else:
        environment.process_exit_code = exitcodes.PASS if doc["passed"] else exitcodes.FAILED

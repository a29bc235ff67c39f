"""wsrace inside Locust: its command-line options, the bundled target, and the verdict at quit.

Importing this module (``loadgen.user`` does) registers listeners on Locust's events:

- ``init_command_line_parser``: wsrace's options (``--secret``, ``--fault``, ``--thresholds``...),
  from the one table :data:`loadgen.run_options.OPTIONS` that ``wsrace run`` reads too; Locust's
  own ``--profile`` picks the shipped schedule (``quick`` or ``full``).
- ``init``, in every Locust process, first: handlers for SIGINT and SIGTERM
  (:mod:`loadgen.interrupts`: the first signal stops the run gracefully, a second at once).
  On the master (or a standalone process): makes ``wsrace run``'s input checks, loads and
  checks the thresholds and schedule (bad input: message and exit 2), starts the bundled target
  when no ``--host`` was given (exit 2 if it refuses its flags, such as faults that cannot be
  combined; exit 3 if it cannot start) or checks that the given host answers ``/healthz`` (exit 2
  if not), creates the run context (:mod:`loadgen.context`) and starts the run's one server poller
  (:mod:`loadgen.server_poller`), the latency probe that measures the run's baseline
  (:mod:`loadgen.probe`) and, when a threshold says ``abort = true``, the watch that stops the run
  at its first breach (:mod:`loadgen.abort`). On workers: sends tallies to the master with each report, and a
  last report when the worker quits (its running users stopped first, their iterations counted as
  interrupted).
- ``quitting``, on the master: collects the workers' last reports, ends the server poller (a last
  read of the counters), stops the bundled target (one that does not exit within its shutdown
  timeout fails the run), judges, prints the verdict table, writes the results (and JUnit)
  atomically — also after Ctrl-C or SIGTERM — and sets the exit code: 0 pass, 1 a threshold
  failed, 3 the run broke, 130 / 143 the run was stopped by SIGINT / SIGTERM.

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
from dataclasses import replace
from typing import Any, NoReturn

import gevent
import locust
from locust import events
from locust.exception import RPCError
from locust.runners import MasterRunner, WorkerRunner

from loadgen import abort, exitcodes, interrupts, locust_scale, paths, process_watch, progress, webui
from loadgen.bundled import BundledTarget, StartFailed, default_workers, shutdown_timeout_for
from loadgen.collector import REPORT_KEY
from loadgen.context import ATTR, Interrupts, JudgePlan, RunContext, attach, run_context
from loadgen.judge.evaluate import Verdict, run_check
from loadgen.judge.junit import write_junit
from loadgen.judge.results import RunMeta, ScenarioTally, build_results, utc_now, write_results
from loadgen.judge.schedule import check_scenarios, parse_schedule
from loadgen.judge.table import render_table
from loadgen.judge.thresholds import parse_thresholds
from loadgen.probe import LatencyProbe
from loadgen.report import hooks as report
from loadgen.run_options import RunOptions, add_locust_options, check_inputs
from loadgen.server_poller import ServerPoller
from loadgen.shape import ScheduleShape, scenario_classes
from loadgen.tokens_source import token_source
from loadgen.urls import http_url

__all__: list[str] = []

log = logging.getLogger("wsrace")

locust_scale.install()  # a worker would otherwise block ~0.3-1 s per spawn message

HEALTH_TIMEOUT_S = 5.0
WATCH_INTERVAL_S = 1.0
RESULTS_WAIT_S = 60.0
"""How long a second ``quitting`` waits for the first to write the results (the target's stop and
the workers' last reports are bounded well below)."""


# --------------------------------------------------------------------------- options


@events.init_command_line_parser.add_listener
def _add_options(parser: Any, **_: Any) -> None:
    add_locust_options(parser)


# --------------------------------------------------------------------------- start


def _load_plan(environment: Any, opts: RunOptions) -> JudgePlan:
    thresholds_path = opts.thresholds or str(paths.default_thresholds())
    thresholds = parse_thresholds(thresholds_path)
    uses_schedule = environment.shape_class is not None and isinstance(environment.shape_class, ScheduleShape)
    if not uses_schedule:
        return JudgePlan(thresholds, thresholds_path)
    if opts.schedule is None and opts.profile not in (None, *paths.SCHEDULED_PROFILES):
        raise exitcodes.UsageError(
            f"--profile {opts.profile!r}: no such schedule; expected one of {', '.join(paths.SCHEDULED_PROFILES)}, "
            "or give --schedule FILE"
        )
    schedule_path = opts.schedule or str(paths.default_schedule(opts.profile))
    schedule = parse_schedule(schedule_path)
    check_scenarios(schedule, set(scenario_classes(environment.user_classes)))
    return JudgePlan(thresholds, thresholds_path, schedule, schedule_path)


def _scheduled_scenarios(environment: Any, ctx: RunContext) -> set[str]:
    if ctx.schedule is not None:
        return set(ctx.schedule.scenarios)
    return set(scenario_classes(environment.user_classes))


def _check_reachable(host: str) -> None:
    """A ``--host`` that does not answer ``/healthz`` is bad input: say so before any load."""
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


def _exit(code: int, message: str) -> NoReturn:
    sys.stderr.write(f"wsrace: {message}\n")
    sys.exit(code)


def _start_target(opts: RunOptions, plan: JudgePlan) -> tuple[BundledTarget, str]:
    """The bundled target, started, and its base URL; exits 2 or 3 if it does not start."""
    users = max((stage.users for stage in plan.schedule.stages), default=0) if plan.schedule else 0
    target = BundledTarget(workers=opts.target_workers or default_workers(), faults=opts.faults, secret=opts.secret,
                           shutdown_timeout=shutdown_timeout_for(users),
                           extra_args=("--broker", opts.target_broker) if opts.target_broker else ())
    try:
        host = target.start()
    except StartFailed as exc:
        if exc.bad_input:
            # The target refused its flags (faults that cannot be combined...): its message says
            # why and names the flags.
            _exit(exitcodes.BAD_INPUT, f"the bundled target refused its flags: {exc}")
        _exit(exitcodes.BROKEN, f"the bundled target did not start: {exc}")
    return target, host


LAST_REPORT_WAIT_S = 5.0
"""How long a quitting worker waits for its users to be gone before its last report."""


def _send_last_report(environment: Any, **_: Any) -> None:
    """A worker that quits (told by its master, or on a signal of its own) stops its users first,
    so that the iterations they were in are counted as interrupted, then reports them. Registered
    after Locust's own listener, which tells the master "quit": ``quitting`` runs its listeners in
    reverse, so this report goes first."""
    runner = environment.runner
    runner.stop()
    # Another stop may be under way at the same moment (SIGTERM reaches a --processes worker both
    # through Locust's own handler and through the master's "quit"): Locust's stop() then returns
    # while the other one is still killing users, whose iterations are counted as interrupted only
    # as they exit. Wait for every user to be gone, or their counts would miss this last report.
    if not runner.user_greenlets.join(timeout=LAST_REPORT_WAIT_S):
        log.warning("users still running %.0f s after the stop: their iterations miss the last report",
                    LAST_REPORT_WAIT_S)
    try:
        runner._send_stats()  # Locust's own final report, as its "quit" handler sends it
    except RPCError as exc:  # the master is gone: nobody is left to count this report
        log.warning("could not send the last report to the master: %s", exc)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if runner is None:
        return
    received = Interrupts()
    # First, so that a signal during the start (the bundled target starting) is handled too.
    environment.wsrace_signal_handlers = interrupts.install(environment, received)
    if isinstance(runner, WorkerRunner):
        environment.events.report_to_master.add_listener(
            lambda client_id, data, **__: data.__setitem__(REPORT_KEY, run_context(environment).collector.drain())
        )
        environment.events.quitting.add_listener(_send_last_report)
        return
    opts = RunOptions.from_namespace(environment.parsed_options)
    try:
        check_inputs(opts, environment.host)
        plan = _load_plan(environment, opts)
        if environment.host:
            _check_reachable(environment.host)
        tokens = token_source(opts.secret, opts.token_file, opts.token_command)  # a bad --token-file: exit 2 now
    except exitcodes.UsageError as exc:
        _exit(exitcodes.BAD_INPUT, str(exc))
    locust_scale.tolerate_busy_machine(opts.profile)
    target = None
    if not environment.host:
        target, environment.host = _start_target(opts, plan)
    _begin_run(environment, RunContext(opts, tokens, plan=plan, host=environment.host, target=target,
                                       interrupts=received))
    progress.install(environment, run_context(environment))  # headless: a progress line, the verdict last
    # each run's timeline, the plot and the HTML report (the run of now: the web UI begins one per start)
    report.install(environment, snapshot=lambda: _checkpoint_doc(environment, run_context(environment)))
    if isinstance(runner, MasterRunner):

        def absorb(client_id: str, data: dict[str, Any], **__: Any) -> None:
            now = run_context(environment)  # the run of now: the web UI begins one per start
            now.workers_reporting.add(client_id)
            now.collector.absorb(data.get(REPORT_KEY) or {})

        environment.events.worker_report.add_listener(absorb)
    if environment.web_ui is not None:  # runs started and judged from the page (loadgen.webui)
        webui.install(environment, webui.Hooks(_begin_run, _judge_and_write, _checkpoint_doc, _load_plan,
                                                _check_reachable))


def _begin_run(environment: Any, ctx: RunContext) -> RunContext:
    """The run starts here, with the target up: ``ctx`` (made with every part of it) on the
    Environment, its server poller, target watch, process watch and latency probe started."""
    attach(environment, ctx)
    ctx.poller = ServerPoller(ctx.host or "")
    ctx.poller.start()
    if ctx.target is not None:
        gevent.spawn(_watch_target, environment, ctx)
    process_watch.start(environment, ctx, snapshot=lambda: _checkpoint_doc(environment, ctx))
    _start_latency_watch(environment, ctx)
    return ctx


def _start_latency_watch(environment: Any, ctx: RunContext) -> None:
    """The run's latency baseline (:mod:`loadgen.probe`) and the abort = true watch (:mod:`loadgen.abort`)."""
    assert ctx.plan is not None and ctx.host is not None
    ctx.probe = LatencyProbe(ctx.host, ctx.tokens.identity(f"latency-probe-{os.getpid()}"),
                             started_monotonic=ctx.started_monotonic)
    ctx.probe.start()
    if abort.has_abort(ctx.plan.thresholds):
        abort.watch(environment, ctx, lambda: _live_doc(environment, ctx))


def _live_doc(environment: Any, ctx: RunContext) -> dict[str, Any]:
    """What the run counted so far, shaped as the results file's scenarios and baseline."""
    counted = ctx.collector.tallies()
    steps = _step_stats(environment)
    scenarios = {name: {**counted.get(name, ScenarioTally()).to_dict(), "steps": steps.get(name, {})}
                 for name in _scheduled_scenarios(environment, ctx)}
    return {"scenarios": scenarios, "baseline": ctx.probe.summary() if ctx.probe else None}


def _watch_target(environment: Any, ctx: RunContext) -> None:
    """A bundled target that dies mid-run breaks the run: stop at once and say so."""
    assert ctx.target is not None
    while not ctx.finished:
        gevent.sleep(WATCH_INTERVAL_S)
        if not ctx.finished and not ctx.target.alive():
            ctx.run_error = _target_died(ctx)
            log.error("%s; stopping the run", ctx.run_error)
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


def _stop_target(ctx: RunContext) -> list[Verdict]:
    if ctx.target is None:
        return []
    if ctx.interrupts.forced:
        ctx.target.kill()
        return [run_check("target_shutdown", False, "not checked: the bundled target was killed at once "
                          "after a second stop signal", limit=ctx.target.shutdown_timeout)]
    outcome = ctx.target.stop()
    if ctx.interrupts.forced:  # a second signal came while it was stopping: the handler killed it
        return [run_check("target_shutdown", False, "not checked: the bundled target was killed while it "
                          "stopped, after a second stop signal", limit=ctx.target.shutdown_timeout)]
    log.info("bundled target: %s", outcome.reason)
    return [run_check("target_shutdown", outcome.clean, outcome.reason, value=round(outcome.seconds, 3),
                      limit=ctx.target.shutdown_timeout)]


def _run_meta(ctx: RunContext, plan: JudgePlan, processes: int) -> RunMeta:
    signalled = ctx.interrupts.first is not None and not ctx.schedule_completed
    completed = (ctx.schedule_completed or plan.schedule is None) and not signalled
    stopped_early = "stopped before the schedule finished"
    aborted = ctx.aborted.describe() if ctx.aborted is not None else None
    completed = completed and aborted is None
    stop_reason = ctx.run_error or (ctx.interrupts.reason() if signalled else None) or aborted or (
        None if completed else stopped_early)
    return RunMeta(
        started=ctx.started,
        finished=utc_now(),
        duration_s=round(time.monotonic() - ctx.started_monotonic, 3),
        host=ctx.host or "",
        bundled_target=ctx.target is not None,
        faults=ctx.options.faults,
        profile=ctx.options.profile,
        schedule=plan.schedule_path,
        thresholds=plan.thresholds_path,
        locust_version=locust.__version__,
        processes=max(processes, 1),
        interrupted=not completed,
        stop_reason=stop_reason,
        signal=ctx.interrupts.first if signalled else None,
        aborted=ctx.aborted.to_dict() if ctx.aborted is not None else None,
    )


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    ctx: RunContext | None = getattr(environment, ATTR, None)
    if ctx is None or ctx.plan is None:
        return  # a worker, or a process the plugin did not set up
    if ctx.finished:
        # A second quitting (Locust's own SIGTERM handler, once the shape has ended, runs a second
        # shutdown): let the first write the results before that shutdown exits with their code.
        ctx.done.wait(RESULTS_WAIT_S)
        return
    try:
        _judge_and_write(environment, ctx)
    finally:
        ctx.done.set()


def _judge_and_write(environment: Any, ctx: RunContext, final: bool = True) -> None:
    """Judge the run, print its table, write its results; ``final=False`` (a run the web UI
    stopped) leaves the workers and the bundled target running for the next start."""
    assert ctx.plan is not None
    plan = ctx.plan
    ctx.finished = True
    # Until the verdict is written, this run counts as broken: an error below must not end in
    # Locust's own exit code for a crashed handler.
    environment.process_exit_code = exitcodes.BROKEN
    runner = environment.runner
    if final and isinstance(runner, MasterRunner) and runner.clients:
        runner.quit()  # workers send their last report on "quit": collect it before judging
    baseline = ctx.probe.stop() if ctx.probe is not None else None  # the users are stopped: so is the probe
    assert ctx.poller is not None
    server = ctx.poller.finish()  # the last read, before the target stops
    run_checks = _stop_target(ctx) if final else []
    scheduled = _scheduled_scenarios(environment, ctx)
    # Judge what this run scheduled: thresholds of scenarios it did not schedule do not apply, and a
    # scheduled scenario that never completed an iteration still gets a (failing) min_iterations check.
    thresholds = replace(
        plan.thresholds, scenarios={k: v for k, v in plan.thresholds.scenarios.items() if k in scheduled}
    )
    counted = ctx.collector.tallies()
    tallies = {name: counted.get(name, ScenarioTally()) for name in scheduled}
    steps = {k: v for k, v in _step_stats(environment).items() if k in scheduled}
    meta = _run_meta(ctx, plan, max(len(ctx.workers_reporting), 1))
    doc = build_results(meta, tallies, steps, server.counters, thresholds, run_checks=run_checks,
                        run_error=ctx.run_error, server_error=server.error,
                        server_resets=[reset.to_dict() for reset in server.resets],
                        server_samples=[sample.to_dict() for sample in server.samples],
                        baseline=baseline, timeline=report.timeline(environment, final=True),
                        processes=process_watch.report(environment, ctx))
    verdicts = [Verdict.from_dict(v) for v in doc["verdicts"]]
    out = progress.output(environment)
    out("\n" + render_table(verdicts, doc) + "\n")
    opts = ctx.options
    try:
        write_results(opts.results, doc)
        out(f"results: {os.path.abspath(opts.results)}\n")
        if opts.junit:
            write_junit(opts.junit, doc)
            out(f"junit: {os.path.abspath(opts.junit)}\n")
    except OSError as exc:
        sys.stderr.write(f"wsrace: could not write the results: {exc}\n")
        return  # the exit code stays BROKEN: results that were not written are never a pass
    sys.stdout.flush()
    if ctx.run_error:
        environment.process_exit_code = exitcodes.BROKEN
    elif meta.signal:
        environment.process_exit_code = exitcodes.interrupted(meta.signal)
    else:
        environment.process_exit_code = exitcodes.PASS if doc["passed"] else exitcodes.FAILED
    report.write_outputs(environment, opts.results, doc, out)  # the PNG, the verdict in --html: the code is set


# --------------------------------------------------------------------------- deaths


def _target_died(ctx: RunContext) -> str:
    """The run error of a bundled target that died, naming how and when (seen within a second)."""
    assert ctx.target is not None and ctx.target.proc is not None
    code = ctx.target.proc.returncode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return f"the bundled target died during the run ({how}) at +{time.monotonic() - ctx.started_monotonic:.1f} s"


def _checkpoint_doc(environment: Any, ctx: RunContext) -> dict[str, Any]:
    """The results document as of now, for the checkpoint (:mod:`loadgen.checkpoint`): what was
    reported so far, the server's counters as of the poller's last read; the run counts as
    interrupted, since it had not finished."""
    from loadgen.counter_growth import growth

    assert ctx.plan is not None and ctx.poller is not None
    plan = ctx.plan
    scheduled = _scheduled_scenarios(environment, ctx)
    thresholds = replace(
        plan.thresholds, scenarios={k: v for k, v in plan.thresholds.scenarios.items() if k in scheduled}
    )
    counted = ctx.collector.tallies()
    tallies = {name: counted.get(name, ScenarioTally()) for name in scheduled}
    steps = {k: v for k, v in _step_stats(environment).items() if k in scheduled}
    meta = replace(_run_meta(ctx, plan, max(len(ctx.workers_reporting), 1)), interrupted=True,
                   stop_reason=ctx.run_error or "a checkpoint: the run had not finished")
    samples = ctx.poller.samples
    read = [s for s in samples if s.counters is not None]
    found = growth(samples)
    return build_results(meta, tallies, steps, found.counters if read else None, thresholds,
                         run_error=ctx.run_error, server_error=None if read else "not read yet",
                         server_resets=[reset.to_dict() for reset in found.resets],
                         server_samples=[sample.to_dict() for sample in samples],
                         baseline=ctx.probe.summary() if ctx.probe is not None else None,
                         timeline=report.timeline(environment),
                         processes=process_watch.snapshot_section(environment))

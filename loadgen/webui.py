"""wsrace in Locust's web UI: the Thresholds tab, the start form, and one fresh run per start.

The plugin calls :func:`install` from its ``init`` on the judging process (master or standalone)
when Locust runs with its web UI. Everything goes through Locust's own extension points, no fork of
its front end:

- **The Thresholds tab**: ``extended_tabs`` / ``extended_tables`` in ``web_ui.template_args``, and an
  ``extended_stats`` entry added (``after_request``) to the ``/stats/requests`` JSON the page polls
  every 2 s. Its rows come from the pure :func:`loadgen.judge.live.tab_rows`: while a run goes on,
  the results document as of now (the plugin's checkpoint document: on a master, the workers'
  merged tallies and Locust's merged stats), once the run is judged, its results file.
  ``extended_csv_files`` links the verdict as CSV (``/wsrace/verdict.csv``) from the Reports tab.
- **The start form** says what will run: the schedule file and each of its stages, as fields of
  Locust's "Custom parameters" (``extra_options``), and that the schedule drives the user count.
  A schedule file typed there is loaded at the next start.
- **A bad host is refused on the page**: a ``before_request`` on ``POST /swarm`` answers
  ``{"success": false, "message": ...}``, which the form shows, for a host that is not a ws(s)/http(s)
  URL or does not answer ``/healthz`` (and for a schedule file that does not load). An empty host
  means the bundled target.
- **Each start is a fresh run** (``test_start``): a new run context (tallies, server-counter
  baseline, latency probe, process watch), with the host of the form; Locust clears its own stats.
  **Each stop is judged** (``test_stop``) as headless judges at quit, and its results written: run 1
  to ``--results`` (and ``--junit``), run N to ``<stem>-runN<suffix>`` beside it, so that no run
  overwrites another. The bundled target lives as long as the Locust process: it is started once
  (its URL is in the form before the first start) and stopped at quit (:func:`_on_quitting`), so a
  second start finds it up; each run still reads its counters afresh.

A stop signal during a run is left to the plugin's ``quitting`` (the headless path: judged with the
target's shutdown). The web UI's URL, with the port the OS picked for ``--web-port 0``, is printed
as one JSON line, ``{"event": "web_ui_listening", "url": ...}``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import gevent
from flask import Response, jsonify, make_response, request
from locust.runners import STATE_CLEANUP, STATE_RUNNING, STATE_SPAWNING, STATE_STOPPING, MasterRunner

from loadgen import exitcodes
from loadgen.context import JudgePlan, RunContext, run_context
from loadgen.judge.config_errors import ConfigError
from loadgen.judge.live import COLUMNS, stage_status, tab_rows, verdict_csv
from loadgen.judge.results import load_results
from loadgen.run_options import RunOptions, fault_problem, host_problem

__all__ = ["TAB_KEY", "Hooks", "install", "run_path"]

log = logging.getLogger("wsrace")

TAB_KEY: Final = "thresholds"
CSV_ROUTE: Final = "/wsrace/verdict.csv"
WORKER_REPORT_WAIT_S: Final = 5.0
"""How long a stop waits for each worker's first report after it (Locust's workers report every 3 s)."""
URL_WAIT_S: Final = 10.0
SETTLE_WAIT_S: Final = 20.0
"""How long the page's poll during a stop waits for the stop and its verdict."""
JUDGE_WAIT_S: Final = 30.0
"""How long a start waits for the verdict of the run before it (a few seconds: probe, poller, workers)."""


@dataclass(frozen=True)
class Hooks:
    """What the plugin lends this module (it imports this module, not the reverse)."""

    begin_run: Callable[[Any, RunContext], RunContext]
    judge: Callable[[Any, RunContext, bool], None]
    snapshot: Callable[[Any, RunContext], dict[str, Any]]
    load_plan: Callable[[Any, RunOptions], JudgePlan]
    check_reachable: Callable[[str], None]


def run_path(path: str | None, run: int) -> str | None:
    """Where run ``run`` writes a file given as ``path``: ``path`` itself for run 1, else
    ``<stem>-run<N><suffix>`` beside it (``wsrace-results.json`` → ``wsrace-results-run2.json``)."""
    if path is None or run <= 1:
        return path
    p = Path(path)
    return str(p.with_name(f"{p.stem}-run{run}{p.suffix}"))


class WebRuns:
    """The runs started from one web UI process."""

    def __init__(self, environment: Any, hooks: Hooks, first: RunContext) -> None:
        self.environment = environment
        self.hooks = hooks
        self.options = first.options
        self.target = first.target
        self.bundled_host = first.host if first.target is not None else None
        self.runs = 0
        self.judged: dict[str, Any] | None = None
        self.pending_host: str | None = None
        self.pending_plan: JudgePlan | None = None
        self.reports: dict[str, float] = {}
        self.judging: gevent.Greenlet | None = None

    # ------------------------------------------------------------------ the start

    def refusal(self, host: str, schedule: str | None, thresholds: str | None) -> str | None:
        """Why a start with this host (and schedule and thresholds files) from the form cannot run,
        or None; keeps what it checked for the start."""
        if self.judging is not None:
            self.judging.join(timeout=JUDGE_WAIT_S)
            if not self.judging.dead:
                return "the last run is still being judged: start again in a moment"
        ctx = run_context(self.environment)
        host = host.strip()
        if not host:
            if self.bundled_host is None:
                return "Host is empty: give the base URL of a server that speaks the protocol, e.g. ws://127.0.0.1:8765"
            host = self.bundled_host
        problem = host_problem(host) or (None if host == self.bundled_host else
                                         fault_problem(self.options.faults, host))
        if problem:
            return problem
        try:
            self.hooks.check_reachable(host)
        except exitcodes.UsageError as exc:
            return str(exc)
        plan = ctx.plan
        if plan is not None and ((schedule and schedule != plan.schedule_path)
                                 or (thresholds and thresholds != plan.thresholds_path)):
            try:
                plan = self.hooks.load_plan(self.environment, replace(
                    self.options, schedule=schedule or self.options.schedule,
                    thresholds=thresholds or self.options.thresholds))
            except (ConfigError, exitcodes.UsageError) as exc:
                return str(exc)
        self.pending_host, self.pending_plan = host, plan
        return None

    def start(self) -> None:
        """A fresh run for this start (Locust's ``test_start``, before any user exists)."""
        environment = self.environment
        old = run_context(environment)
        host = self.pending_host or environment.host or self.bundled_host or ""
        plan = self.pending_plan or old.plan
        self.pending_host = self.pending_plan = None
        _retire(old)
        self.runs += 1
        self.judged = None
        environment.host = host
        for user_class in environment.user_classes:  # not only when truthy, as Locust does
            user_class.host = host
        options = replace(self.options, results=run_path(self.options.results, self.runs) or self.options.results,
                          junit=run_path(self.options.junit, self.runs))
        target = self.target if host == self.bundled_host else None
        self.hooks.begin_run(environment, RunContext(options, old.tokens, plan=plan, host=host, target=target,
                                                     interrupts=old.interrupts))
        log.info("web UI run %d against %s: results will go to %s", self.runs, host, options.results)

    # ------------------------------------------------------------------ the stop

    def stop(self) -> None:
        """Judge the run the page stopped (or whose schedule ended), as headless judges at quit.

        In a greenlet of its own: ``test_stop`` fires inside the shape's greenlet when the schedule
        ends, which a click on Stop at that moment kills. The run counts as finished from here on,
        so that a ``quitting`` meanwhile waits for this verdict instead of making its own."""
        ctx = run_context(self.environment)
        if self.runs == 0 or not ctx.judging or ctx.finished or ctx.interrupts.first:
            return  # nothing started from the page, already judged, or a signal: the plugin's quitting judges
        ctx.finished = True
        self.judging = gevent.spawn(self._judge, ctx)

    def _judge(self, ctx: RunContext) -> None:
        self._wait_for_workers()
        try:
            self.hooks.judge(self.environment, ctx, False)
        finally:
            ctx.done.set()
        watch = getattr(self.environment, "wsrace_process_watch", None)
        if watch is not None and watch.checkpointer is not None:
            watch.checkpointer.discard_if(ctx.options.results)
        if run_context(self.environment) is not ctx:
            return  # a new run started meanwhile: the tab is its
        try:
            self.judged = load_results(ctx.options.results)
        except ConfigError as exc:  # not written (the plugin said why): the tab shows the run as of now
            log.error("web UI: the results of run %d are not readable: %s", self.runs, exc)

    def _wait_for_workers(self) -> None:
        runner = self.environment.runner
        if not isinstance(runner, MasterRunner):
            return
        stopped = time.monotonic()
        deadline = stopped + WORKER_REPORT_WAIT_S
        while time.monotonic() < deadline:
            waiting = [c.id for c in runner.clients.all if self.reports.get(c.id, 0.0) < stopped]
            if not waiting:
                return
            gevent.sleep(0.1)
        log.warning("web UI: no report after the stop from worker(s) %s: their last counts may be missing",
                    ", ".join(waiting))

    # ------------------------------------------------------------------ the tab

    def _settling(self) -> bool:
        return (str(self.environment.runner.state) in (STATE_CLEANUP, STATE_STOPPING)
                or (self.judging is not None and not self.judging.dead))

    def settle(self) -> bool:
        """Wait (by a deadline) while a stop or its verdict is under way; True if there was one."""
        if not self._settling():
            return False
        deadline = time.monotonic() + SETTLE_WAIT_S
        while self._settling() and time.monotonic() < deadline:
            gevent.sleep(0.1)
        return True

    def rows(self) -> list[dict[str, str]]:
        environment = self.environment
        ctx = run_context(environment)
        if self.runs == 0 or ctx.plan is None:
            return []
        state = str(environment.runner.state)
        if self.judged is not None and ctx.finished:
            verdict = "PASS" if self.judged.get("passed") else "FAIL"
            return tab_rows(self.judged, ctx.plan.thresholds, live=False,
                            state=f"run {self.runs} judged: {verdict}; results {os.path.abspath(ctx.options.results)}")
        stage = None
        shape = environment.shape_class
        if ctx.schedule is not None and shape is not None and state in (STATE_RUNNING, STATE_SPAWNING):
            stage = stage_status(ctx.schedule, shape.get_run_time())
        return tab_rows(self.hooks.snapshot(environment, ctx), ctx.plan.thresholds, live=True, stage=stage,
                        state=f"run {self.runs}: {state}")

    def csv(self) -> str:
        ctx = run_context(self.environment)
        if ctx.plan is None:
            return ""
        doc = self.judged if self.judged is not None and ctx.finished else self.hooks.snapshot(self.environment, ctx)
        return verdict_csv(doc, ctx.plan.thresholds)

    # ------------------------------------------------------------------ the form

    def form_fields(self) -> dict[str, dict[str, Any]]:
        """Custom parameters of the start form that say what will run."""
        plan = run_context(self.environment).plan

        def field(value: str, help_text: str) -> dict[str, Any]:
            return {"default_value": value, "is_secret": False, "is_required": False, "help_text": help_text,
                    "is_multiple": False, "choices": None}

        if plan is None or plan.schedule is None:
            return {}
        schedule = plan.schedule
        out = {"schedule": field(plan.schedule_path or "",
                                 f"{len(schedule.stages)} stages, {schedule.total_duration:g} s; the schedule drives "
                                 "the user count: users and ramp up above are not used; loaded at each start"),
               "thresholds": field(plan.thresholds_path, "pass thresholds (TOML), loaded at each start")}
        for index, stage in enumerate(schedule.stages, 1):
            out[f"stage_{index}"] = field(
                f"{stage.name}: {', '.join(stage.scenarios)}; {stage.users} users at {stage.spawn_rate:g}/s "
                f"for {stage.duration:g} s", "read only")
        return out


def _retire(ctx: RunContext) -> None:
    """End a run context that was never judged (made at init, or before a host change): its probe
    and poller stop, its watchers end."""
    if ctx.finished:
        return
    ctx.finished = True
    if ctx.probe is not None:
        ctx.probe.stop()
    if ctx.poller is not None:
        ctx.poller.finish()
    ctx.done.set()


def install(environment: Any, hooks: Hooks) -> WebRuns:
    """Set up the tab, the form, the host check and the per-start runs on ``environment.web_ui``."""
    web_ui = environment.web_ui
    runs = WebRuns(environment, hooks, run_context(environment))
    environment.wsrace_web_runs = runs
    web_ui.template_args["extended_tabs"] = [{"title": "Thresholds", "key": TAB_KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": TAB_KEY, "structure": [{"key": key, "title": title} for key, title in COLUMNS]}]
    web_ui.template_args["extended_csv_files"] = [{"href": f".{CSV_ROUTE}", "title": "Download wsrace verdict CSV"}]
    original_update = web_ui.update_template_args

    def update_template_args() -> None:
        # Locust rebuilds extra_options (the form's custom parameters) from its parser at each page
        # load: add what will run after it.
        original_update()
        web_ui.template_args["extra_options"] = {**web_ui.template_args.get("extra_options", {}),
                                                 **runs.form_fields()}

    web_ui.update_template_args = update_template_args
    app = web_ui.app

    @app.before_request
    def refuse_bad_start() -> Response | None:
        if request.method != "POST" or not request.path.rstrip("/").endswith("/swarm"):
            return None
        problem = runs.refusal(request.form.get("host", ""), request.form.get("schedule") or None,
                               request.form.get("thresholds") or None)
        if problem is None:
            return None
        log.error("web UI: start refused: %s", problem)
        return jsonify({"success": False, "message": problem, "host": environment.host})

    @app.after_request
    def add_tab(response: Response) -> Response:
        if request.path.rstrip("/").endswith("/stats/requests") and response.is_json:
            data = response.get_json()
            if runs.settle():
                # The page polls only while the runner spawns or runs: its poll during a stop is
                # its last. Answered once the stop and its verdict are done, it shows the verdict.
                data.update(state=environment.runner.state, user_count=environment.runner.user_count)
            data["extended_stats"] = [{"key": TAB_KEY, "data": runs.rows()}]
            response.set_data(json.dumps(data))
        return response

    @app.route(CSV_ROUTE)
    @web_ui.auth_required_if_enabled
    def verdict_csv_file() -> Response:
        response = make_response(runs.csv())
        response.headers["Content-Type"] = "text/csv"
        response.headers["Content-Disposition"] = f"attachment;filename=wsrace-verdict-run{max(runs.runs, 1)}.csv"
        return response

    environment.events.test_start.add_listener(lambda **_: runs.start())
    environment.events.test_stop.add_listener(lambda **_: runs.stop())
    environment.events.worker_report.add_listener(
        lambda client_id, data, **_: runs.reports.__setitem__(client_id, time.monotonic()))
    environment.events.quitting.add_listener(lambda **_: _on_quitting(runs))
    gevent.spawn(_print_url, web_ui)
    return runs


def _on_quitting(runs: WebRuns) -> None:
    """Before the plugin's ``quitting`` (listeners run in reverse): a judged last run leaves the
    bundled target to stop here; a run still going is the plugin's to judge, target included."""
    ctx = run_context(runs.environment)
    if runs.target is None or not runs.target.alive():
        return
    if ctx.finished or ctx.target is not runs.target:
        outcome = runs.target.stop()
        log.info("bundled target: %s", outcome.reason)


def _print_url(web_ui: Any) -> None:
    """Print the web UI's URL, with the port it is bound to, as one JSON line (for ``--web-port 0``)."""
    deadline = time.monotonic() + URL_WAIT_S
    while time.monotonic() < deadline:
        server = getattr(web_ui, "server", None)
        port = getattr(server, "server_port", None) if server is not None and server.started else None
        if port:
            host = web_ui.host if web_ui.host not in ("", "0.0.0.0", "*") else "127.0.0.1"
            sys.stdout.write(json.dumps({"event": "web_ui_listening", "url": f"http://{host}:{port}"}) + "\n")
            sys.stdout.flush()
            return
        gevent.sleep(0.05)
    log.warning("web UI: not listening after %.0f s", URL_WAIT_S)

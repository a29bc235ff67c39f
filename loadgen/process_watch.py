"""Who died during the run, and when: the ``processes`` section of the results, gathered in Locust.

On the judging process (master or standalone), :func:`start` (called by the plugin's ``init``) runs:

- a reader of the bundled target's worker events (``worker_exit`` / ``worker_restarted``, printed by
  its supervisor after the listening line): read without ever waiting, every
  :data:`TARGET_READ_INTERVAL_S` and once more at the end, after the target stopped;
- on a master, a watcher of Locust's workers: each report's time (and the worker's pid, which the
  workers add to their reports), and every worker the master marks ``missing`` (its heartbeat
  stopped). A missing worker's tallies since its last report never arrive: they are *lost*, and
  how many iterations that was cannot be known, so the results say so rather than drop it;
- the checkpoint (:mod:`loadgen.checkpoint`), for a master that dies before it can judge.

On a Locust worker, a watchdog ends the worker once the master has been silent for
:data:`MASTER_SILENCE_S` (Locust's own limit is 60 s, a long time to keep sending load no one
counts), or at once when a worker forked by ``--processes`` sees its master process gone.

Times are seconds from the start of the run (``RunContext.started``), like the server's samples.
The verdict is made from this data by :mod:`loadgen.judge.processes`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import gevent
from locust import events
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from loadgen.checkpoint import Checkpointer, checkpoint_path
from loadgen.collector import REPORT_KEY
from loadgen.context import ATTR as CONTEXT_ATTR

if TYPE_CHECKING:
    from loadgen.context import RunContext

__all__ = ["ATTR", "MASTER_SILENCE_S", "PID_KEY", "ProcessWatch", "report", "start"]

log = logging.getLogger(__name__)

ATTR: Final = "wsrace_process_watch"
"""The ``Environment`` attribute the watch hangs on (beside the run context)."""
PID_KEY: Final = "wsrace_pid"
"""The key of a worker's pid in its reports to the master."""
COUNTED: Final = ("attempts", "successes", "failures", "interrupted")
"""What each worker's reports add up to, over all scenarios (``load.reports[worker].counted``): the
master's totals are these summed over workers, which a distributed test can check."""
TARGET_READ_INTERVAL_S: Final = 0.5
WORKERS_CHECK_INTERVAL_S: Final = 1.0
MASTER_SILENCE_S: Final = 30.0
"""A worker that has heard no heartbeat from its master for this long stops (the master answers
every heartbeat, once a second). Not shorter: a master busy for 10 s on an overloaded machine (a
100,000-session hold, 19 processes on 2 cores) is alive, and its workers quitting would end the
run; a forked worker sees its master die at once by its parent pid. Locust's own limit is 60 s."""


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")


class ProcessWatch:
    """What the judging process saw of processes dying. ``t0_unix`` / ``t0_monotonic``: the run's start."""

    def __init__(self, t0_unix: float, t0_monotonic: float) -> None:
        self.t0_unix = t0_unix
        self.t0_monotonic = t0_monotonic
        self.target_watched: str | None = None
        self.target_events: list[dict[str, Any]] = []
        self._awaiting_restart: dict[int, dict[str, Any]] = {}
        self.workers: dict[str, dict[str, Any]] = {}
        self.lost: dict[str, dict[str, Any]] = {}
        self.distributed = False
        self.checkpointer: Checkpointer | None = None

    def now(self) -> float:
        return round(time.monotonic() - self.t0_monotonic, 3)

    # ---------------------------------------------------------------- the bundled target

    def target_event(self, event: dict[str, Any]) -> None:
        """One supervisor line: an exit opens a record, the restart of that worker closes it."""
        index = event.get("index")
        when = event.get("time")
        t = round(float(when) - self.t0_unix, 3) if isinstance(when, int | float) else None
        at = _iso(float(when)) if isinstance(when, int | float) else None
        if event.get("event") == "worker_exit":
            record = {"process": f"target worker {index}", "index": index, "pid": event.get("pid"),
                      "died_t": t, "died_at": at, "exit_code": event.get("code"), "signal": event.get("signal"),
                      "restarted_t": None, "restarted_at": None, "restarted_pid": None}
            self.target_events.append(record)
            self._awaiting_restart[index] = record  # type: ignore[index]
            log.error("%s (pid %s) died (exit code %s); its supervisor restarts it", record["process"],
                      record["pid"], record["exit_code"])
        elif event.get("event") == "worker_restarted":
            record = self._awaiting_restart.pop(index, None)  # type: ignore[arg-type]
            if record is not None:
                record.update(restarted_t=t, restarted_at=at, restarted_pid=event.get("pid"))

    # ---------------------------------------------------------------- Locust's workers

    def worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        seen = self.workers.setdefault(client_id, {"reports": 0, "pid": None})
        seen.update(reports=seen["reports"] + 1, last_report_t=self.now(), last_report_at=_iso(time.time()))
        counted = seen.setdefault("counted", dict.fromkeys(COUNTED, 0))
        for tally in (data.get(REPORT_KEY) or {}).values():  # deltas since its last report, per scenario
            for name in COUNTED:
                counted[name] += int(tally.get(name, 0))
        if data.get(PID_KEY) is not None:
            seen["pid"] = data[PID_KEY]
        lost = self.lost.get(client_id)
        if lost is not None and lost.get("reported_again_t") is None:
            lost["reported_again_t"] = self.now()  # it came back: what it counted arrived after all

    def check_workers(self, runner: Any) -> None:
        """Record every worker the master has marked missing, once."""
        for client in list(runner.clients.all):
            self.workers.setdefault(client.id, {"reports": 0, "pid": None, "counted": dict.fromkeys(COUNTED, 0)})
            if client.state == STATE_MISSING and client.id not in self.lost:
                seen = self.workers[client.id]
                self.lost[client.id] = {
                    "worker": client.id, "pid": seen.get("pid"), "reports": seen["reports"],
                    "last_report_t": seen.get("last_report_t"), "last_report_at": seen.get("last_report_at"),
                    "missing_t": self.now(), "missing_at": _iso(time.time()),
                    "unreported_iterations": None, "reported_again_t": None,
                }
                log.error("Locust worker %s stopped reporting (missing): what it counted since its last "
                          "report is lost", client.id)

    # ---------------------------------------------------------------- the section

    def section(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.target_watched is not None:
            out["target"] = {"watched": self.target_watched, "events": [dict(e) for e in self.target_events]}
        out["load"] = {"workers": len(self.workers) if self.distributed else 0,
                       "reports": {worker: dict(seen) for worker, seen in self.workers.items()},
                       "lost_reports": [dict(item) for item in self.lost.values()]}
        return out


def _run_start_unix(ctx: RunContext) -> float:
    try:
        return datetime.fromisoformat(ctx.started).timestamp()
    except ValueError:
        return time.time() - (time.monotonic() - ctx.started_monotonic)


def start(environment: Any, ctx: RunContext, snapshot: Callable[[], dict[str, Any]]) -> ProcessWatch:
    """On the judging process: start the watchers and the checkpoint; ``snapshot`` builds the
    results document as of now (the checkpoint's content)."""
    watch = ProcessWatch(_run_start_unix(ctx), ctx.started_monotonic)
    setattr(environment, ATTR, watch)
    watch.target_watched = "bundled" if ctx.target is not None else "host"
    runner = environment.runner
    if ctx.target is not None:
        gevent.spawn(_read_target, ctx, watch)
    if isinstance(runner, MasterRunner):
        watch.distributed = True
        environment.events.worker_report.add_listener(
            lambda client_id, data, **_: watch.worker_report(client_id, data))
        gevent.spawn(_check_workers, ctx, watch, runner)
    watch.checkpointer = Checkpointer(checkpoint_path(ctx.options.results), snapshot, lambda: ctx.finished,
                                      clock=watch.now)
    watch.checkpointer.start()
    return watch


@events.quitting.add_listener
def _discard_checkpoint(environment: Any, **_: Any) -> None:
    """After the verdict: the results are written, the checkpoint is stale. Locust fires ``quitting``
    in reverse order of registration, and this listener is registered before the plugin's (the
    plugin imports this module first), so it runs after the plugin wrote the results."""
    watch: ProcessWatch | None = getattr(environment, ATTR, None)
    ctx = getattr(environment, CONTEXT_ATTR, None)
    if watch is not None and watch.checkpointer is not None and ctx is not None:
        watch.checkpointer.discard_if(ctx.options.results)


def _read_target(ctx: RunContext, watch: ProcessWatch) -> None:
    assert ctx.target is not None
    while not ctx.finished:
        for event in ctx.target.read_events():
            watch.target_event(event)
        gevent.sleep(TARGET_READ_INTERVAL_S)


def _check_workers(ctx: RunContext, watch: ProcessWatch, runner: Any) -> None:
    while not ctx.finished:
        gevent.sleep(WORKERS_CHECK_INTERVAL_S)
        watch.check_workers(runner)


def report(environment: Any, ctx: RunContext) -> dict[str, Any] | None:
    """The ``processes`` section at the end (after the target stopped: its last lines are read),
    or None where :func:`start` did not run."""
    watch: ProcessWatch | None = getattr(environment, ATTR, None)
    if watch is None:
        return None
    if ctx.target is not None:
        for event in ctx.target.read_events():
            watch.target_event(event)
    if isinstance(environment.runner, MasterRunner):
        watch.check_workers(environment.runner)
    return watch.section()


def snapshot_section(environment: Any) -> dict[str, Any] | None:
    """The ``processes`` section as of now, for a checkpoint (reads nothing new)."""
    watch: ProcessWatch | None = getattr(environment, ATTR, None)
    return None if watch is None else watch.section()


# -------------------------------------------------------------------- on a Locust worker


@events.init.add_listener
def _on_worker_init(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):
        return
    environment.events.report_to_master.add_listener(
        lambda client_id, data, **__: data.__setitem__(PID_KEY, os.getpid()))
    forked = bool(getattr(environment.parsed_options, "processes", None))
    gevent.spawn(_master_watchdog, runner, os.getppid() if forked else None)


def _master_watchdog(runner: Any, parent: int | None) -> None:
    """Quit this worker once its master is gone: its parent process changed (a worker forked by
    ``--processes``), or no heartbeat came for :data:`MASTER_SILENCE_S`."""
    while True:
        gevent.sleep(1.0)
        if parent is not None and os.getppid() != parent:
            why = f"its master process (pid {parent}) is gone"
        else:
            heard = runner.last_heartbeat_timestamp  # None until the master first answered: still connecting
            if heard is None or time.time() - heard <= MASTER_SILENCE_S:
                continue
            why = f"no heartbeat from the master for {MASTER_SILENCE_S:g} s"
        log.error("Locust worker stopping: %s", why)
        runner.quit()
        return

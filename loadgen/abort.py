"""Fail fast while the run goes on: an ``abort = true`` threshold breached stops the run.

On the judging process (master or standalone) the plugin starts :func:`watch` when the thresholds
have any ``abort = true`` limit. About once a second it judges what has been counted so far (the
tallies, Locust's step stats, the latency probe's baseline) with the pure
:func:`loadgen.judge.abort.first_breach`; at the first breach it records it in the run context
(``ctx.aborted``), says so, and ends the run the graceful way a stop signal does
(:mod:`loadgen.interrupts`): a headless schedule's shape sees ``ctx.aborted`` at its next tick and
ends the run like the schedule's end (the workers' last reports awaited); a run without a shape is
ended here. Nothing is killed. The plugin's ``quitting`` then judges and writes the results with
``run.aborted``, and the exit code is 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import gevent

from loadgen.context import RunContext
from loadgen.interrupts import end_workers, headless
from loadgen.judge.abort import abort_metrics, first_breach
from loadgen.judge.thresholds import Thresholds

__all__ = ["CHECK_INTERVAL_S", "has_abort", "watch"]

log = logging.getLogger("wsrace")

CHECK_INTERVAL_S: Final = 1.0


def has_abort(thresholds: Thresholds) -> bool:
    """True when any threshold of the file says ``abort = true``."""
    return any(abort_metrics(limits) for limits in (thresholds.defaults, *thresholds.scenarios.values()))


def watch(environment: Any, ctx: RunContext, live_doc: Callable[[], Mapping[str, Any]]) -> gevent.Greenlet:
    """Judge ``live_doc()`` (scenarios and baseline so far) every second until the run ends."""
    return gevent.spawn(_watch, environment, ctx, live_doc)


def _watch(environment: Any, ctx: RunContext, live_doc: Callable[[], Mapping[str, Any]]) -> None:
    assert ctx.plan is not None
    thresholds = ctx.plan.thresholds
    while True:  # bounded by the run: it ends when the run finishes, is stopped, or aborts
        gevent.sleep(CHECK_INTERVAL_S)
        if ctx.finished or ctx.interrupts.first or ctx.aborted is not None:
            return
        breach = first_breach(live_doc(), thresholds, time.monotonic() - ctx.started_monotonic)
        if breach is None:
            continue
        ctx.aborted = breach
        log.error("%s; stopping the run (users, then the bundled target), results follow", breach.describe())
        _stop(environment, ctx)
        return


def _stop(environment: Any, ctx: RunContext) -> None:
    runner = environment.runner
    if environment.shape_class is not None and headless(environment):
        return  # the shape sees ctx.aborted at its next tick and ends the run like the schedule's end
    # No shape, or the web UI: end the run here, as a stop signal does.
    end_workers(runner, ctx.interrupts)
    runner.quit()
    if environment.web_ui is not None:
        environment.web_ui.stop()

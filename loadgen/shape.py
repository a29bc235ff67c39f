"""The schedule as a Locust load shape: a thin wrapper around the pure ``stage_at``.

The stage maths live in :mod:`loadgen.judge.schedule` (tested with tables, no Locust); this class
only turns the current stage into Locust's ``(users, spawn_rate, user_classes)`` and logs each
stage change as it happens. The schedule comes from the run context
(:func:`loadgen.context.run_context`), where the plugin put it, and the shape says there when it
has run to its end.

When the set of scenarios changes, the shape first asks for zero users for one tick (about a
second; see :func:`~loadgen.judge.schedule.next_tick`), so every stage runs exactly the scenarios it
names. Iterations cut short by that are counted as interrupted, never as successes.

A headless run ends at the shape's tick, both at the end of the schedule and after a stop signal
(:mod:`loadgen.interrupts`) or an ``abort = true`` breach (:mod:`loadgen.abort`):
on a master the workers are told to quit first and their last
reports awaited (:func:`~loadgen.interrupts.end_workers`), then Locust quits.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import LoadTestShape

from loadgen.context import run_context
from loadgen.interrupts import end_workers, headless
from loadgen.judge.schedule import next_tick

__all__ = ["ScheduleShape", "scenario_classes"]

log = logging.getLogger(__name__)


def scenario_classes(user_classes: list[type]) -> dict[str, type]:
    """Scenario name -> user class, for the user classes Locust loaded."""
    return {cls.scenario: cls for cls in user_classes if getattr(cls, "scenario", "")}


class ScheduleShape(LoadTestShape):
    """Runs the stages of the schedule the plugin loaded (``--profile`` / ``--schedule``)."""

    abstract = True

    def __init__(self) -> None:
        super().__init__()
        self._stage_index: int | None = None
        self._running: tuple[str, ...] = ()

    def reset_time(self) -> None:
        """Locust calls this at each start: in the web UI, a second start runs the schedule anew."""
        super().reset_time()
        self._stage_index = None
        self._running = ()

    def tick(self) -> tuple[int, float, list[type[Any]]] | None:
        env = self.runner.environment
        ctx = run_context(env)
        schedule = ctx.schedule
        if schedule is None:
            raise RuntimeError("no schedule loaded: the wsrace plugin's init did not run on this process")
        if ctx.interrupts.first or ctx.aborted is not None:  # a stop signal, or an abort = true breach
            where = "before the first stage" if self._stage_index is None else (
                f"in stage {self._stage_index + 1}/{len(schedule.stages)} "
                f"{schedule.stages[self._stage_index].name!r}")
            why = ctx.interrupts.reason() or (ctx.aborted.describe() if ctx.aborted else "")
            log.info("%s %s: stopping the users", why, where)
            if headless(env):
                end_workers(self.runner, ctx.interrupts)
            return None
        tick = next_tick(schedule, self.get_run_time(), self._running)
        if tick is None:
            if self._stage_index is not None:
                log.info("schedule complete after %d stages", len(schedule.stages))
            ctx.schedule_completed = True
            if headless(env):  # Locust quits now; with the web UI it only stops, the workers stay
                end_workers(self.runner, ctx.interrupts)
            return None
        if tick.stage_index != self._stage_index:
            self._stage_index = tick.stage_index
            stage = schedule.stages[tick.stage_index]
            log.info(
                "stage %d/%d %r: %s, %d users, spawn rate %g/s, %g s",
                tick.stage_index + 1,
                len(schedule.stages),
                stage.name,
                "+".join(stage.scenarios),
                stage.users,
                stage.spawn_rate,
                stage.duration,
            )
        if tick.draining:
            log.info("stopping the users of %s before the next stage", "+".join(self._running))
        self._running = () if tick.draining else tick.scenarios
        classes = scenario_classes(env.user_classes)
        return tick.users, tick.spawn_rate, [classes[name] for name in tick.scenarios]

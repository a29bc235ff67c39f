"""Figures of soaks for the pure tests: an idle target, flat runs, and one change at a time."""

from __future__ import annotations

from dataclasses import replace

from loadgen.soak.judge import MIB, LoadPeak, RunOutcome, RunRecord, TargetState

PIDS = (100, 101)
IDLE_TASKS = 1.0  # one sweeper


def state(rss_mib: float = 70.0, fds: int = 25, **changes: object) -> TargetState:
    base = TargetState(rss_bytes=int(rss_mib * MIB), fds=fds, pids=PIDS, connections_open=0.0,
                       jobs_running=0.0, jobs_kept=0.0, background_tasks=IDLE_TASKS,
                       unhandled_errors=0.0, kept_at_idle=5000.0, settle_s=60.0)
    return replace(base, **changes)  # type: ignore[arg-type]


BEFORE = state(rss_mib=55.0, kept_at_idle=0.0, settle_s=0.0)


def record(index: int, target: TargetState, load_mib: float = 80.0, load_fds: int = 48) -> RunRecord:
    return RunRecord(RunOutcome(index, 0, True, (), 280.0, f"run-{index}.json"), target,
                     LoadPeak(int(load_mib * MIB), load_fds, 2, 280))


def flat(runs: int = 3) -> list[RunRecord]:
    return [record(k, state()) for k in range(1, runs + 1)]

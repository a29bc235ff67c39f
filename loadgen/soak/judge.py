"""The verdict of a soak, from its figures alone: pure, no processes, no sockets.

What "flat" means (see docs/soak.md for the reasoning):

- **Memory**: the target's resident memory (supervisor and workers summed) after run K may exceed
  the highest figure after an earlier run (run 1's, at first) by at most ``rss_growth_ratio`` of
  run 1's *and* at most ``rss_growth_bytes`` (the stricter of the two) — plus, when run K's peak
  memory *during* the run rose above every earlier run's peak, that rise: a run that held more at
  once (a shared machine ran it faster) sets a new high-water mark the allocator may keep; a leak
  grows the idle figure without one. Run 1, not the start, is the reference: the first run warms the
  interpreter's caches and the allocator's arenas, which later runs reuse. A leak of one small
  object per connection or per job (the full profile makes tens of thousands) grows the figure by
  megabytes a run and fails this.
- **Open files**: exactly as many as after run 1 (``fds_growth`` extra, 0 by default). A leaked
  socket or pipe is one more descriptor that never goes away; there is no noise to allow for once
  the target is idle.
- **Nothing left behind**: once idle, 0 connections open, 0 jobs running, 0 jobs kept (the halted
  jobs the protocol keeps subscribable are swept after their retention), as many background tasks
  as before the first run, and the same processes (a restarted worker would hide a leak and means
  one died).

The load side is a fresh Locust process tree each run: its peak memory and files are reported with
their drift, and a drift beyond ``load_drift_ratio`` is noted, not failed (its figures depend on
how many users were connected at the sampled instants, which a shared machine's speed changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "MIB",
    "Check",
    "Drift",
    "LoadPeak",
    "RunOutcome",
    "RunRecord",
    "TargetPeak",
    "TargetState",
    "Tolerance",
    "drift",
    "judge",
    "load_notes",
]

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Tolerance:
    rss_growth_ratio: float = 0.10
    rss_growth_bytes: int = 8 * MIB
    fds_growth: int = 0
    load_drift_ratio: float = 0.25

    def rss_allowance(self, reference: int) -> int:
        """How many bytes the target's memory may grow beyond ``reference`` (the stricter limit)."""
        return min(int(reference * self.rss_growth_ratio), self.rss_growth_bytes)


@dataclass(frozen=True, slots=True)
class TargetState:
    """The target once idle: its processes' summed memory and files, and its gauges.

    A gauge is None when the target does not expose it. ``kept_at_idle``: jobs kept when the last
    connection had closed, before the sweep (shows that the sweep had work to do).
    """

    rss_bytes: int
    fds: int
    pids: tuple[int, ...]
    connections_open: float | None
    jobs_running: float | None
    jobs_kept: float | None
    background_tasks: float | None
    unhandled_errors: float | None = None
    kept_at_idle: float | None = None
    settle_s: float = 0.0


@dataclass(frozen=True, slots=True)
class LoadPeak:
    """The highest figures of one run's load-side process tree (``wsrace run`` and Locust)."""

    rss_bytes: int
    fds: int
    processes: int
    samples: int


@dataclass(frozen=True, slots=True)
class TargetPeak:
    """The target's highest figures *during* one run (sampled with the load side): what the load
    made it hold at once. Its memory once idle is bounded by this peak plus whatever leaked."""

    rss_bytes: int
    fds: int
    connections_open: float | None
    jobs_kept: float | None
    samples: int


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one ``wsrace run`` ended: its exit code and its own verdict (from its results file)."""

    index: int
    exit_code: int
    passed: bool | None
    failed_checks: tuple[str, ...] = ()
    duration_s: float = 0.0
    results: str = ""
    connections: float | None = None
    """Connections the target accepted during the run (its results' ``connections_total``)."""
    jobs: float | None = None
    """Jobs the target started during the run (``jobs_started``): with ``connections``, the work
    done, which on a shared machine differs from run to run (a busy run does less)."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    outcome: RunOutcome
    target: TargetState
    load: LoadPeak
    target_peak: TargetPeak | None = None


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    passed: bool
    message: str


def _mib(value: float) -> str:
    return f"{value / MIB:.1f} MiB"


def _gauge_checks(run: int, state: TargetState, idle_tasks: float | None) -> list[Check]:
    out = []
    for name, value, want in (("connections_open", state.connections_open, 0.0),
                              ("jobs_running", state.jobs_running, 0.0),
                              ("jobs_kept", state.jobs_kept, 0.0),
                              ("background_tasks", state.background_tasks, idle_tasks)):
        check = f"run {run}: {name}"
        if value is None or want is None:
            out.append(Check(check, False, f"{name} is not exposed by the target's /metrics"))
        elif value != want:
            out.append(Check(check, False, f"{name} is {value:g} once idle, expected {want:g}"))
        else:
            out.append(Check(check, True, f"{name} back to {want:g}"))
    return out


def judge(before: TargetState, runs: Sequence[RunRecord], tolerance: Tolerance = Tolerance()) -> list[Check]:
    """Every check of a soak: ``before`` is the idle target before the first run; each record is
    one run's outcome and the idle target after it. Needs at least one run; flatness needs two."""
    if not runs:
        raise ValueError("a soak has at least one run")
    checks: list[Check] = []
    first = runs[0].target
    allowance = tolerance.rss_allowance(first.rss_bytes)
    for record in runs:
        k, state = record.outcome.index, record.target
        checks += _gauge_checks(k, state, before.background_tasks)
        same = state.pids == before.pids
        checks.append(Check(f"run {k}: processes", same,
                            "the target's processes are the ones it started with" if same else
                            f"the target's processes changed: {list(before.pids)} -> {list(state.pids)}"))
        if record is runs[0]:
            continue
        earlier = runs[: runs.index(record)]
        checks.append(_memory_check(k, record, earlier, allowance))
        extra = state.fds - first.fds
        checks.append(Check(
            f"run {k}: open files flat", extra <= tolerance.fds_growth,
            f"{state.fds} open files vs {first.fds} after run 1 ({extra:+d}, allowed +{tolerance.fds_growth})"))
    return checks


def _high_water(record: RunRecord, earlier: Sequence[RunRecord]) -> int:
    """Bytes by which this run's peak memory *during* the run rose above every earlier run's peak
    (0 when a peak is unknown): memory a run really needed at once, which the allocator may keep
    resident once idle. A run that did more at once on a shared machine (it ran faster) sets a new
    high-water mark; a leak grows the idle figure without one."""
    peaks = [r.target_peak.rss_bytes for r in earlier if r.target_peak is not None]
    if record.target_peak is None or len(peaks) != len(earlier):
        return 0
    return max(0, record.target_peak.rss_bytes - max(peaks))


def _memory_check(k: int, record: RunRecord, earlier: Sequence[RunRecord], allowance: int) -> Check:
    """Idle memory after run ``k`` against the highest idle figure so far (run 1's at first), plus
    the allowance, plus any new high-water mark this run set (:func:`_high_water`)."""
    first = earlier[0].target
    reference = max(r.target.rss_bytes for r in earlier)
    high_water = _high_water(record, earlier)
    limit = reference + allowance + high_water
    growth = record.target.rss_bytes - first.rss_bytes
    ratio = growth / first.rss_bytes if first.rss_bytes else float("inf")
    message = (f"RSS {_mib(record.target.rss_bytes)} vs {_mib(first.rss_bytes)} after run 1: "
               f"{growth / MIB:+.1f} MiB ({ratio:+.1%}); allowed up to {_mib(limit)} "
               f"(highest idle so far {_mib(reference)} + {_mib(allowance)}")
    message += f" + a new peak {_mib(high_water)} above earlier runs)" if high_water else ")"
    return Check(f"run {k}: memory flat", record.target.rss_bytes <= limit, message)


@dataclass(frozen=True, slots=True)
class Drift:
    """One run's figures as ratios to run 1's (1.0: the same)."""

    run: int
    target_rss: float | None
    target_fds: float | None
    load_rss: float | None
    load_fds: float | None


def _ratio(value: float, reference: float) -> float | None:
    return value / reference if reference else None


def drift(runs: Sequence[RunRecord]) -> list[Drift]:
    """Each run's target and load figures divided by run 1's."""
    if not runs:
        return []
    first = runs[0]
    return [Drift(r.outcome.index,
                  _ratio(r.target.rss_bytes, first.target.rss_bytes),
                  _ratio(r.target.fds, first.target.fds),
                  _ratio(r.load.rss_bytes, first.load.rss_bytes),
                  _ratio(r.load.fds, first.load.fds)) for r in runs]


def load_notes(runs: Sequence[RunRecord], tolerance: Tolerance = Tolerance()) -> list[str]:
    """The load side's drifts beyond ``tolerance.load_drift_ratio`` (reported, not failed)."""
    notes = []
    for item in drift(runs)[1:]:
        for what, ratio in (("peak RSS", item.load_rss), ("peak open files", item.load_fds)):
            if ratio is not None and abs(ratio - 1.0) > tolerance.load_drift_ratio:
                notes.append(f"run {item.run}: load side's {what} is {ratio:.2f}x run 1's")
    return notes

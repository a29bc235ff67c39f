"""The results file (``wsrace-results``, version 1): its builder, its mergeable tallies, its I/O.

Every field is documented in ``docs/results-format.md``. Workers count iteration outcomes in
:class:`ScenarioTally` values and send them to the master as plain data (:meth:`ScenarioTally.to_dict`,
see :mod:`loadgen.collector`); the master adds them up with :func:`merge`, which is exact,
associative and commutative, so the order and grouping of the reports does not matter. Send
*deltas* (what happened since the last report) and start again from an empty tally after each report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from loadgen import __version__
from loadgen.judge.atomic import atomic_write_text
from loadgen.judge.config_errors import ConfigError, read_text
from loadgen.judge.evaluate import Verdict, evaluate
from loadgen.judge.thresholds import Thresholds, thresholds_to_dict
from loadgen.judge.validate import validate_results

__all__ = [
    "FORMAT",
    "STEP_FIELDS",
    "VERSION",
    "RunMeta",
    "ScenarioTally",
    "build_results",
    "load_results",
    "merge",
    "results_json",
    "utc_now",
    "with_verdicts",
    "write_results",
]

FORMAT = "wsrace-results"
VERSION = 1

Outcome = Literal["success", "failure", "interrupted"]

STEP_FIELDS: tuple[str, ...] = ("count", "failures", "p50", "p90", "p95", "p99", "max", "avg", "min")
"""Fields of one step's stats; ``count`` and ``failures`` are whole numbers, the rest ms or None."""


def utc_now() -> str:
    """The current time as ISO-8601 UTC with milliseconds, e.g. ``2025-01-02T03:04:05.678+00:00``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- tallies -----------------------------------------------------------------------------------


def _sorted_counts(counts: Mapping[Any, int], *, numeric: bool = False) -> Mapping[str, int]:
    def order(key: str) -> tuple[int, int, str]:
        return (0, int(key), key) if numeric and key.isdigit() else (1, 0, key)

    items = {str(key): int(value) for key, value in counts.items() if value}
    return MappingProxyType({key: items[key] for key in sorted(items, key=order)})


@dataclass(frozen=True, slots=True)
class ScenarioTally:
    """Iteration outcomes of one scenario.

    An iteration is a success or a failure (``failures_by_kind`` counts failures per error kind);
    an iteration cut short by the end of a stage or of the run is ``interrupted``: counted apart,
    never as a success nor a failure. ``attempts`` counts iterations as they start, apart from
    their outcome: over a whole run ``attempts == successes + failures + interrupted`` when every
    report arrived. ``close_codes`` counts the close codes the clients received (keys are strings,
    as in JSON).
    """

    successes: int = 0
    failures: int = 0
    interrupted: int = 0
    attempts: int = 0
    failures_by_kind: Mapping[str, int] = field(default_factory=dict)
    close_codes: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("successes", "failures", "interrupted", "attempts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        for name in ("failures_by_kind", "close_codes"):
            for key, count in getattr(self, name).items():
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise ValueError(f"{name}[{key!r}] must be a whole number >= 0, got {count!r}")
        object.__setattr__(self, "failures_by_kind", _sorted_counts(self.failures_by_kind))
        object.__setattr__(self, "close_codes", _sorted_counts(self.close_codes, numeric=True))

    @property
    def iterations(self) -> int:
        """Completed iterations: successes + failures (interrupted ones are not counted)."""
        return self.successes + self.failures

    @property
    def error_rate(self) -> float | None:
        """failures / iterations; None when no iteration completed."""
        return self.failures / self.iterations if self.iterations else None

    @classmethod
    def one(
        cls, outcome: Outcome, kind: str | None = None, close_code: int | str | None = None
    ) -> ScenarioTally:
        """A tally of a single iteration. A failure needs its error ``kind``."""
        codes = {str(close_code): 1} if close_code is not None else {}
        if outcome == "success":
            return cls(successes=1, close_codes=codes)
        if outcome == "failure":
            if not kind:
                raise ValueError("a failed iteration needs its error kind")
            return cls(failures=1, failures_by_kind={kind: 1}, close_codes=codes)
        if outcome == "interrupted":
            return cls(interrupted=1, close_codes=codes)
        raise ValueError(f"outcome must be success, failure or interrupted, got {outcome!r}")

    def __add__(self, other: ScenarioTally) -> ScenarioTally:
        return merge(self, other)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the results file's scenario counters, or a worker's report)."""
        return {
            "iterations": self.iterations,
            "successes": self.successes,
            "failures": self.failures,
            "interrupted": self.interrupted,
            "attempts": self.attempts,
            "error_rate": self.error_rate,
            "failures_by_kind": dict(self.failures_by_kind),
            "close_codes": dict(self.close_codes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScenarioTally:
        """Read :meth:`to_dict`'s output back (``iterations``/``error_rate`` are derived, ignored)."""
        return cls(
            successes=data.get("successes", 0),
            failures=data.get("failures", 0),
            interrupted=data.get("interrupted", 0),
            attempts=data.get("attempts", 0),
            failures_by_kind=dict(data.get("failures_by_kind") or {}),
            close_codes=dict(data.get("close_codes") or {}),
        )


def _add_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for key, count in b.items():
        out[key] = out.get(key, 0) + count
    return out


def merge(a: ScenarioTally, b: ScenarioTally) -> ScenarioTally:
    """The tally of both: every counter added. Exact, associative and commutative."""
    return ScenarioTally(
        successes=a.successes + b.successes,
        failures=a.failures + b.failures,
        interrupted=a.interrupted + b.interrupted,
        attempts=a.attempts + b.attempts,
        failures_by_kind=_add_counts(a.failures_by_kind, b.failures_by_kind),
        close_codes=_add_counts(a.close_codes, b.close_codes),
    )


# --- the document ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunMeta:
    """What the ``run`` section of the results file says about the run (see the format doc)."""

    started: str
    finished: str
    duration_s: float
    host: str
    bundled_target: bool = False
    faults: tuple[str, ...] = ()
    profile: str | None = None
    schedule: str | None = None
    thresholds: str | None = None
    locust_version: str | None = None
    wsrace_version: str = __version__
    processes: int = 1
    interrupted: bool = False
    stop_reason: str | None = None
    signal: str | None = None
    aborted: Mapping[str, Any] | None = None
    """Set when an ``abort = true`` threshold stopped the run (:mod:`loadgen.judge.abort`)."""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["faults"] = list(self.faults)
        out["aborted"] = None if self.aborted is None else dict(self.aborted)
        return out


def _step(scenario: str, step: str, stats: Mapping[str, Any]) -> dict[str, Any]:
    where = f"step_stats[{scenario!r}][{step!r}]"
    unknown = sorted(set(stats) - set(STEP_FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; expected {list(STEP_FIELDS)}")
    out: dict[str, Any] = {}
    for name in STEP_FIELDS:
        value = stats.get(name, 0 if name in ("count", "failures") else None)
        if name in ("count", "failures"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{where}.{name}: expected a whole number >= 0, got {value!r}")
        elif value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value
            ):
                raise ValueError(f"{where}.{name}: expected milliseconds or None, got {value!r}")
            value = float(value)
        out[name] = value
    if out["count"] == 0:  # no timing: percentiles of nothing are not 0 ms
        out.update({name: None for name in STEP_FIELDS if name not in ("count", "failures")})
    return out


def build_results(
    run_meta: RunMeta,
    tallies: Mapping[str, ScenarioTally],
    step_stats: Mapping[str, Mapping[str, Mapping[str, Any]]],
    server_counters: Mapping[str, int | float] | None,
    thresholds: Thresholds,
    verdicts: Sequence[Verdict] | None = None,
    *,
    run_checks: Sequence[Verdict] = (),
    run_error: str | None = None,
    server_error: str | None = None,
    server_resets: Sequence[Mapping[str, Any]] = (),
    server_samples: Sequence[Mapping[str, Any]] = (),
    baseline: Mapping[str, Any] | None = None,
    processes: Mapping[str, Any] | None = None,
    timeline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble a version-1 results document.

    ``step_stats`` is ``{scenario: {step: {count, failures, p50, p90, p95, p99, max, avg, min}}}``
    (ms; missing percentiles are None). ``server_counters`` holds the growth of each /metrics
    counter over the run by short name, or None when /metrics was unreachable (``server_error``
    says why). ``server_resets`` lists the intervals in which counters went down (a restart: the
    growth was summed over it), ``server_samples`` every read of /metrics, as plain data (see
    :mod:`loadgen.counter_growth`). ``verdicts`` None (the usual case) means: judge now with
    ``evaluate(doc, thresholds, run_checks)``; given verdicts are used as they are.
    ``run_error`` says why the run broke, if it did. ``baseline`` is the latency probe's summary
    (:func:`loadgen.judge.baseline.summarize`), None when the run had no probe. ``processes`` is
    what was seen of the run's processes dying (:mod:`loadgen.judge.processes`), None to leave the
    section out. ``timeline`` is the run's per-interval samples (:mod:`loadgen.report.timeline`),
    None to leave it out.
    """
    names = sorted(set(tallies) | set(step_stats))
    scenarios: dict[str, Any] = {}
    for name in names:
        entry = tallies.get(name, ScenarioTally()).to_dict()
        entry["steps"] = {
            step: _step(name, step, stats) for step, stats in sorted(step_stats.get(name, {}).items())
        }
        scenarios[name] = entry
    server: dict[str, Any] = {
        "available": server_counters is not None,
        "counters": dict(server_counters or {}),
        "error": None if server_counters is not None else server_error or "not collected",
        "resets": [dict(reset) for reset in server_resets],
        "samples": [dict(sample) for sample in server_samples],
    }
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "run": run_meta.to_dict(),
        "scenarios": scenarios,
        "server": server,
        "thresholds": thresholds_to_dict(thresholds),
        "verdicts": [],
        "passed": False,
        "run_error": run_error,
    }
    if baseline is not None:  # only a run with a latency probe has one (docs/results-format.md)
        doc["baseline"] = dict(baseline)
    if processes is not None:
        doc["processes"] = dict(processes)
    if timeline is not None:
        doc["timeline"] = dict(timeline)
    if verdicts is None:
        verdicts = evaluate(doc, thresholds, run_checks)
    return with_verdicts(doc, thresholds, verdicts)


def with_verdicts(
    doc: Mapping[str, Any], thresholds: Thresholds, verdicts: Sequence[Verdict]
) -> dict[str, Any]:
    """A copy of ``doc`` judged anew: its thresholds, verdicts and ``passed`` replaced."""
    out = dict(doc)
    out["thresholds"] = thresholds_to_dict(thresholds)
    out["verdicts"] = [verdict.to_dict() for verdict in verdicts]
    out["passed"] = bool(verdicts) and all(v.passed for v in verdicts) and not doc.get("run_error")
    return out


def results_json(doc: Mapping[str, Any]) -> str:
    """The document as JSON text (UTF-8, indented; NaN/Infinity refused: they are not JSON)."""
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_results(path: str | Path, doc: Mapping[str, Any]) -> None:
    """Write ``doc`` atomically: serialised first, then temp file + fsync + ``os.replace``."""
    atomic_write_text(path, results_json(doc))


# --- reading -----------------------------------------------------------------------------------


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check a results file; anything unusable is a :class:`ConfigError` naming the key.

    Unknown fields are accepted (additive changes keep version 1); another format or version is not.
    """
    text = read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ConfigError(path, "", f"{where}: invalid JSON: {exc.msg}") from exc
    validate_results(str(path), doc)
    return doc

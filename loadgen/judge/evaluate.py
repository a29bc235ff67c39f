"""Judging: a results document and thresholds in, one :class:`Verdict` per check out. Pure.

Checks, in the order they are returned:

- per scenario that ran: ``min_iterations`` (a scenario that ran fewer fails: never a vacuous
  pass), ``error_rate``, then each latency limit (a step that never ran fails), then each limit
  relative to the run's latency baseline (``doc["baseline"]``, :mod:`loadgen.judge.relative`);
- per scenario that has thresholds but did not run: ``ran`` (failed: "did not run");
- per server counter with a limit: its growth (failed when /metrics was unreachable);
- run checks: ``nothing_ran`` if no scenario ran at all, ``interrupted`` if the run was cut short,
  ``run_error`` if it broke, ``target_processes`` and ``load_processes`` (processes that died, see
  :mod:`loadgen.judge.processes`), then the caller's own ``run_checks`` (e.g. ``target_shutdown``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from loadgen.judge.processes import process_checks
from loadgen.judge.relative import ratio_checks
from loadgen.judge.thresholds import ScenarioLimits, Thresholds

__all__ = [
    "JUDGE_RUN_CHECKS",
    "TIMES",
    "Verdict",
    "evaluate",
    "format_ms",
    "format_rate",
    "run_check",
    "top_kinds",
]

TIMES = "\N{MULTIPLICATION SIGN}"

Category = Literal["scenario", "server", "run"]

JUDGE_RUN_CHECKS: frozenset[str] = frozenset(
    {"nothing_ran", "interrupted", "run_error", "target_processes", "load_processes"}
)
"""Run checks that :func:`evaluate` makes itself (the others come from the caller)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one check.

    ``category`` is ``"scenario"``, ``"server"`` or ``"run"``; ``check`` names what was checked
    (the scenario, the counter, or the run check: one JUnit test case each, scenario verdicts
    grouped); ``metric`` what of it (``error_rate``, ``min_iterations``, ``latency.ready.p95``,
    ``ran``, a counter name, a run check name); ``limit`` and ``value`` are numbers or None.
    """

    category: Category
    check: str
    scenario: str | None
    metric: str
    limit: float | int | None
    value: float | int | None
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


def run_check(
    name: str,
    passed: bool,
    message: str,
    *,
    value: float | int | None = None,
    limit: float | int | None = None,
) -> Verdict:
    """A verdict about the run as a whole, e.g. ``run_check("target_shutdown", False, "...")``."""
    return Verdict("run", name, None, name, limit, value, passed, message)


def format_rate(rate: float | None) -> str:
    """``0.0167`` → ``"1.67%"``; None → ``"-"``."""
    return "-" if rate is None else f"{rate * 100:.2f}%"


def format_ms(ms: float | None) -> str:
    """Milliseconds with one decimal at most: ``1000.0`` → ``"1000"``, ``12.25`` → ``"12.2"``."""
    if ms is None:
        return "-"
    text = f"{ms:.1f}"
    return text[:-2] if text.endswith(".0") else text


def top_kinds(failures_by_kind: Mapping[str, int] | None, n: int = 3) -> str:
    """The most frequent failure kinds first, ``kind\N{MULTIPLICATION SIGN}count`` joined by commas; ``""`` if none."""
    counts = [(kind, count) for kind, count in (failures_by_kind or {}).items() if count > 0]
    counts.sort(key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{kind}{TIMES}{count}" for kind, count in counts[:n])
    if len(counts) > n:
        shown += f", +{len(counts) - n} more"
    return shown


def _with_kinds(text: str, entry: Mapping[str, Any]) -> str:
    kinds = top_kinds(entry.get("failures_by_kind"))
    return f"{text}; top kinds: {kinds}" if kinds else text


def _scenario_verdicts(
    name: str, entry: Mapping[str, Any], limits: ScenarioLimits, baseline: Mapping[str, Any] | None = None
) -> list[Verdict]:
    def verdict(metric: str, limit: float | None, value: float | None, ok: bool, msg: str) -> Verdict:
        return Verdict("scenario", name, name, metric, limit, value, ok, msg)

    successes = int(entry.get("successes", 0))
    failures = int(entry.get("failures", 0))
    interrupted = int(entry.get("interrupted", 0))
    iterations = successes + failures
    aside = f" ({interrupted} interrupted, not counted)" if interrupted else ""
    out: list[Verdict] = []

    need = limits.min_iterations
    if iterations >= need:
        msg = f"{iterations} iterations >= min_iterations {need}{aside}"
    elif iterations == 0:
        msg = f"0 iterations completed{aside} < min_iterations {need}: nothing was tested"
    else:
        msg = f"only {iterations} iterations completed{aside} < min_iterations {need}"
    out.append(verdict("min_iterations", need, iterations, iterations >= need, msg))

    top = limits.max_error_rate
    if iterations == 0:
        msg = f"error rate undefined: no iterations completed (limit {format_rate(top)})"
        out.append(verdict("error_rate", top, None, False, msg))
    else:
        rate = failures / iterations
        ok = rate <= top
        sign = "<=" if ok else ">"
        msg = (
            f"error rate {format_rate(rate)} {sign} limit {format_rate(top)}: "
            f"{failures} of {iterations} iterations failed"
        )
        out.append(verdict("error_rate", top, rate, ok, _with_kinds(msg, entry)))

    steps: Mapping[str, Any] = entry.get("steps") or {}
    for limit in limits.latency:
        metric = f"latency.{limit.step}.{limit.stat}"
        wanted = f"{limit.stat} <= {format_ms(limit.max_ms)} ms"
        step = steps.get(limit.step)
        value = None if step is None else step.get(limit.stat)
        if step is None:
            msg = f"step {limit.step!r} never ran: cannot check {wanted}"
            out.append(verdict(metric, limit.max_ms, None, False, _with_kinds(msg, entry)))
        elif value is None or not step.get("count"):
            lost = int(step.get("failures") or 0)
            msg = f"step {limit.step!r} has no timings ({lost} failures): cannot check {wanted}"
            out.append(verdict(metric, limit.max_ms, None, False, _with_kinds(msg, entry)))
        else:
            ok = value <= limit.max_ms
            sign = "<=" if ok else ">"
            msg = (
                f"step {limit.step!r} {limit.stat} {format_ms(value)} ms {sign} "
                f"limit {format_ms(limit.max_ms)} ms"
            )
            out.append(verdict(metric, limit.max_ms, value, ok, msg if ok else _with_kinds(msg, entry)))
    for check in ratio_checks(steps, limits.relative, baseline):  # p99_vs_baseline...: loadgen.judge.relative
        out.append(verdict(check.metric, check.limit, check.value, check.passed, check.message))
    return out


def _server_verdicts(server: Mapping[str, Any], limits: Mapping[str, int]) -> list[Verdict]:
    out: list[Verdict] = []
    available = bool(server.get("available"))
    counters: Mapping[str, Any] = server.get("counters") or {}
    reason = server.get("error")
    for counter, limit in limits.items():
        wanted = f"{counter} growth <= {limit}"
        if not available:
            why = f" ({reason})" if reason else ""
            msg = f"/metrics was unreachable{why}: cannot check {wanted}"
            out.append(Verdict("server", counter, None, counter, limit, None, False, msg))
        elif counters.get(counter) is None:
            msg = f"/metrics did not report {counter}: cannot check {wanted}"
            out.append(Verdict("server", counter, None, counter, limit, None, False, msg))
        else:
            value = counters[counter]
            ok = value <= limit
            sign = "<=" if ok else ">"
            msg = f"{counter} grew by {value:g} {sign} limit {limit}"
            out.append(Verdict("server", counter, None, counter, limit, value, ok, msg))
    return out


def evaluate(
    doc: Mapping[str, Any], thresholds: Thresholds, run_checks: Sequence[Verdict] = ()
) -> list[Verdict]:
    """Judge a results document (or any mapping with its ``scenarios``/``server``/``run`` parts).

    Only ``scenarios.*.{successes,failures,interrupted,failures_by_kind,steps}``, ``baseline``,
    ``server.{available,counters,error,resets}``, ``run.{interrupted,stop_reason}``, ``processes``
    and ``run_error`` are read; stored rates and verdicts are ignored and recomputed.
    """
    scenarios: Mapping[str, Any] = doc.get("scenarios") or {}
    verdicts: list[Verdict] = []
    for name, entry in scenarios.items():
        verdicts += _scenario_verdicts(name, entry, thresholds.for_scenario(name), doc.get("baseline"))
    for name in thresholds.scenarios:
        if name not in scenarios:
            close = difflib.get_close_matches(name, list(scenarios), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            msg = f"scenario {name!r} has thresholds but did not run{hint}"
            verdicts.append(Verdict("scenario", name, name, "ran", None, None, False, msg))
    verdicts += _server_verdicts(doc.get("server") or {}, thresholds.server)

    run: Mapping[str, Any] = doc.get("run") or {}
    if not scenarios:
        verdicts.append(run_check("nothing_ran", False, "no scenario ran: nothing was tested"))
    if run.get("interrupted"):
        why = run.get("stop_reason") or "no reason given"
        msg = f"the run was interrupted before its schedule finished ({why})"
        verdicts.append(run_check("interrupted", False, msg))
    if doc.get("run_error"):
        verdicts.append(run_check("run_error", False, f"the run broke: {doc['run_error']}"))
    for check in process_checks(doc):
        verdicts.append(run_check(check.name, check.passed, check.message, value=check.value, limit=check.limit))
    verdicts += run_checks
    return verdicts

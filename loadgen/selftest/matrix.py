"""What each self-test run caught, read from its results file: pure, no processes, no sockets.

A fault's run is judged by what its results document (docs/results-format.md) says failed:

- a failed scenario ``error_rate`` verdict is caught *by that scenario*, once per error kind of its
  ``failures_by_kind``, with its count;
- any other failed scenario verdict (``min_iterations``, ``latency.<step>.<stat>``) by that check;
- a failed ``server`` verdict by the counter (``server: unhandled_errors``);
- a failed ``run`` check by its name (``run: target_shutdown``).

A fault run that passed is MISSED. The clean run (no fault) must pass: if it fails, that is a FALSE
ALARM. A run that produced no usable verdict (timed out, no results file, exit 2 or 3, a
``run_error``) is BROKEN: neither a catch nor a miss, and the self-test does not pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from loadgen.judge.evaluate import TIMES

__all__ = [
    "FORMAT", "VERSION", "Detection", "Outcome", "RepeatReport", "Repeated", "Report", "RunRecord",
    "detections", "judge", "render", "render_repeated", "report",
]

FORMAT: Final = "wsrace-selftest"
VERSION: Final = 1

Status = Literal["caught", "missed", "pass", "false_alarm", "broken"]


@dataclass(frozen=True)
class RunRecord:
    """How one ``wsrace run`` ended (what :mod:`.runner` hands over)."""

    fault: str | None
    """The fault injected; None for the clean run."""
    exit_code: int | None
    """``wsrace run``'s exit code; None if it never finished (timed out, never started)."""
    results: Mapping[str, Any] | None
    """Its results document, or None if none could be read."""
    error: str | None = None
    """Why it has no verdict (timed out, not started), if the runner knows."""
    seconds: float | None = None
    results_path: str | None = None
    log_path: str | None = None


@dataclass(frozen=True)
class Detection:
    """One thing that failed in a run: where (a scenario, ``server`` or ``run``) and what."""

    source: str
    what: str
    count: int | None = None
    message: str = ""

    def label(self) -> str:
        return self.what if self.count is None else f"{self.what}{TIMES}{self.count}"


@dataclass(frozen=True)
class Outcome:
    fault: str | None
    status: Status
    caught_by: tuple[Detection, ...] = ()
    reason: str | None = None
    """Why it is broken, in one line."""
    exit_code: int | None = None
    seconds: float | None = None
    results_path: str | None = None
    log_path: str | None = None

    def summary(self, limit: int = 4) -> str:
        """E.g. ``fast_halt: bad_reply`` times 40 ``, missed_event`` times 3 ``; server: unhandled_errors``."""
        if self.status == "broken":
            return self.reason or "no verdict"
        if not self.caught_by:
            return "-"
        groups: dict[str, list[str]] = {}
        for detection in self.caught_by[:limit]:
            groups.setdefault(detection.source, []).append(detection.label())
        text = "; ".join(f"{source}: {', '.join(labels)}" for source, labels in groups.items())
        more = len(self.caught_by) - limit
        return text + (f"; +{more} more" if more > 0 else "")


def detections(doc: Mapping[str, Any]) -> list[Detection]:
    """Every failed verdict of a results document, as detections, in the verdicts' order."""
    scenarios: Mapping[str, Any] = doc.get("scenarios") or {}
    found: list[Detection] = []
    for verdict in doc.get("verdicts") or []:
        if verdict.get("passed", True):
            continue
        category, message = verdict.get("category"), str(verdict.get("message", ""))
        if category == "scenario":
            scenario = str(verdict.get("scenario") or verdict.get("check"))
            metric = str(verdict.get("metric"))
            kinds: Mapping[str, int] = (scenarios.get(scenario) or {}).get("failures_by_kind") or {}
            if metric == "error_rate" and kinds:
                ranked = sorted(kinds.items(), key=lambda item: (-item[1], item[0]))
                found += [Detection(scenario, kind, count, message) for kind, count in ranked]
            else:
                found.append(Detection(scenario, metric, None, message))
        else:
            found.append(Detection(str(category), str(verdict.get("check")), None, message))
    return found


def _broken_reason(record: RunRecord) -> str | None:
    if record.error:
        return record.error
    if record.results is None:
        return f"exit {record.exit_code}, no results file"
    if record.results.get("run_error"):
        return f"the run broke: {record.results['run_error']}"
    if record.exit_code not in (0, 1):
        return f"exit {record.exit_code}"
    return None


def judge(record: RunRecord) -> Outcome:
    """One run's outcome: caught / missed for a fault, pass / false_alarm for the clean run."""
    common: dict[str, Any] = {
        "fault": record.fault, "exit_code": record.exit_code, "seconds": record.seconds,
        "results_path": record.results_path, "log_path": record.log_path,
    }
    reason = _broken_reason(record)
    if reason is not None:
        return Outcome(status="broken", reason=reason, **common)
    assert record.results is not None
    found = tuple(detections(record.results))
    passed = bool(record.results.get("passed")) and record.exit_code == 0
    if passed != (not found):
        return Outcome(status="broken", caught_by=found, **common,
                       reason=f"exit {record.exit_code} but {len(found)} failed verdicts")
    if record.fault is None:
        return Outcome(status="pass" if passed else "false_alarm", caught_by=found, **common)
    return Outcome(status="missed" if passed else "caught", caught_by=found, **common)


@dataclass(frozen=True)
class Report:
    clean: Outcome | None
    faults: tuple[Outcome, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def caught(self) -> int:
        return sum(outcome.status == "caught" for outcome in self.faults)

    @property
    def passed(self) -> bool:
        """Every fault caught and the clean run passed."""
        clean_ok = self.clean is not None and self.clean.status == "pass"
        return clean_ok and all(outcome.status == "caught" for outcome in self.faults)

    def to_json(self) -> dict[str, Any]:
        def outcome(o: Outcome | None) -> dict[str, Any] | None:
            return None if o is None else asdict(o) | {"caught_by": [asdict(d) for d in o.caught_by]}

        return {
            "format": FORMAT, "version": VERSION, "settings": dict(self.settings),
            "clean": outcome(self.clean),
            "faults": [outcome(o) for o in self.faults],
            "score": {"caught": self.caught, "total": len(self.faults),
                      "missed": sum(o.status == "missed" for o in self.faults),
                      "broken": sum(o.status == "broken" for o in self.faults)},
            "passed": self.passed,
        }


def report(records: Iterable[RunRecord], faults: Sequence[str],
           settings: Mapping[str, Any] | None = None) -> Report:
    """The report of a self-test: the clean run and every fault of ``faults``, in that order.

    A fault with no record (it never ran) is broken.
    """
    by_fault = {record.fault: judge(record) for record in records}
    outcomes = tuple(by_fault.get(name) or Outcome(name, "broken", reason="not run")
                     for name in faults)
    return Report(by_fault.get(None), outcomes, settings or {})


_STATUS_TEXT: Final[dict[str, str]] = {
    "caught": "caught", "missed": "MISSED", "pass": "PASS", "false_alarm": "FALSE ALARM",
    "broken": "BROKEN",
}


def render(rep: Report) -> str:
    """The table: one line per fault (and the clean run first), then the score."""
    rows: list[tuple[str, str, str, str]] = []
    if rep.clean is not None:
        rows.append(("(clean run)", _STATUS_TEXT[rep.clean.status], _secs(rep.clean),
                     rep.clean.summary() if rep.clean.status != "pass" else "-"))
    rows += [(o.fault or "?", _STATUS_TEXT[o.status], _secs(o), o.summary()) for o in rep.faults]
    width = max([len("fault")] + [len(row[0]) for row in rows])
    lines = [f"{'fault':<{width}}  {'result':<11}  {'time':>5}  caught by"]
    lines += [f"{a:<{width}}  {b:<11}  {c:>5}  {d}" for a, b, c, d in rows]
    clean = "not run" if rep.clean is None else _STATUS_TEXT[rep.clean.status]
    missed = [o.fault for o in rep.faults if o.status == "missed"]
    broken = [o.fault for o in rep.faults if o.status == "broken"]
    lines.append("")
    lines.append(f"score: {rep.caught}/{len(rep.faults)} caught; clean run: {clean}")
    if missed:
        lines.append(f"missed: {', '.join(str(name) for name in missed)}")
    if broken:
        lines.append(f"broken (no verdict): {', '.join(str(name) for name in broken)}")
    lines.append("selftest: " + ("PASS" if rep.passed else "FAIL"))
    return "\n".join(lines) + "\n"


def _secs(outcome: Outcome) -> str:
    return "-" if outcome.seconds is None else f"{outcome.seconds:.0f}s"


@dataclass(frozen=True)
class Repeated:
    """One fault (or the clean run, ``fault`` None) over every round of a repeated self-test."""

    fault: str | None
    outcomes: tuple[Outcome, ...]

    def count(self, status: Status) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def good(self) -> int:
        """Rounds that went the right way: caught for a fault, pass for the clean run."""
        return self.count("pass" if self.fault is None else "caught")

    def caught_by(self) -> list[tuple[str, int]]:
        """Each ``source: what`` that failed, with the number of rounds it failed in, most first."""
        rounds: dict[str, int] = {}
        for outcome in self.outcomes:
            for label in dict.fromkeys(f"{d.source}: {d.what}" for d in outcome.caught_by):
                rounds[label] = rounds.get(label, 0) + 1
        return sorted(rounds.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class RepeatReport:
    """The same self-test ``len(rounds)`` times: how often each fault was caught, the clean run green."""

    rounds: tuple[Report, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> Repeated:
        return Repeated(None, tuple(r.clean or Outcome(None, "broken", reason="not run") for r in self.rounds))

    @property
    def faults(self) -> tuple[Repeated, ...]:
        if not self.rounds:
            return ()
        names = [o.fault for o in self.rounds[0].faults]
        return tuple(Repeated(name, tuple(r.faults[i] for r in self.rounds)) for i, name in enumerate(names))

    @property
    def passed(self) -> bool:
        """Every round passed: each fault caught every time, the clean run green every time."""
        return bool(self.rounds) and all(r.passed for r in self.rounds)

    def to_json(self) -> dict[str, Any]:
        def tally(rep: Repeated) -> dict[str, Any]:
            statuses = ("pass", "false_alarm", "broken") if rep.fault is None else ("caught", "missed", "broken")
            return {"fault": rep.fault, "runs": len(rep.outcomes),
                    **{status: rep.count(status) for status in statuses},
                    "caught_by": [{"check": label, "runs": n} for label, n in rep.caught_by()]}

        return {
            "format": FORMAT, "version": VERSION, "settings": dict(self.settings),
            "repeat": len(self.rounds),
            "summary": {"clean": tally(self.clean), "faults": [tally(f) for f in self.faults]},
            "rounds": [r.to_json() for r in self.rounds],
            "passed": self.passed,
        }


def render_repeated(rep: RepeatReport, limit: int = 3) -> str:
    """One line per fault: in how many rounds it was caught (the clean run: passed), and by what."""
    runs = len(rep.rounds)
    rows: list[tuple[str, str, str, str]] = []
    for each in (rep.clean, *rep.faults):
        word = "pass" if each.fault is None else "caught"
        bad = [f"{each.count(s)} {_STATUS_TEXT[s]}" for s in ("missed", "false_alarm", "broken") if each.count(s)]
        labels = each.caught_by()
        text = ", ".join(f"{label} ({n}/{runs})" for label, n in labels[:limit])
        if len(labels) > limit:
            text += f", +{len(labels) - limit} more"
        rows.append((each.fault or "(clean run)", f"{each.good}/{runs} {word}", ", ".join(bad) or "-",
                     text or "-"))
    width = max([len("fault")] + [len(row[0]) for row in rows])
    lines = [f"{'fault':<{width}}  {'result':<13}  {'otherwise':<12}  caught by (rounds)"]
    lines += [f"{a:<{width}}  {b:<13}  {c:<12}  {d}" for a, b, c, d in rows]
    always = sum(f.good == runs for f in rep.faults)
    lines.append("")
    lines.append(f"score: {always}/{len(rep.faults)} faults caught in {runs}/{runs} rounds; "
                 f"clean run passed {rep.clean.good}/{runs}")
    lines.append("selftest: " + ("PASS" if rep.passed else "FAIL"))
    return "\n".join(lines) + "\n"

"""The run checks about processes that died: ``target_processes`` and ``load_processes``. Pure.

A run whose processes died is not a clean test of the server, whatever its counts say: a restarted
target worker dropped its connections (the scenarios then fail with errors the server's code did
not cause), and a Locust worker that stopped reporting took with it what it counted since its last
report. So each death fails a check that names it, and when, in seconds from the start of the run.

The evidence is in the results document (see docs/results-format.md, ``processes``):

- ``processes.target.events``: the bundled target's worker exits and restarts, as its supervisor
  reported them; for a ``--host`` server (``watched: "host"``) there is no supervisor to ask, and
  ``server.resets`` (counters that went down between two reads of /metrics) is the evidence. Resets
  count for a bundled target too.
- ``processes.load.lost_reports``: Locust workers the master marked missing (no heartbeat). Their
  tallies since their last report never arrived: how many iterations that was cannot be known. A
  worker that reports again later (a heartbeat merely late, on a busy machine) lost nothing: its
  reports are deltas; it is named, and does not fail the check.

A document without ``processes`` (an older wsrace) gets neither check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PROCESS_CHECKS", "ProcessCheck", "describe_lost_report", "describe_reset", "describe_target_event",
           "process_checks"]

PROCESS_CHECKS: frozenset[str] = frozenset({"target_processes", "load_processes"})


@dataclass(frozen=True, slots=True)
class ProcessCheck:
    """One check's outcome; :func:`loadgen.judge.evaluate.evaluate` makes it a run verdict.
    ``value`` is the number of deaths seen, ``limit`` 0."""

    name: str
    passed: bool
    message: str
    value: int
    limit: int = 0


def run_check(name: str, passed: bool, message: str, *, value: int, limit: int) -> ProcessCheck:
    return ProcessCheck(name, passed, message, value, limit)


def _at(t: object) -> str:
    return f"+{t:.1f} s" if isinstance(t, int | float) and not isinstance(t, bool) else "an unknown time"


def _how(event: Mapping[str, Any]) -> str:
    if event.get("signal"):
        return f"signal {event['signal']}"
    if event.get("exit_code") is not None:
        return f"exit code {event['exit_code']}"
    return "cause unknown"


def describe_target_event(event: Mapping[str, Any]) -> str:
    """``target worker 1 (pid 42) died at +12.3 s (signal 9), restarted at +12.5 s``."""
    who = event.get("process") or f"target worker {event.get('index', '?')}"
    pid = f" (pid {event['pid']})" if event.get("pid") is not None else ""
    text = f"{who}{pid} died at {_at(event.get('died_t'))} ({_how(event)})"
    if event.get("restarted_t") is not None:
        new = f" as pid {event['restarted_pid']}" if event.get("restarted_pid") is not None else ""
        return f"{text}, restarted at {_at(event['restarted_t'])}{new}"
    return f"{text}, not serving again by the end of the run"


def describe_reset(reset: Mapping[str, Any]) -> str:
    """``the server's counters went down at +20.0 s (connections_total): a server process restarted``."""
    names = ", ".join(reset.get("counters") or []) or "some counters"
    return f"the server's counters went down at {_at(reset.get('t'))} ({names}): a server process restarted"


def describe_lost_report(lost: Mapping[str, Any]) -> str:
    """``Locust worker w1 (pid 42) stopped reporting at +9.0 s (marked missing at +13.0 s): ...``."""
    pid = f" (pid {lost['pid']})" if lost.get("pid") is not None else ""
    if lost.get("pid") is None and lost.get("reports"):
        # Our workers send their pid with every report: this one is another run's, on the same master port.
        pid = " (its reports carried no wsrace pid: a worker of another run that found this master's port?)"
    last = lost.get("last_report_t")
    stopped = f"stopped reporting at {_at(last)}" if last is not None else "never reported"
    return (f"Locust worker {lost.get('worker')}{pid} {stopped} (marked missing at {_at(lost.get('missing_t'))}): "
            "what it counted after its last report is lost, count unknown")


def _target_verdict(target: Mapping[str, Any], resets: Sequence[Mapping[str, Any]]) -> ProcessCheck:
    events: Sequence[Mapping[str, Any]] = target.get("events") or []
    deaths = [describe_target_event(e) for e in events] + [describe_reset(r) for r in resets]
    if deaths:
        return run_check("target_processes", False, "; ".join(deaths), value=len(deaths), limit=0)
    if target.get("watched") == "host":
        msg = "no server counter went down: no sign that a server process restarted"
    else:
        msg = "no target process died (its supervisor reported no worker exit)"
    return run_check("target_processes", True, msg, value=0, limit=0)


def _came_back(item: Mapping[str, Any]) -> str:
    return (f"Locust worker {item.get('worker')} was marked missing at {_at(item.get('missing_t'))} but reported "
            f"again at {_at(item.get('reported_again_t'))}: its reports are deltas, nothing was lost")


def _load_verdict(load: Mapping[str, Any]) -> ProcessCheck:
    entries: Sequence[Mapping[str, Any]] = load.get("lost_reports") or []
    lost = [item for item in entries if item.get("reported_again_t") is None]
    back = [_came_back(item) for item in entries if item.get("reported_again_t") is not None]
    if lost:
        msg = "; ".join([describe_lost_report(item) for item in lost] + back)
        return run_check("load_processes", False, msg, value=len(lost), limit=0)
    workers = int(load.get("workers") or 0)
    msg = (f"every Locust worker reported until the end ({workers} workers)" if workers
           else "one Locust process, no workers: nothing to lose")
    return run_check("load_processes", True, "; ".join([msg, *back]), value=0, limit=0)


def process_checks(doc: Mapping[str, Any]) -> list[ProcessCheck]:
    """``target_processes`` and ``load_processes``, from the document's ``processes`` section."""
    processes: Mapping[str, Any] = doc.get("processes") or {}
    resets: Sequence[Mapping[str, Any]] = (doc.get("server") or {}).get("resets") or []
    out = []
    if "target" in processes:
        out.append(_target_verdict(processes["target"] or {}, resets))
    if "load" in processes:
        out.append(_load_verdict(processes["load"] or {}))
    return out

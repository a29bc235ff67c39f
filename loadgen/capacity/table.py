"""The capacity ramp's verdict as text: one line per level, then the result in one sentence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render"]

COLUMNS = ("sessions", "verdict", "held", "connect/s", "target KiB/sess", "load KiB/sess", "target CPU%",
           "load CPU%", "why")


def _num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _kib(per_session: Any, added: Any) -> str:
    return _num(per_session, 1) + ("" if added is None else f" ({_num(added, 1)})")


def _cpu(ramp: Any, held: Any) -> str:
    return f"{_num(ramp)}/{_num(held)}"


def _row(level: Mapping[str, Any]) -> tuple[str, ...]:
    why = "; ".join([*(level.get("machine_said") or []), *(level.get("failed_checks") or [])])
    if level.get("broken"):
        why = level["broken"]
    if "interrupted" in level:
        why = f"interrupted by {level['interrupted']}"
    get = level.get
    verdict = "STOPPED" if "interrupted" in level else "PASS" if get("passed") else "FAIL"
    return (f"{level['sessions']:,}", verdict, _num(get("peak_held")),
            _num(get("connect_rate")), _kib(get("target_kib_per_session"), get("target_kib_per_added_session")),
            _kib(get("load_kib_per_session"), get("load_kib_per_added_session")),
            _cpu(get("target_cpu_ramp"), get("target_cpu_hold")), _cpu(get("load_cpu_ramp"), get("load_cpu_hold")),
            (why[:157] + "...") if len(why) > 160 else why)


def render(doc: Mapping[str, Any]) -> str:
    """The table and the RESULT line of a capacity results document."""
    capacity = doc["capacity"]
    rows = [COLUMNS, *(_row(level) for level in capacity["levels"])]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    machine = doc["run"]["machine"]
    lines.append(f"(KiB/sess: peak RSS over the side's processes / sessions, and in brackets per session added "
                 f"since the previous level; CPU%: of one core, ramp/hold; "
                 f"machine: {machine['cores']} cores {machine['cpu']}, {machine['memory_gib']} GiB, "
                 f"ulimit -n {machine['nofile']:,})")
    best = capacity["max_sessions_passed"]
    if doc["run"].get("interrupted"):
        held = "no level had passed" if best is None else f"the last level that held: {best:,} sessions"
        lines.append(f"\nRESULT: INTERRUPTED: {capacity['stop_reason']}; {held}")
    elif best is None:
        lines.append(f"\nRESULT: FAIL: not even the first level held ({capacity['stop_reason']})")
    elif capacity["first_failed"] is None:
        lines.append(f"\nRESULT: PASS: every level held, up to {best:,} sessions")
    else:
        lines.append(f"\nRESULT: capacity {best:,} sessions (the last level that held); "
                     f"{capacity['stop_reason']}")
    return "\n".join(lines)

"""Per-process tallies of iterations and close codes, and their trip from workers to the master.

Each process counts what its users did. Workers send what they counted since their last report
with Locust's ``report_to_master`` (every few seconds and once at the end); the master adds the
reports up. Counts travel as deltas, so adding them is exact whatever the order.
"""

from __future__ import annotations

from typing import Any

from loadgen.judge.results import ScenarioTally

__all__ = ["REPORT_KEY", "Collector"]

REPORT_KEY = "wsrace_tallies"


class Collector:
    def __init__(self) -> None:
        self._tallies: dict[str, ScenarioTally] = {}

    def _add(self, scenario: str, tally: ScenarioTally) -> None:
        current = self._tallies.get(scenario)
        self._tallies[scenario] = tally if current is None else current + tally

    def attempt(self, scenario: str) -> None:
        """An iteration started (its outcome is counted when it ends)."""
        self._add(scenario, ScenarioTally(attempts=1))

    def success(self, scenario: str) -> None:
        self._add(scenario, ScenarioTally.one("success"))

    def failure(self, scenario: str, kind: str) -> None:
        self._add(scenario, ScenarioTally.one("failure", kind))

    def interrupted(self, scenario: str) -> None:
        self._add(scenario, ScenarioTally.one("interrupted"))

    def close_code(self, scenario: str, code: int | None) -> None:
        """Count a close code received (None: the connection ended with no close frame, 1006)."""
        self._add(scenario, ScenarioTally(close_codes={str(1006 if code is None else code): 1}))

    def tallies(self) -> dict[str, ScenarioTally]:
        return dict(self._tallies)

    def drain(self) -> dict[str, Any]:
        """What was counted since the last drain, as plain data; the counts start again from zero."""
        out = {name: tally.to_dict() for name, tally in self._tallies.items()}
        self._tallies = {}
        return out

    def absorb(self, report: dict[str, Any]) -> None:
        for name, data in report.items():
            self._add(name, ScenarioTally.from_dict(data))

"""The thresholds file: good files parse to frozen dataclasses, bad ones name file, key and fix."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from loadgen.exitcodes import UsageError
from loadgen.judge.config_errors import ConfigError
from loadgen.judge.thresholds import (
    LatencyLimit,
    ScenarioLimits,
    Thresholds,
    parse_thresholds,
    thresholds_from_dict,
    thresholds_to_dict,
)

GOOD = """
[defaults]
max_error_rate = 0.01
min_iterations = 5

[scenarios.rapid_connect]
max_error_rate = 0
min_iterations = 20
[scenarios.rapid_connect.latency.ready]
p99 = 2000
p95 = 1000.5

[scenarios.fast_halt.latency."start→halted"]
max = 3000

[server]
unhandled_errors = 0
dropped_messages = 2
"""

REPO = Path(__file__).resolve().parents[2]


def test_good_file_parses(write: Callable[[str, str], Path]) -> None:
    """Sections override [defaults]; a section without a key inherits it; stats keep STATS order."""
    t = parse_thresholds(write("t.toml", GOOD))
    assert t.defaults == ScenarioLimits(0.01, 5, ())
    assert t.scenarios["rapid_connect"] == ScenarioLimits(
        0.0, 20, (LatencyLimit("ready", "p95", 1000.5), LatencyLimit("ready", "p99", 2000.0))
    )
    assert t.scenarios["fast_halt"] == ScenarioLimits(0.01, 5, (LatencyLimit("start→halted", "max", 3000.0),))
    assert dict(t.server) == {"unhandled_errors": 0, "dropped_messages": 2}
    assert t.source.endswith("t.toml")


def test_scenario_without_section_uses_defaults(write: Callable[[str, str], Path]) -> None:
    """A scenario that has no section of its own is judged by [defaults]."""
    t = parse_thresholds(write("t.toml", GOOD))
    assert t.for_scenario("steady") == t.defaults


def test_empty_file_has_builtin_defaults(write: Callable[[str, str], Path]) -> None:
    """With no [defaults], no failure is allowed and at least one iteration is needed."""
    t = parse_thresholds(write("t.toml", ""))
    assert t == Thresholds()
    assert t.defaults == ScenarioLimits(0.0, 1, ())


def test_thresholds_are_frozen(write: Callable[[str, str], Path]) -> None:
    """Parsed thresholds cannot be changed by a caller."""
    t = parse_thresholds(write("t.toml", GOOD))
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.defaults = ScenarioLimits()  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.server["unhandled_errors"] = 5  # type: ignore[index]


def test_round_trip_through_plain_data(write: Callable[[str, str], Path]) -> None:
    """The effective thresholds as plain data read back equal (what ``wsrace check`` relies on)."""
    t = parse_thresholds(write("t.toml", GOOD))
    data = thresholds_to_dict(t)
    assert data["scenarios"]["fast_halt"]["max_error_rate"] == 0.01  # filled in from defaults
    assert thresholds_from_dict(data, "x.json", dicts="an object") == t


def test_shipped_thresholds_parse() -> None:
    """scenarios/thresholds.toml parses: zero errors allowed, latency limits on the key steps."""
    t = parse_thresholds(REPO / "scenarios" / "thresholds.toml")
    assert set(t.scenarios) == {"rapid_connect", "send_after_close", "fast_halt", "steady", "pressure", "isolation",
                                "hold"}
    assert all(s.max_error_rate == 0.0 and s.min_iterations >= 10 for s in t.scenarios.values())
    assert all(s.latency for s in t.scenarios.values())
    assert dict(t.server) == {"unhandled_errors": 0, "dropped_messages": 0}


BAD = [
    # (file text, key named, expectation named)
    ('[scenarios.fast_halt]\nmax_error_rate = "x"\n', "scenarios.fast_halt.max_error_rate",
     'expected a number between 0 and 1, got "x"'),
    ("[defaults]\nmax_error_rate = 1.5\n", "defaults.max_error_rate", "expected a number between 0 and 1, got 1.5"),
    ("[defaults]\nmax_error_rate = true\n", "defaults.max_error_rate", "got true"),
    ("[defaults]\nmin_iterations = 0\n", "defaults.min_iterations", "expected a whole number >= 1, got 0"),
    ("[defaults]\nmin_iterations = 2.5\n", "defaults.min_iterations", "expected a whole number >= 1"),
    ("[scenarios.fast_halt.latency.ready]\np95 = -1\n", "scenarios.fast_halt.latency.ready.p95",
     "expected a number of milliseconds > 0, got -1"),
    ("[scenarios.fast_halt.latency.ready]\np95 = \"fast\"\n", "scenarios.fast_halt.latency.ready.p95",
     "milliseconds"),
    ("[scenarios.fast_halt.latency.ready]\nP95 = 10\n", "scenarios.fast_halt.latency.ready.P95",
     "unknown key (did you mean 'p95'?)"),
    ("[scenarios.fast_halt.latency.ready]\n", "scenarios.fast_halt.latency.ready",
     "expected at least one of p50, p90, p95, p99, max"),
    ("[scenarios.fast_halt]\nmax_eror_rate = 0\n", "scenarios.fast_halt.max_eror_rate",
     "did you mean 'max_error_rate'?"),
    ("[scenarios.fast_halt]\nlatency = 5\n", "scenarios.fast_halt.latency", "expected a table, got 5"),
    ("scenarios = 3\n", "scenarios", "expected a table, got 3"),
    ("[scenarios.fast_halt.latency]\nready = 100\n", "scenarios.fast_halt.latency.ready", "expected a table"),
    ("[defualts]\n", "defualts", "did you mean 'defaults'?"),
    ("[defaults.latency.ready]\np95 = 1\n", "defaults.latency", "latency limits are per scenario"),
    ("[server]\nunhandled_error = 0\n", "server.unhandled_error", "did you mean 'unhandled_errors'?"),
    ("[server]\nunhandled_errors = -1\n", "server.unhandled_errors", "expected a whole number >= 0, got -1"),
    ("[server]\nunhandled_errors = 0.5\n", "server.unhandled_errors", "expected a whole number >= 0"),
]


@pytest.mark.parametrize(("text", "key", "expected"), BAD)
def test_bad_file_names_file_key_and_expectation(
    write: Callable[[str, str], Path], text: str, key: str, expected: str
) -> None:
    """Each bad value or unknown key gives one ConfigError naming the file, the key and the fix."""
    path = write("bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        parse_thresholds(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert expected in message
    assert caught.value.key == key
    assert isinstance(caught.value, UsageError)


def test_syntax_error_names_line(write: Callable[[str, str], Path]) -> None:
    """A TOML syntax error names the file, line and column."""
    path = write("bad.toml", "[defaults]\nmax_error_rate = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml: line 2, column 18: invalid TOML"):
        parse_thresholds(path)


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is a ConfigError naming it, not a traceback."""
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        parse_thresholds(tmp_path / "nope.toml")


def test_step_names_with_dots_are_quoted_in_keys(write: Callable[[str, str], Path]) -> None:
    """A step name that is not a bare TOML key shows quoted in the dotted path."""
    path = write("bad.toml", '[scenarios.s.latency."a.b"]\np95 = 0\n')
    with pytest.raises(ConfigError, match=r'scenarios\.s\.latency\."a\.b"\.p95: expected'):
        parse_thresholds(path)

"""The schedule file and its stage maths: a pure function of elapsed time, tested with tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loadgen.judge.config_errors import ConfigError
from loadgen.judge.schedule import (
    DRAIN_RATE,
    Schedule,
    Stage,
    Tick,
    check_scenarios,
    next_tick,
    parse_schedule,
    schedule_from_dict,
    stage_at,
    total_duration,
)

FOUR = {"rapid_connect", "send_after_close", "fast_halt", "steady"}
SHIPPED = FOUR | {"pressure", "isolation"}
"""The scenarios the shipped schedules run (isolation joins their fast-halt stage)."""

A = Stage("warm-up", ("steady",), 10, 10.0, 5.0)
B = Stage("storm", ("rapid_connect",), 40, 20.0, 10.0)
C = Stage("mixed", ("fast_halt", "steady"), 30, 15.0, 2.5)
THREE = Schedule((A, B, C), "s.toml")

GOOD = """
[[stage]]
name = "warm-up"
scenarios = ["steady"]
users = 10
spawn_rate = 10
duration = 5

[[stage]]
name = "storm"
scenarios = ["rapid_connect"]
users = 40
spawn_rate = 20.0
duration = 10

[[stage]]
name = "mixed"
scenarios = ["fast_halt", "steady"]
users = 30
spawn_rate = 15
duration = 2.5
"""

REPO = Path(__file__).resolve().parents[2]


def test_good_file_parses(write: Callable[[str, str], Path]) -> None:
    """Stages parse in order, with numbers as floats and scenario lists as tuples."""
    schedule = parse_schedule(write("s.toml", GOOD))
    assert schedule.stages == THREE.stages
    assert schedule.total_duration == 17.5
    assert schedule.scenarios == ("steady", "rapid_connect", "fast_halt")


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (0.0, (0, A)),
        (4.999, (0, A)),
        (5.0, (1, B)),  # a boundary belongs to the next stage
        (14.9, (1, B)),
        (15.0, (2, C)),
        (17.4999, (2, C)),
        (17.5, None),  # after the last stage: stop
        (1e9, None),
    ],
)
def test_stage_at(elapsed: float, expected: tuple[int, Stage] | None) -> None:
    """stage_at maps elapsed seconds to the stage in force, None after the last one."""
    assert stage_at(THREE, elapsed) == expected


@pytest.mark.parametrize("elapsed", [-0.1, float("nan")])
def test_stage_at_rejects_bad_time(elapsed: float) -> None:
    """A negative or NaN elapsed time is a programming error, not a stage."""
    with pytest.raises(ValueError, match="elapsed"):
        stage_at(THREE, elapsed)


def test_total_duration_is_exact_for_many_small_stages() -> None:
    """Summing many fractional durations does not drift (math.fsum)."""
    stages = tuple(Stage(f"s{i}", ("steady",), 1, 1.0, 0.1) for i in range(10))
    assert total_duration(Schedule(stages)) == 1.0


def test_check_scenarios_accepts_available() -> None:
    """A schedule whose scenarios all exist passes the load-time check."""
    check_scenarios(THREE, FOUR)


def test_check_scenarios_names_the_unknown_one() -> None:
    """A stage naming a scenario that does not exist is a ConfigError with a did-you-mean."""
    schedule = Schedule((Stage("x", ("steady", "fast_hlt"), 1, 1.0, 1.0),), "s.toml")
    with pytest.raises(ConfigError) as caught:
        check_scenarios(schedule, FOUR)
    message = str(caught.value)
    assert message.startswith("s.toml: stage[0].scenarios[1]: no scenario named 'fast_hlt'")
    assert "did you mean 'fast_halt'?" in message


@pytest.mark.parametrize("name", ["schedule-quick.toml", "schedule-full.toml"])
def test_shipped_schedules(name: str) -> None:
    """The shipped schedules parse, use every shipped scenario and stay within the machine's means."""
    schedule = parse_schedule(REPO / "scenarios" / name)
    check_scenarios(schedule, SHIPPED)
    assert set(schedule.scenarios) == SHIPPED
    assert max(stage.users for stage in schedule.stages) <= 200
    if name == "schedule-quick.toml":
        assert schedule.total_duration < 60
        assert all(10 <= stage.users <= 40 for stage in schedule.stages)
    else:
        assert 120 <= schedule.total_duration <= 600


STAGE = 'name = "a"\nscenarios = ["steady"]\nusers = 1\nspawn_rate = 1\nduration = 1\n'

BAD = [
    # (file text, key named, expectation named)
    ("", "stage", "missing; a schedule needs at least one [[stage]] table"),
    ("stage = []\n", "stage", "expected at least one [[stage]] table, got a list"),
    ("stage = 3\n", "stage", "expected at least one [[stage]] table, got 3"),
    ("stages = []\n", "stages", "did you mean 'stage'?"),
    ("[[stage]]\n" + STAGE.replace("users = 1", "users = 0"), "stage[0].users", "expected a whole number > 0, got 0"),
    ("[[stage]]\n" + STAGE.replace("users = 1", "users = 2.5"), "stage[0].users", "expected a whole number > 0"),
    ("[[stage]]\n" + STAGE.replace("users = 1", 'users = "ten"'), "stage[0].users", 'got "ten"'),
    ("[[stage]]\n" + STAGE.replace("spawn_rate = 1", "spawn_rate = 0"), "stage[0].spawn_rate",
     "expected a number > 0, got 0"),
    ("[[stage]]\n" + STAGE.replace("duration = 1", "duration = -5"), "stage[0].duration",
     "expected a number > 0, got -5"),
    ("[[stage]]\n" + STAGE.replace("duration = 1", "duration = inf"), "stage[0].duration", "got inf"),
    ("[[stage]]\n" + STAGE.replace("duration = 1\n", ""), "stage[0].duration", "missing"),
    ("[[stage]]\n" + STAGE.replace("duration", "durations"), "stage[0].durations", "did you mean 'duration'?"),
    ("[[stage]]\n" + STAGE.replace('["steady"]', "[]"), "stage[0].scenarios",
     "expected a non-empty list of scenario names"),
    ("[[stage]]\n" + STAGE.replace('["steady"]', '"steady"'), "stage[0].scenarios",
     'expected a non-empty list of scenario names, got "steady"'),
    ("[[stage]]\n" + STAGE.replace('["steady"]', '["steady", 3]'), "stage[0].scenarios[1]",
     "expected a scenario name (string), got 3"),
    ("[[stage]]\n" + STAGE.replace('["steady"]', '["steady", "steady"]'), "stage[0].scenarios[1]",
     "'steady' is listed twice"),
    ("[[stage]]\n" + STAGE.replace('"a"', '""'), "stage[0].name", 'expected a non-empty string, got ""'),
    ("[[stage]]\n" + STAGE + "[[stage]]\n" + STAGE, "stage[1].name", "expected a unique stage name"),
]


@pytest.mark.parametrize(("text", "key", "expected"), BAD)
def test_bad_file_names_file_key_and_expectation(
    write: Callable[[str, str], Path], text: str, key: str, expected: str
) -> None:
    """Each bad schedule gives one ConfigError naming the file, the key and what is expected."""
    path = write("bad.toml", text)
    with pytest.raises(ConfigError) as caught:
        parse_schedule(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert expected in message


def test_syntax_error_names_line(write: Callable[[str, str], Path]) -> None:
    """A TOML syntax error in a schedule names the file and line."""
    path = write("bad.toml", '[[stage]]\nname = "a\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: line 2, column \d+: invalid TOML"):
        parse_schedule(path)


def test_schedule_from_dict_matches_file() -> None:
    """The data-level entry point gives the same schedule as the file one."""
    data = {"stage": [{"name": s.name, "scenarios": list(s.scenarios), "users": s.users,
                       "spawn_rate": s.spawn_rate, "duration": s.duration} for s in THREE.stages]}
    assert schedule_from_dict(data, "s.toml") == THREE


NEXT_TICK_SCHEDULE = Schedule(
    (
        Stage("one", ("a",), 4, 4.0, 10),
        Stage("more", ("a",), 8, 4.0, 10),
        Stage("both", ("a", "b"), 6, 6.0, 10),
    )
)


@pytest.mark.parametrize(
    ("elapsed", "running", "expected"),
    [
        (0, (), Tick(4, 4.0, ("a",), 0)),
        (10, ("a",), Tick(8, 4.0, ("a",), 1)),
        (20, ("a",), Tick(0, DRAIN_RATE, ("a", "b"), 2, draining=True)),
        (21, (), Tick(6, 6.0, ("a", "b"), 2)),
        (25, ("b", "a"), Tick(6, 6.0, ("a", "b"), 2)),
        (30, ("a", "b"), None),
    ],
)
def test_next_tick_drains_only_when_the_scenarios_change(
    elapsed: float, running: tuple[str, ...], expected: Tick | None
) -> None:
    """Same scenarios resize in place; a different set first asks for zero users; after the end, stop."""
    assert next_tick(NEXT_TICK_SCHEDULE, elapsed, running) == expected

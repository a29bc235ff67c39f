"""End to end across target workers: real headless Locust (``wsrace run``) against the bundled target
with ``--target-workers 2 --target-broker`` and a real redis-server. The correct target passes; each
bus fault fails the scenarios that subscribe from a user's second connection, with the kind its
docstring names. Each run is bounded in time; the redis-server and every process are stopped after.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.redis import MISSING, Redis, running_redis
from tests.support.wsrace_cli import run_wsrace

HERE = Path(__file__).resolve().parent
SCHEDULE = HERE / "broker_races.toml"
RUN_TIMEOUT_S = 150

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(RUN_TIMEOUT_S + 30)]


@pytest.fixture
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    """A redis-server of the test's own (a short directory: a unix socket path has ~107 bytes)."""
    if MISSING is not None:
        pytest.skip(MISSING)
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


def _run(redis: Redis, cwd: Path, *fault: str):
    return run_wsrace("run", "--target-workers", "2", "--target-broker", redis.url, *fault,
                      "--schedule", str(SCHEDULE), "--results", "r.json", timeout=RUN_TIMEOUT_S, cwd=cwd)


def _explain(finished) -> str:
    return f"exit {finished.returncode}; output tail:\n{finished.output[-5000:]}"


def test_the_correct_target_passes_across_two_workers_and_a_broker(redis: Redis, tmp_path: Path) -> None:
    """Every check green, every scheduled scenario ran iterations and failed none."""
    finished = _run(redis, tmp_path)
    assert finished.returncode == 0, _explain(finished)
    doc = finished.results()
    assert doc["passed"] is True
    for name in ("fast_halt", "pressure"):
        entry = doc["scenarios"][name]
        assert entry["iterations"] > 0 and entry["failures"] == 0, (name, entry)


@pytest.mark.parametrize(("fault", "kinds"), [
    ("bus-write-behind", {"bad_reply"}),           # not_found for the user's own job
    ("bus-check-then-subscribe", {"missed_event"}),
])
def test_each_bus_fault_fails_a_scenario_with_its_kind(redis: Redis, tmp_path: Path, fault: str,
                                                       kinds: set[str]) -> None:
    finished = _run(redis, tmp_path, "--fault", fault)
    assert finished.returncode == 1, _explain(finished)
    doc = finished.results()
    assert doc["passed"] is False
    found = {kind for entry in doc["scenarios"].values() for kind in entry["failures_by_kind"]}
    assert found & kinds, f"{fault}: expected one of {kinds}, found {found}\n{_explain(finished)}"

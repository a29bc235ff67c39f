"""The parallel test run's groups (tests/conftest.py) cover every module that needs one."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import LOCUST_PROCESSES_MODULES, TESTS, xdist_group_of

PROCESSES_FLAG = re.compile(r"""["']--processes["']|\bquick_run\b""")


def test_every_module_that_runs_locust_with_processes_is_in_the_port_5557_group() -> None:
    """A module passing ``--processes`` to Locust, or using the shared ``quick_run`` (made with
    ``--processes 2``), must be in one group: two such masters at once would both bind port 5557.
    The list is read from the sources, so a new module cannot slip by."""
    found = {path.relative_to(TESTS).as_posix() for path in TESTS.rglob("*.py")
             if path.name.startswith("test_") and path != Path(__file__)
             and PROCESSES_FLAG.search(path.read_text())}
    assert found, "no test module runs --processes: the scan itself is broken"
    assert found <= LOCUST_PROCESSES_MODULES, sorted(found - LOCUST_PROCESSES_MODULES)
    assert {xdist_group_of(TESTS / module) for module in found} == {"locust-processes-port-5557"}


def test_other_modules_are_their_own_group_and_ci_shares_one() -> None:
    assert xdist_group_of(TESTS / "judge" / "test_schedule.py") == "judge/test_schedule.py"
    assert xdist_group_of(TESTS / "ci" / "test_workflow.py") == xdist_group_of(TESTS / "ci" / "test_exit_codes.py")

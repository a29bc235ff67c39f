"""The parallel test run's groups (tests/conftest.py) cover every module that needs one."""

from __future__ import annotations

import re
import subprocess
import sys
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


PROOF_MODULES = ("tests/judge/test_thresholds.py", "tests/protocol/test_closecodes.py")
RESULT_LINE = re.compile(r"^\[(gw\d+)\] \[ *\d+%\] PASSED (\S+?)::")


def test_a_real_parallel_run_keeps_each_group_on_one_worker() -> None:
    """A child ``pytest -n 2 --dist loadgroup`` over two modules runs every test of each module on
    one worker. (pytest-xdist's grouping once stopped working, silently, on a new pytest: this
    fails instead.) The number of tests is read from the child's own collection."""
    root = TESTS.parent
    base = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-o", "addopts=", *PROOF_MODULES]
    collected = subprocess.run([*base, "--collect-only", "-q"], cwd=root, capture_output=True, text=True,
                               timeout=60, check=False).stdout
    expected = sum(line.startswith(PROOF_MODULES) for line in collected.splitlines())
    done = subprocess.run([*base, "-n", "2", "--dist", "loadgroup", "-v"], cwd=root, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    ran = [match.groups() for match in map(RESULT_LINE.match, done.stdout.splitlines()) if match]
    assert len(ran) == expected > 0, done.stdout[-3000:]
    workers_of = {module: {worker for worker, path in ran if path == module} for module in PROOF_MODULES}
    assert all(len(workers) == 1 for workers in workers_of.values()), workers_of

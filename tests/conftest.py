"""Test-suite wide collection rules.

``tests/in_locust/`` holds unit tests that need Locust imported in-process. Importing Locust
monkey-patches the whole interpreter with gevent, so those tests never run in the main pytest
process (it would patch every other test's sockets too): ``tests/loadgen/test_in_locust.py`` runs
them in a child pytest, patched first, the way Locust itself runs.

``make test`` runs the suite on every core with pytest-xdist (``--dist loadgroup``). Each test is
put in a group that one xdist worker runs in order:

- by default its module, so a module's fixtures (a target, a child suite, a real run that several
  tests read) are made once;
- ``tests/ci/``: one group, because its session fixtures (the workflow's quick run...) are shared by
  all its modules;
- the modules that run Locust with ``--processes``, or use the shared ``quick_run`` fixture (a
  ``--processes 2`` run made once per session): one group, because Locust's ``--processes`` master
  always binds port 5557 (its workers are forked before it binds, so the port cannot come from the
  OS), two such runs at once would collide, and the shared run is then made once.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

IN_LOCUST_ENV = "WSRACE_IN_LOCUST_CHILD"

pytest_plugins = ["tests.support.quick_run"]  # the session's one quick-profile run, shared by e2e and browser tests

collect_ignore = [] if os.environ.get(IN_LOCUST_ENV) else ["in_locust"]

TESTS = Path(__file__).resolve().parent
LOCUST_PROCESSES_MODULES = frozenset({
    "e2e/test_signals_e2e.py", "e2e/test_deaths_e2e.py", "e2e/test_scenarios_e2e.py",
    "e2e/test_report_e2e.py", "browser/test_report.py",
})
"""Modules that start ``locust --processes N`` or use ``quick_run`` (tests/architecture checks it)."""


def xdist_group_of(path: Path) -> str:
    relative = path.resolve().relative_to(TESTS).as_posix()
    if relative in LOCUST_PROCESSES_MODULES:
        return "locust-processes-port-5557"
    if relative.startswith("ci/"):
        return "ci-shared-runs"
    return relative


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the marker into each test's group
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.xdist_group(xdist_group_of(item.path)))

"""Test-suite wide collection rules.

``tests/in_locust/`` holds unit tests that need Locust imported in-process. Importing Locust
monkey-patches the whole interpreter with gevent, so those tests never run in the main pytest
process (it would patch every other test's sockets too): ``tests/loadgen/test_in_locust.py`` runs
them in a child pytest, patched first, the way Locust itself runs.
"""

from __future__ import annotations

import os

IN_LOCUST_ENV = "WSRACE_IN_LOCUST_CHILD"

pytest_plugins = ["tests.support.quick_run"]  # the session's one quick-profile run, shared by e2e and browser tests

collect_ignore = [] if os.environ.get(IN_LOCUST_ENV) else ["in_locust"]

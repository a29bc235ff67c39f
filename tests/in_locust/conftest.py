"""Runs only in the child pytest started by tests/loadgen/test_in_locust.py: patch first, as Locust does.

Each test's outcome is also written, by node id, to the JSON file named by ``WSRACE_IN_LOCUST_REPORT``
(collected node ids on ``--collect-only``), so that the parent reports every child test as its own.
"""

from gevent import monkey

monkey.patch_all()

# isort: split
import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

REPORT_ENV = "WSRACE_IN_LOCUST_REPORT"
_report: dict[str, Any] = {"collected": [], "results": {}}


def _write() -> None:
    path = os.environ.get(REPORT_ENV)
    if path:
        Path(path).write_text(json.dumps(_report), encoding="utf-8")


def pytest_collection_finish(session: pytest.Session) -> None:
    _report["collected"] = [item.nodeid for item in session.items]
    _write()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One result per test: the first phase that did not pass decides (setup, call, teardown)."""
    result = _report["results"].setdefault(report.nodeid, {"outcome": "passed", "detail": ""})
    if result["outcome"] == "passed" and not report.passed:
        if report.skipped:
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            result.update(outcome="skipped", detail=reason)
        else:
            result.update(outcome="failed", detail=f"{report.when}: {report.longreprtext}")
    _write()

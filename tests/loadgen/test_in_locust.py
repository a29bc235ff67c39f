"""Runs tests/in_locust/ in a child pytest: Locust in-process, gevent-patched first, as Locust runs.

Importing Locust monkey-patches the whole interpreter, so those tests never run in this process.
The child collects the in-Locust test files itself (``--collect-only``, at this module's
collection), and runs them once; each child test is reported here as a test of its own, named by
its node id, with the child's failure text. No list of tests is kept by hand.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from loadgen.children import Child

ROOT = Path(__file__).resolve().parents[2]
SUITE = "tests/in_locust"
CHILD_ENV = "WSRACE_IN_LOCUST_CHILD"  # tests/conftest.py collects tests/in_locust only with it
REPORT_ENV = "WSRACE_IN_LOCUST_REPORT"  # tests/in_locust/conftest.py writes outcomes there
COLLECT_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 170.0
NOT_COLLECTED = "<the child collected nothing>"


def child_pytest(report: Path, *args: str, timeout: float) -> tuple[dict[str, Any], str]:
    """Run ``pytest tests/in_locust ARGS`` in a child; its JSON report and its output."""
    cmd = [sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", *args]
    env = {CHILD_ENV: "1", REPORT_ENV: str(report)}
    with Child.start(cmd, name="in-Locust pytest", env=env, cwd=ROOT, output="log") as child:
        code = child.wait(time.monotonic() + timeout)
        output = child.log_text()
    if code is None:
        raise AssertionError(f"the child pytest did not finish within {timeout:g} s:\n{output[-6000:]}")
    doc = json.loads(report.read_text()) if report.exists() else {"collected": [], "results": {}}
    return doc, output


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test here per test the child collects."""
    if "in_locust_test" not in metafunc.fixturenames:
        return
    with tempfile.TemporaryDirectory(prefix="wsrace-in-locust-") as workdir:
        doc, _ = child_pytest(Path(workdir) / "report.json", "--collect-only", timeout=COLLECT_TIMEOUT_S)
    collected = doc["collected"] or [NOT_COLLECTED]
    metafunc.parametrize("in_locust_test", collected, ids=collected)


@pytest.fixture(scope="module")
def child_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """The whole in-Locust suite, run once in a child, for every test here to read its result."""
    return child_pytest(tmp_path_factory.mktemp("in-locust-run") / "report.json", timeout=RUN_TIMEOUT_S)


@pytest.mark.timeout(RUN_TIMEOUT_S + COLLECT_TIMEOUT_S)
def test_in_locust(in_locust_test: str, child_run: tuple[dict[str, Any], str]) -> None:
    """The child test of this name passed in its own monkey-patched interpreter."""
    doc, output = child_run
    assert in_locust_test != NOT_COLLECTED, f"the child pytest collected no test in {SUITE}:\n{output[-6000:]}"
    result = doc["results"].get(in_locust_test)
    assert result is not None, f"{in_locust_test} did not run in the child:\n{output[-6000:]}"
    if result["outcome"] == "skipped":
        pytest.skip(result["detail"])
    assert result["outcome"] == "passed", result["detail"]

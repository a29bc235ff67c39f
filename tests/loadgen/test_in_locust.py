"""Runs tests/in_locust/ in a child pytest: Locust in-process, gevent-patched first, as Locust runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_in_locust_suite_passes() -> None:
    """Every test of tests/in_locust passes in its own monkey-patched interpreter."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/in_locust", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env={**os.environ, "WSRACE_IN_LOCUST_CHILD": "1"},
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in done.stdout

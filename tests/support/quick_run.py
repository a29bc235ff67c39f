"""One quick-profile run for the whole test session, with its HTML report: a pytest plugin.

The quick profile takes about a minute of CI's time; the e2e test of its verdict, the e2e test of
its plot and report, and the browser test of that report all read the same run (registered in
tests/conftest.py, so every directory shares the one session-scoped fixture).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.wsrace_cli import Finished, run_wsrace

__all__ = ["QUICK_RUN_TIMEOUT_S", "QuickRun", "quick_run"]

QUICK_RUN_TIMEOUT_S = 150
"""The run's own bound; a test that may be the first to ask for it needs a timeout above this."""


@dataclass(frozen=True)
class QuickRun:
    finished: Finished
    folder: Path
    results: Path
    junit: Path
    html: Path
    png: Path


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> QuickRun:
    """``wsrace run --profile quick --processes 2`` against the bundled target, with --junit and --html."""
    folder = tmp_path_factory.mktemp("quick-run")
    finished = run_wsrace(
        "run", "--profile", "quick", "--processes", "2", "--results", "r.json", "--junit", "r.xml",
        "--html", "report.html", timeout=QUICK_RUN_TIMEOUT_S, cwd=folder,
    )
    return QuickRun(finished, folder, folder / "r.json", folder / "r.xml", folder / "report.html", folder / "r.png")

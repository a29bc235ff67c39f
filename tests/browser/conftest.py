"""A real, headless Chromium for the browser tests: Debian's, driven by Playwright, never a download.

``.ci/install-system-deps`` (run by ``make test``) installs Debian's ``chromium`` where it can; where
there is none, every browser test skips with that reason. ``WSRACE_CHROMIUM`` points at another
binary. Screenshots go to ``test-artifacts/browser/`` (``WSRACE_ARTIFACTS`` moves the root) so a
CI job can keep them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("WSRACE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
"""Without the background-networking flags Chromium keeps dialling Google's hosts, which this
machine's closed network refuses."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The browser, for one module at a time: Playwright's sync API keeps an asyncio loop running
    in this thread while it is open, and every later ``asyncio.run`` in the same process (the
    target's tests) would fail with "cannot be called from a running event loop"."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM}: .ci/install-system-deps could not install Debian's "
                    "chromium here (set WSRACE_CHROMIUM to another binary)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context; every wait on it has a deadline (10 s unless a test says)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go, kept after the run."""
    root = Path(os.environ.get("WSRACE_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
    path = root / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path

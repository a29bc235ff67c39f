"""The browser tests run Debian's Chromium, headless, through Playwright."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM

pytestmark = pytest.mark.timeout(60)


def test_a_closed_playwright_leaves_no_running_event_loop_behind() -> None:
    """Why ``browser`` is per module: while Playwright's sync API is open, this thread has a
    running asyncio loop (``asyncio.run`` refuses); once closed, ``asyncio.run`` works again. (First
    in this module: no browser of the module's fixture is open yet.)"""
    sync_api = pytest.importorskip("playwright.sync_api")
    pending = asyncio.sleep(0)
    with sync_api.sync_playwright(), pytest.raises(RuntimeError, match="running event loop"):
        asyncio.run(pending)
    pending.close()  # refused, never started
    asyncio.run(asyncio.sleep(0))


def test_the_browser_is_the_system_chromium_and_renders_a_page(browser: Any, page: Any, artifacts: Path) -> None:
    """A page set in the real browser is laid out and screenshot; the binary is the configured one."""
    page.set_content("<main><h1 id='t'>wsrace</h1><p>rendered</p></main>")
    assert page.inner_text("#t") == "wsrace"
    assert page.locator("h1").bounding_box()["height"] > 0  # laid out, not only parsed
    shot = artifacts / "harness.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    assert browser.version and Path(CHROMIUM).exists()

"""The browser tests run Debian's Chromium, headless, through Playwright."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM

pytestmark = pytest.mark.timeout(60)


def test_the_browser_is_the_system_chromium_and_renders_a_page(browser: Any, page: Any, artifacts: Path) -> None:
    """A page set in the real browser is laid out and screenshot; the binary is the configured one."""
    page.set_content("<main><h1 id='t'>wsrace</h1><p>rendered</p></main>")
    assert page.inner_text("#t") == "wsrace"
    assert page.locator("h1").bounding_box()["height"] > 0  # laid out, not only parsed
    shot = artifacts / "harness.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 0
    assert browser.version and Path(CHROMIUM).exists()

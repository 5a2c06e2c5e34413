"""Browser tests: Debian's headless Chromium driven by Playwright (async, so the instances
under test keep running on the same event loop), axe-core for accessibility, screenshots.

Chromium is the system's (/usr/bin/chromium, installed by scripts/test-deps): Playwright's
own browser download is never used. Helpers are in tests/browser_support.py; screenshots go
to tests/artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from browser_support import CHROMIUM, CHROMIUM_FLAGS
from playwright.async_api import Browser, Page, async_playwright


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def new_page(browser: Browser) -> AsyncIterator[Any]:
    """`page = await new_page("en")`: a fresh browser context (own cookies) per call."""
    contexts = []

    async def make(locale: str = "en") -> Page:
        context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()

"""Browser tests: Debian's headless Chromium driven by Playwright (async, so the instances
under test keep running on the same event loop), axe-core for accessibility, screenshots.

Chromium is the system's (/usr/bin/chromium, installed by scripts/test-deps): Playwright's
own browser download is never used. Screenshots go to tests/artifacts/screenshots/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from harness import PASSWORD, Instance
from playwright.async_api import Browser, Page, async_playwright, expect

TESTS = Path(__file__).resolve().parent.parent
AXE_SCRIPT = TESTS / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = TESTS / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# axe-core rule sets for WCAG 2.1 A and AA.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


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


async def check_accessibility(page: Page, name: str) -> None:
    """axe-core on the page as it is now: no serious or critical WCAG 2.1 AA violations.
    Saves a screenshot of the page as well."""
    await page.add_script_tag(path=str(AXE_SCRIPT))
    result = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_TAGS,
    )
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    await screenshot(page, name)
    assert not bad, f"{name}: accessibility violations on {page.url}:\n" + "\n".join(bad)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    await page.screenshot(path=str(SCREENSHOTS / f"{safe}.png"), full_page=True)


async def sign_in(page: Page, instance: Instance, name: str, password: str = PASSWORD) -> None:
    await page.goto(instance.url("/login"))
    await page.get_by_label("User name").fill(name)
    await page.get_by_label(re.compile(r"^Password")).fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()

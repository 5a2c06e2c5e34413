"""Helpers for the browser tests (tests/browser/): axe-core checks, screenshots, signing in.

A module of its own rather than the browser folder's conftest.py, so that test files import
it by a name no other folder's conftest shadows.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from harness import PASSWORD, Instance
from playwright.async_api import Page, expect

TESTS = Path(__file__).resolve().parent
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

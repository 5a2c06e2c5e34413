"""Signing up and in with a real browser: labelled errors, language switch, accessibility."""

from __future__ import annotations

import re
from typing import Any

from browser_support import check_accessibility, sign_in
from harness import PASSWORD, Instance
from playwright.async_api import expect


async def test_sign_up_with_errors_then_success(start_instance: Any, new_page: Any) -> None:
    instance: Instance = await start_instance("a", FEDERATIE_REGISTRATION="open")
    page = await new_page("en")
    await page.goto(instance.url("/"))
    await check_accessibility(page, "landing")
    await page.get_by_role("link", name="Create an account").first.click()
    await check_accessibility(page, "sign-up")

    await page.get_by_label("User name").fill("anna de vries")
    await page.get_by_label(re.compile(r"^Password")).fill("short")
    await page.get_by_label("Repeat the password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    # The error is shown next to the control and is tied to it (aria-describedby).
    name_field = page.get_by_label("User name")
    await expect(name_field).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_role("alert")).to_contain_text("letters, digits or underscores")
    described = await name_field.get_attribute("aria-describedby")
    assert described and "username-error" in described
    await check_accessibility(page, "sign-up-errors")

    await name_field.fill("anna")
    await page.get_by_label(re.compile(r"^Password")).fill(PASSWORD)
    await page.get_by_label("Repeat the password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("status")).to_have_text("You are signed out.")

    await page.goto(instance.url("/login"))
    await page.get_by_label("User name").fill("anna")
    await page.get_by_label(re.compile(r"^Password")).fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password.")
    await check_accessibility(page, "sign-in-error")
    await sign_in(page, instance, "anna")


async def test_language_switch_and_keyboard_only_sign_in(
    instance: Instance, new_page: Any
) -> None:
    await instance.runtime.actors.create_person("bert", PASSWORD)
    page = await new_page("nl-NL")
    await page.goto(instance.url("/login"))
    await expect(page.locator("html")).to_have_attribute("lang", "nl")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Aanmelden")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    # Keyboard only: the skip link comes first, then the form is reachable by Tab.
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Skip to content"
    await page.keyboard.press("Enter")
    for _ in range(20):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "username":
            break
    else:
        raise AssertionError("the user name field cannot be reached by keyboard")
    await page.keyboard.type("bert")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()

"""An app's log-in in a real browser: signed out, the consent page goes through sign-in and
back; Allow shows the out-of-band code; both pages pass the accessibility check, in Dutch."""

from __future__ import annotations

import re
from typing import Any

from browser_support import check_accessibility
from harness import PASSWORD, Instance, people
from mastodon_support import OOB, authorize_path, call, register_app
from playwright.async_api import expect


async def test_consent_through_sign_in_to_the_code(start_instance: Any, new_page: Any) -> None:
    instance: Instance = await start_instance("a")
    await people(instance, "anna")
    app = await register_app(instance, "read write", redirect_uri=OOB)
    page = await new_page("nl")
    await page.goto(instance.url(authorize_path(app, scopes="read write")))
    await page.get_by_label("Gebruikersnaam").fill("anna")
    await page.get_by_label(re.compile(r"^Wachtwoord")).fill(PASSWORD)
    await page.get_by_role("button", name="Aanmelden").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Test app toestaan?")
    await expect(page.get_by_role("main").get_by_role("listitem").first).to_contain_text("lezen")
    await check_accessibility(page, "oauth-consent")
    await page.get_by_role("button", name="Toestaan").click()
    code = page.get_by_label("Autorisatiecode")
    await expect(code).to_be_visible()
    await check_accessibility(page, "oauth-code")
    got = await call(
        instance,
        "POST",
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": await code.input_value(),
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": OOB,
        },
    )
    assert got.status == 200 and got.body["scope"] == "read write", got.body

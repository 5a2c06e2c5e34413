"""An administrator's walk through the administration pages in a real browser: switching the
instance to allowlist mode (after which a real instance that is not listed cannot follow
anyone here), approving a sign-up; every page checked with axe-core."""

from __future__ import annotations

import re
from typing import Any

from browser_support import check_accessibility, sign_in
from harness import PASSWORD, follow_state, people, settle, value
from playwright.async_api import expect


async def test_admin_switches_to_allowlist_and_approves_a_sign_up(
    start_instance: Any, new_page: Any
) -> None:
    a = await start_instance("a", FEDERATIE_REGISTRATION="approval")
    b = await start_instance("b")
    await a.runtime.actors.create_person("beheer", PASSWORD, admin=True)
    await people(a, "alice")
    await people(b, "bob")
    await a.runtime.people.sign_up("piet", PASSWORD, "Piet Peters")
    alice, bob = a.url("/users/alice"), b.url("/users/bob")
    await b.runtime.remote.get(alice)  # B knew Alice before A closed its doors

    page = await new_page("en")
    await sign_in(page, a, "beheer")
    await page.get_by_role("link", name="Administration").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Administration")
    await expect(page.get_by_text(re.compile(r"Federatie \d"))).to_be_visible()
    await check_accessibility(page, "admin-dashboard")

    await page.get_by_role("link", name="Federation", exact=True).click()
    await check_accessibility(page, "admin-federation")
    await page.get_by_label("Federation mode").select_option("allowlist")
    await page.get_by_role("button", name="Save mode").click()
    await expect(page.get_by_role("status")).to_have_text("The federation mode was saved.")
    domain = page.get_by_label(re.compile(r"^Domain"))
    await domain.fill("not a domain/")
    await page.get_by_role("button", name="Add instance").click()
    await expect(page.get_by_role("alert")).to_contain_text("Enter a host name")
    await expect(page.get_by_label(re.compile(r"^Domain"))).to_have_attribute(
        "aria-invalid", "true"
    )
    await check_accessibility(page, "admin-federation-error")
    await page.get_by_label(re.compile(r"^Domain")).fill("partner.example")
    await page.get_by_role("button", name="Add instance").click()
    await expect(page.get_by_role("status")).to_have_text("partner.example was added.")
    await expect(page.get_by_role("cell", name="partner.example", exact=True)).to_be_visible()
    await expect(page.get_by_label("Federation mode")).to_have_value("allowlist")
    await check_accessibility(page, "admin-federation-allowlist")

    # B is not on the list: its Follow is refused at A's inbox and never processed.
    await b.publish("bob", {"type": "Follow", "object": alice})
    await settle(a, b)
    assert await follow_state(a, bob, alice) is None
    assert await follow_state(b, bob, alice) == "pending"
    assert await value(a, "SELECT count(*) FROM inbox_activities WHERE actor_uri = $1", bob) == 0

    await page.get_by_role("link", name="Accounts").click()
    await page.get_by_label("Show").select_option("pending")
    await page.get_by_role("button", name="Show accounts").click()
    await expect(page.get_by_role("cell", name=re.compile("Piet Peters"))).to_be_visible()
    await check_accessibility(page, "admin-accounts-pending")
    await page.get_by_role("button", name="Approve piet").click()
    await expect(page.get_by_role("status")).to_have_text("piet can now sign in.")
    await check_accessibility(page, "admin-accounts")

    await page.get_by_role("link", name="Reports").click()
    await expect(page.get_by_text("No open reports.")).to_be_visible()
    await check_accessibility(page, "admin-reports")
    await page.get_by_role("link", name="Instance settings").click()
    await page.get_by_label(re.compile(r"^Name of this instance")).fill("")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_role("alert")).to_contain_text("Enter between 1 and 100 characters.")
    await check_accessibility(page, "admin-settings-error")

    newcomer = await new_page("en")
    await sign_in(newcomer, a, "piet")

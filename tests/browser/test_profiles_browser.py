"""A person's own pages in a real browser: the home timeline showing a post from a group on
another instance, editing the profile (a labelled error, then a photo and the fields), the
profile page and the people directory; every page checked with axe-core."""

from __future__ import annotations

import io
import re
from typing import Any

from browser_support import check_accessibility, sign_in
from harness import people, settle
from PIL import Image
from playwright.async_api import expect

from federatie.activitypub.iris import AS_PUBLIC


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (21, 66, 115)).save(out, "PNG")
    return out.getvalue()


async def test_home_timeline_and_profile_edit(start_instance: Any, new_page: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice")
    await people(b, "bob")
    await b.runtime.actors.create_group("water", owner="bob", title="Waterbeheer")
    group = b.url("/groups/water")
    await a.publish("alice", {"type": "Follow", "object": group})
    await b.publish("bob", {"type": "Follow", "object": group})
    await settle(a, b)
    post = {
        "type": "Note",
        "content": "<p>Het peil in de IJssel stijgt.</p>",
        "to": [AS_PUBLIC],
        "cc": [group],
        "audience": group,
    }
    await b.publish("bob", post)
    await settle(a, b)

    page = await new_page("en")
    await sign_in(page, a, "alice")
    await page.goto(a.url("/home"))
    item = page.get_by_role("article").filter(has_text="Het peil in de IJssel stijgt.")
    await expect(item).to_be_visible()
    await expect(item.get_by_role("heading", level=2)).to_have_text("Message by bob in Waterbeheer")
    await expect(item.get_by_role("link", name="Waterbeheer")).to_have_attribute(
        "href", re.compile(r"^/remote\?uri=")
    )
    await check_accessibility(page, "home-timeline")

    await page.get_by_role("link", name="My profile").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("alice")
    await expect(page.get_by_role("link", name="Waterbeheer")).to_be_visible()
    await check_accessibility(page, "profile-empty")
    await page.get_by_role("link", name="Edit profile").click()
    await check_accessibility(page, "profile-edit")

    await page.get_by_label(re.compile(r"^Your name")).fill("Alice de Boer")
    await page.get_by_label("Function").fill("Hydroloog")
    await page.get_by_label("Organisation").fill("Waterschap Vallei en Veluwe")
    await page.get_by_label("Expertise").fill("grondwater, peilbeheer")
    await page.get_by_label("Themes").fill("water, klimaat adaptatie")
    await page.get_by_label("Short introduction").fill("Ik meet grondwater.")
    await page.get_by_role("button", name="Save profile").click()
    themes = page.get_by_label("Themes")
    await expect(themes).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_role("alert")).to_contain_text("letters, digits, - and _")
    await check_accessibility(page, "profile-edit-error")
    await themes.fill("water, klimaatadaptatie")
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_role("status")).to_have_text("Your profile was saved.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Alice de Boer")
    await expect(page.get_by_text("Waterschap Vallei en Veluwe")).to_be_visible()
    await expect(page.get_by_role("link", name="#klimaatadaptatie")).to_be_visible()

    await page.get_by_role("link", name="Edit profile").click()
    await page.get_by_label("Choose a photo").set_input_files(
        files=[{"name": "alice.png", "mimeType": "image/png", "buffer": _png()}]
    )
    await page.get_by_role("button", name="Upload photo").click()
    await expect(page.get_by_role("status")).to_have_text("Your photo was saved.")
    photo = page.get_by_role("img", name="Your current photo")
    await expect(photo).to_be_visible()
    assert await photo.evaluate("img => img.naturalWidth") == 320
    await page.get_by_role("link", name="View your profile").click()
    await expect(page.locator("img.avatar.large")).to_be_visible()
    await check_accessibility(page, "profile")

    await page.get_by_role("link", name="People").click()
    await page.get_by_label("Search words").fill("grondwater")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name="Alice de Boer")).to_be_visible()
    await check_accessibility(page, "people-directory")

"""Blogs and files in a real browser, across two real instances: a member on A writes a post
into a group on B (keyboard only), previews and publishes it; a member on B comments and the
comment shows on A; files are uploaded with progress, previewed, replaced and deleted. Every
page passes axe-core (WCAG 2.1 AA)."""

from __future__ import annotations

import io
import re
from typing import Any

from browser_support import check_accessibility, sign_in
from harness import Instance, people, settle, value
from PIL import Image
from playwright.async_api import Page, expect

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"

# Records every value the upload's <progress> shows, so the test sees the bar move.
WATCH_PROGRESS = """() => {
  window.progressSeen = [];
  const bar = document.querySelector("form[data-upload] progress");
  new MutationObserver(() => window.progressSeen.push(Number(bar.value)))
    .observe(bar, {attributes: true, attributeFilter: ["value"]});
}"""


def image_bytes(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


async def focused(page: Page) -> str:
    """The focused control as `tag#id` or `tag[value]` (buttons): what Tab reached."""
    return str(
        await page.evaluate(
            """() => {
                const e = document.activeElement;
                const tag = e.tagName.toLowerCase();
                if (e.id) return tag + "#" + e.id;
                return tag + "[" + (e.value || e.textContent.trim()) + "]";
            }"""
        )
    )


async def tab_to(page: Page, target: str, limit: int = 40) -> list[str]:
    """Press Tab until `target` has the focus; the controls passed on the way."""
    passed: list[str] = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        passed.append(await focused(page))
        if passed[-1] == target:
            return passed
    raise AssertionError(f"{target} cannot be reached by keyboard; Tab went {passed}")


async def test_post_into_a_group_elsewhere_comments_and_files(
    start_instance: Any, new_page: Any
) -> None:
    a: Instance = await start_instance("a")
    b: Instance = await start_instance("b")
    await people(a, "anna")
    await people(b, "owner", "bob")
    group = await b.runtime.actors.create_group(
        "water", owner="owner", title="Waterbeheer", themes=["water"]
    )
    for instance, name in ((a, "anna"), (b, "bob")):
        await instance.publish(name, {"type": "Follow", "object": group.uri})
    await settle(a, b)

    page = await new_page("en")
    await sign_in(page, a, "anna")
    await page.goto(a.url("/users/anna/blog"))
    await check_accessibility(page, "blog-own-empty")
    await page.get_by_role("link", name="Write a post").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Write a post")
    await check_accessibility(page, "blog-write")

    # Keyboard only: from the top of the page, Tab reaches every control of the form in order.
    passed = await tab_to(page, "input#title")
    assert passed[0] == "a[Skip to content]"
    await page.keyboard.type("Dijkversterking 2026")
    await page.keyboard.press("Tab")
    assert await focused(page) == "textarea#summary"
    await page.keyboard.type("Wat we dit jaar aan de dijken doen.")
    await page.keyboard.press("Tab")
    assert await focused(page) == "textarea#content"
    await page.keyboard.type("# Plan\n\nWe versterken **de dijk** bij Gorinchem.\n\n")
    await page.keyboard.type("<script>alert('x')</script>")
    await page.keyboard.press("Tab")
    assert await focused(page) == "input#themes"
    await page.keyboard.type("water, klimaat")
    await page.keyboard.press("Tab")
    assert await focused(page) == "select#group"
    await page.keyboard.press("ArrowDown")  # the one group: Waterbeheer, on B
    assert await page.locator("select#group").input_value() == group.uri
    for button in ("preview", "draft", "publish"):
        await page.keyboard.press("Tab")
        assert await focused(page) == f"button[{button}]"
    # The script's live preview has rendered the text meanwhile, without the script tag.
    live = page.locator("#live-preview")
    await expect(live).to_be_visible()
    await expect(live.locator("strong")).to_have_text("de dijk")
    assert await live.locator("script").count() == 0

    # The server's preview: the same HTML the Article will carry.
    await page.locator("button[value=preview]").focus()
    await page.keyboard.press("Enter")
    preview = page.locator("#preview")
    await expect(preview.get_by_role("heading", name="Plan")).to_be_visible()
    await expect(preview.locator("strong")).to_have_text("de dijk")
    assert await preview.locator("script").count() == 0
    assert await page.locator("select#group").input_value() == group.uri
    await check_accessibility(page, "blog-preview")

    await page.get_by_role("button", name="Publish").click()
    await expect(page.get_by_role("status")).to_have_text("Your post was published.")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dijkversterking 2026")
    await expect(page.get_by_role("link", name="Waterbeheer")).to_be_visible()
    key = re.search(r"/blog/([0-9a-f]{24})", page.url)
    assert key, page.url
    article = a.runtime.iris.object(key.group(1))
    await check_accessibility(page, "blog-post")
    await settle(a, b)
    # B's group accepted it from its member on A and filed it under itself.
    filed = await value(b, "SELECT group_id FROM objects WHERE uri = $1", article)
    assert filed == group.id

    # Bob, a member on B, answers through his own instance; the group relays it.
    await b.publish(
        "bob",
        {
            "type": "Note",
            "content": "<p>Goed plan, Anna. Doet Dordrecht mee?</p>",
            "inReplyTo": article,
            "to": [PUBLIC],
            "cc": [group.uri, a.url("/users/anna")],
            "audience": group.uri,
        },
    )
    await settle(a, b)
    await page.reload()
    comment = page.get_by_role("article", name="Comment by bob")
    await expect(comment).to_contain_text("Doet Dordrecht mee?")
    await expect(comment).to_contain_text(f"@bob@{b.domain}")
    await expect(page.get_by_role("heading", name="Comments (1)")).to_be_visible()
    await page.get_by_role("button", name="Like").click()
    await expect(page.get_by_text("Likes: 1")).to_be_visible()
    await expect(page.get_by_role("button", name="Like")).to_have_attribute("aria-pressed", "true")
    await comment.get_by_role("link", name="Reply to bob").click()
    await page.get_by_label(re.compile(r"^Your comment")).fill("Ja, vanaf maart.")
    await page.get_by_role("button", name="Post comment").click()
    await expect(page.get_by_role("status")).to_have_text("Your comment was posted.")
    await expect(comment.get_by_role("article", name="Comment by anna")).to_contain_text(
        "vanaf maart"
    )
    await check_accessibility(page, "blog-post-comments")

    # Files: upload with progress, see the preview, a new version, delete.
    await page.goto(a.url("/users/anna/files"))
    await check_accessibility(page, "files-empty")
    await page.evaluate(WATCH_PROGRESS)
    await page.get_by_label(re.compile(r"^File \(")).set_input_files(
        files=[
            {
                "name": "dijk.png",
                "mimeType": "image/png",
                "buffer": image_bytes(800, 600, (30, 90, 160)),
            }
        ]
    )
    await page.get_by_role("button", name="Upload", exact=True).click()
    await expect(page.get_by_role("status").first).to_have_text("“dijk.png” was uploaded.")
    assert 100 in await page.evaluate("window.progressSeen")
    row = page.get_by_role("row", name=re.compile("dijk.png"))
    await expect(row).to_contain_text("image/png")
    thumbnail = row.locator("img.thumb")
    await expect(thumbnail).to_be_visible()
    assert await thumbnail.evaluate("img => img.complete && img.naturalWidth > 0")
    await check_accessibility(page, "files-list")

    await row.get_by_role("link", name="dijk.png", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("dijk.png")
    preview_image = page.get_by_role("img", name="Preview of dijk.png")
    await expect(preview_image).to_be_visible()
    assert await preview_image.evaluate("img => img.naturalWidth > 0")
    await check_accessibility(page, "file-details")
    await page.evaluate(WATCH_PROGRESS)
    await page.get_by_label(re.compile(r"^File \(")).set_input_files(
        files=[
            {
                "name": "dijk-2.png",
                "mimeType": "image/png",
                "buffer": image_bytes(640, 480, (160, 90, 30)),
            }
        ]
    )
    await page.get_by_role("button", name="Upload new version").click()
    await expect(page.get_by_role("status").first).to_have_text(
        "A new version of “dijk-2.png” was uploaded."
    )
    assert 100 in await page.evaluate("window.progressSeen")
    await expect(page.get_by_role("link", name="Version 2")).to_be_visible()
    await expect(page.get_by_role("link", name="Version 1")).to_be_visible()
    await check_accessibility(page, "file-versions")

    await page.get_by_role("link", name=re.compile(r"^Delete")).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Delete “dijk-2.png”?")
    await check_accessibility(page, "file-delete")
    await page.get_by_role("button", name="Delete file").click()
    await expect(page.get_by_role("status").first).to_have_text("“dijk-2.png” was deleted.")
    await expect(page.get_by_text("No files yet.")).to_be_visible()
    await check_accessibility(page, "files-after-delete")

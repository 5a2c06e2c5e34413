"""A group across two instances in real browsers: a person on A finds a closed group on B by
handle and asks to join, a moderator on B approves, the person starts a discussion, a member
on B replies, the reply appears on A; the moderator deletes the post. Every page visited
passes axe-core."""

from __future__ import annotations

import re
from typing import Any

from browser_support import check_accessibility, sign_in
from harness import Instance, follow_state, people, settle
from playwright.async_api import expect

from federatie.domain.actors import GroupKind
from federatie.web.ui.remote import remote_actor_path


async def test_join_a_closed_group_elsewhere_discuss_and_moderate(
    start_instance: Any, new_page: Any
) -> None:
    a: Instance = await start_instance("a")
    b: Instance = await start_instance("b")
    await people(a, "anna")
    await people(b, "olga", "bart")
    await b.runtime.actors.create_group(
        "water", owner="olga", title="Waterbeheer", kind=GroupKind.CLOSED, themes=["water"]
    )
    group = b.url("/groups/water")
    await b.publish("bart", {"type": "Follow", "object": group})
    await settle(b)
    await b.runtime.groups.decide("olga", "water", b.url("/users/bart"), accept=True)

    # Anna on A finds the group by its handle and asks to join.
    anna = await new_page("en")
    await sign_in(anna, a, "anna")
    await anna.goto(a.url("/groups"))
    await check_accessibility(anna, "groups-directory")
    await anna.get_by_label("Handle or address").fill(f"@water@{b.config.domain}")
    await anna.get_by_role("button", name="Look up").click()
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Waterbeheer")
    await check_accessibility(anna, "remote-group")
    await anna.get_by_role("button", name="Request to join").click()
    await expect(anna.get_by_role("status")).to_contain_text("Your request to join was sent")
    await expect(anna.get_by_text("Your request to join is waiting for an answer.")).to_be_visible()
    await settle(a, b)

    # Olga, the owner on B, approves in her browser.
    olga = await new_page("en")
    await sign_in(olga, b, "olga")
    await olga.goto(b.url("/groups/water"))
    await olga.get_by_role("link", name="Moderation").click()
    await expect(olga.get_by_role("link", name="Moderation")).to_have_attribute(
        "aria-current", "page"
    )
    await check_accessibility(olga, "group-moderation")
    await olga.get_by_role("button", name=re.compile(r"^Approve @anna@")).click()
    await expect(olga.get_by_role("status")).to_have_text("The request was approved.")
    await settle(a, b)

    # Anna, now a member, starts a discussion on A; it goes to the group on B.
    await anna.reload()
    await expect(anna.get_by_text("You are a member of this group.")).to_be_visible()
    await anna.get_by_role("button", name="Post").click()  # empty: labelled errors
    await expect(anna.get_by_role("alert")).to_contain_text("Give the discussion a subject.")
    await expect(anna.get_by_label(re.compile(r"^Subject"))).to_have_attribute(
        "aria-invalid", "true"
    )
    await check_accessibility(anna, "remote-group-errors")
    await anna.get_by_label(re.compile(r"^Subject")).fill("Peilbesluit 2025")
    await anna.get_by_label(re.compile(r"^Message")).fill("Wie kijkt mee naar het peilbesluit?")
    await anna.get_by_role("button", name="Post").click()
    await expect(anna.get_by_role("heading", level=1)).to_have_text("Peilbesluit 2025")
    thread_on_a = anna.url
    await settle(a, b)

    # Bart, a member on B, reads it in the group there and replies.
    bart = await new_page("en")
    await sign_in(bart, b, "bart")
    await bart.goto(b.url("/groups/water"))
    await check_accessibility(bart, "group-overview")
    await bart.get_by_role("link", name="Peilbesluit 2025").click()
    await check_accessibility(bart, "group-discussion")
    await bart.get_by_label(re.compile(r"^Your reply")).fill("Ik kijk mee, namens de afdeling.")
    await bart.get_by_role("button", name="Post reply").click()
    await expect(bart.get_by_role("status")).to_have_text("Your reply was posted.")
    await bart.get_by_role("link", name="Members").click()
    await check_accessibility(bart, "group-members")
    await settle(a, b)

    # The reply reached A through the group's Announce.
    await anna.goto(thread_on_a)
    await expect(anna.get_by_text("Ik kijk mee, namens de afdeling.")).to_be_visible()
    await check_accessibility(anna, "remote-discussion")
    await anna.goto(a.url(remote_actor_path(b.url("/users/olga"))))
    await expect(anna.get_by_role("heading", level=1)).to_have_text("olga")
    await check_accessibility(anna, "remote-person")

    # Olga removes Anna's post: gone on B, and on A once the group's Delete arrives.
    await olga.goto(b.url("/groups/water"))
    await olga.get_by_role("link", name="Peilbesluit 2025").click()
    await olga.get_by_role("button", name="Delete the post by anna").click()
    await expect(olga.get_by_role("status")).to_have_text("The post was deleted.")
    await expect(olga.get_by_text("No discussions yet.")).to_be_visible()
    await settle(a, b)
    await anna.goto(a.url(remote_actor_path(group)))
    await expect(anna.get_by_text("No discussions yet.")).to_be_visible()

    # Anna leaves the group from A.
    await anna.get_by_role("button", name="Leave group").click()
    await expect(anna.get_by_role("status")).to_have_text("You left the group.")
    await expect(anna.get_by_role("button", name="Request to join")).to_be_visible()
    await settle(a, b)
    assert await follow_state(b, a.url("/users/anna"), group) is None

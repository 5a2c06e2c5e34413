"""The home timeline over real HTTP: posts from the person's groups here and on another
instance, from the people they follow, nothing else; newest first, paged."""

from __future__ import annotations

import re
from typing import Any

from harness import Instance, people, settle
from web_client import WebClient

from federatie.activitypub.iris import AS_PUBLIC


def group_post(group: str, content: str) -> dict[str, Any]:
    return {"type": "Note", "content": content, "to": [AS_PUBLIC], "cc": [group], "audience": group}


async def test_home_needs_a_session(instance: Instance) -> None:
    web = WebClient(instance)
    try:
        status, _ = await web.get("/home", allow_redirects=False)
        assert status == 303
        _, html = await web.get("/home")
        assert 'name="next" value="/home"' in html
    finally:
        await web.close()


async def test_timeline_of_groups_across_instances_and_followed_people(
    start_instance: Any,
) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "anna", "carl", "dirk", "erik")
    await people(b, "bob")
    await b.runtime.actors.create_group("water", owner="bob", title="Waterbeheer")
    await a.runtime.actors.create_group("lokaal", owner="carl", title="Lokaal overleg")
    remote_group, local_group = b.url("/groups/water"), a.url("/groups/lokaal")
    for instance, name, group in (
        (a, "anna", remote_group),
        (b, "bob", remote_group),
        (a, "anna", local_group),
        (a, "carl", local_group),
    ):
        await instance.publish(name, {"type": "Follow", "object": group})
    await a.publish("anna", {"type": "Follow", "object": a.url("/users/dirk")})
    await settle(a, b)

    await b.publish("bob", group_post(remote_group, "<p>Peil <strong>stijgt</strong></p>"))
    await a.publish("carl", group_post(local_group, "<p>Agenda dinsdag</p>"))
    await a.publish("dirk", {"type": "Note", "content": "<p>Dirk openbaar</p>", "to": [AS_PUBLIC]})
    followers_only = {"type": "Note", "content": "<p>Dirk volgers</p>"}
    await a.publish("dirk", {**followers_only, "to": [a.url("/users/dirk/followers")]})
    await a.publish("erik", {"type": "Note", "content": "<p>Erik onbekend</p>", "to": [AS_PUBLIC]})
    await settle(a, b)

    web = WebClient(a)
    try:
        await web.sign_in("anna")
        status, html = await web.get("/home")
    finally:
        await web.close()
    assert status == 200
    shown = re.findall(
        r"<p>(Peil <strong>stijgt</strong>|Agenda dinsdag|Dirk \w+|Erik \w+)</p>", html
    )
    # Newest to arrive here first: B's post reached A last, while the network settled.
    assert shown == [
        "Peil <strong>stijgt</strong>",
        "Dirk volgers",
        "Dirk openbaar",
        "Agenda dinsdag",
    ]
    # Where each came from, linked: the remote group through the remote actor page.
    assert "Message by bob in Waterbeheer" in html
    assert 'href="/remote?uri=' + remote_group.replace(":", "%3A").replace("/", "%2F") in html
    assert 'href="/groups/lokaal">Lokaal overleg</a>' in html
    assert 'href="/users/dirk">@dirk@' in html


async def test_paging_newest_first(instance: Instance) -> None:
    await people(instance, "anna")
    for n in range(23):
        content = f"<p>Bericht {n}</p>"
        await instance.publish("anna", {"type": "Note", "content": content, "to": [AS_PUBLIC]})
    web = WebClient(instance)
    try:
        await web.sign_in("anna")
        _, first = await web.get("/home")
        numbers = [int(n) for n in re.findall(r"<p>Bericht (\d+)</p>", first)]
        assert numbers == list(range(22, 2, -1))
        older = re.search(r'href="(/home\?max_id=\d+)">Older', first)
        assert older and "Newer" not in first
        _, second = await web.get(older.group(1))
        assert [int(n) for n in re.findall(r"<p>Bericht (\d+)</p>", second)] == [2, 1, 0]
        assert "Older" not in second
        newer = re.search(r'href="(/home\?min_id=\d+)">Newer', second)
        assert newer
        _, back = await web.get(newer.group(1))
        assert [int(n) for n in re.findall(r"<p>Bericht (\d+)</p>", back)] == list(range(22, 2, -1))
        status, _ = await web.get("/home?max_id=abc")
        assert status == 400
    finally:
        await web.close()

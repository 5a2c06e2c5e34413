"""The group pages without a browser: directory and new groups, discussions, joining,
members-only privacy, moderation (requests, roles, bans, deleting posts, reports), and remote
actors' pages; every form's happy path, its bad input (422, labelled), 403s and CSRF."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from harness import Instance, follow_state, people, settle, value
from web_client import WebClient

from federatie.domain.actors import GroupKind
from federatie.web.ui.remote import remote_actor_path


@pytest.fixture
async def clients(instance: Instance) -> AsyncIterator[Any]:
    """`web = await client("anna")`: a signed-in browser-like client (None: signed out)."""
    made: list[WebClient] = []

    async def make(name: str | None = None) -> WebClient:
        client = WebClient(instance)
        made.append(client)
        if name is not None:
            await client.sign_in(name)
        return client

    yield make
    for client in made:
        await client.close()


def labelled_error(html: str, field: str, text: str) -> None:
    """The message is shown next to its control, tied to it, and summarised in an alert."""
    assert f'id="{field}-error"' in html, html[:3000]
    assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', html) or re.search(
        rf'aria-describedby="[^"]*{field}-error[^"]*"[^>]*', html
    )
    assert 'aria-invalid="true"' in html and 'role="alert"' in html
    assert text in html, text


async def post_id(instance: Instance, content: str) -> int:
    found: int = await value(
        instance, "SELECT id FROM objects WHERE document->>'content' LIKE $1", f"%{content}%"
    )
    return found


# ----------------------------------------------------------------------------- directory


async def test_directory_search_and_new_group_form(instance: Instance, clients: Any) -> None:
    await people(instance, "anna")
    await instance.runtime.actors.create_group(
        "water", owner="anna", title="Waterbeheer", themes=["water", "klimaat"]
    )
    await instance.runtime.actors.create_group("fiets", owner="anna", title="Fietspaden")
    guest = await clients()
    status, html = await guest.get("/groups")
    assert status == 200 and "Waterbeheer" in html and "Fietspaden" in html
    assert "@water@" + instance.config.domain in html and "Open group" in html
    assert 'href="/groups/new"' not in html  # signed out: no form
    _, html = await guest.get("/groups?q=water")
    assert "Waterbeheer" in html and "Fietspaden" not in html
    _, html = await guest.get("/groups?theme=klimaat")
    assert "Waterbeheer" in html and "Fietspaden" not in html
    status, _ = await guest.get("/groups/new", allow_redirects=False)
    assert status == 303  # to the sign-in page

    web = await clients("anna")
    _, html = await web.get("/groups")
    assert 'href="/groups/new"' in html and 'action="/remote/lookup"' in html
    status, html = await web.get("/groups/new")
    assert status == 200 and "<h1>New group</h1>" in html

    bad = {"title": "", "name": "Geen spaties", "description": "", "kind": "open", "themes": ""}
    status, html, _ = await web.post("/groups/new", bad, form_page="/groups/new")
    assert status == 422
    labelled_error(html, "title", "Give the group a title.")
    labelled_error(html, "name", "Use 1 to 30 letters, digits or underscores.")
    cases = [
        ({"name": "water"}, "name", "This name is taken."),
        ({"name": "new"}, "name", "This name is reserved."),
        ({"themes": "water, bad theme!"}, "themes", "Themes are single words"),
        ({"kind": "secret"}, "kind", "Choose one of the kinds of group."),
    ]
    for change, field, text in cases:
        fields = {**bad, "title": "Bodem", "name": "bodem", **change}
        status, html, _ = await web.post("/groups/new", fields, form_page="/groups/new")
        assert status == 422, change
        labelled_error(html, field, text)

    good = {
        "title": "Bodem en ondergrond",
        "name": "Bodem",
        "description": "Over de bodem.",
        "kind": "closed",
        "themes": "bodem, #Water",
    }
    status, html, url = await web.post("/groups/new", good, form_page="/groups/new")
    assert status == 200 and url == instance.url("/groups/bodem"), html[:2000]
    assert "The group was made. You are its owner." in html
    assert "Closed group: joining needs approval" in html and "#bodem" in html
    assert "Your role in this group: Owner" in html
    assert 'aria-current="page">Overview' in html and 'href="/groups/bodem/moderation"' in html
    group = await instance.runtime.actors.get("bodem")
    assert group.group_kind is GroupKind.CLOSED and group.themes == ("bodem", "water")

    # The JSON directory and the actor document are unchanged at the same URLs.
    async with web.session.get(
        instance.url("/groups"), headers={"Accept": "application/json"}
    ) as response:
        assert [g["name"] for g in (await response.json())["items"]] == ["bodem", "fiets", "water"]
    async with web.session.get(
        instance.url("/groups/bodem"), headers={"Accept": "application/activity+json"}
    ) as response:
        assert (await response.json(content_type=None))["type"] == "Group"


async def test_forms_need_the_csrf_token(instance: Instance, clients: Any) -> None:
    await people(instance, "anna")
    await instance.runtime.actors.create_group("water", owner="anna")
    web = await clients("anna")
    for path in ("/groups/new", "/groups/water/join", "/groups/water/discussions"):
        async with web.session.post(
            instance.url(path), data={"title": "x", "name": "x", "content": "x"}
        ) as response:
            assert response.status == 403, path
    assert await value(instance, "SELECT count(*) FROM objects") == 0


# ----------------------------------------------------------------------------- discussions


async def test_join_discuss_reply_and_delete_in_an_open_group(
    instance: Instance, clients: Any
) -> None:
    await people(instance, "anna", "bert", "carla")
    await instance.runtime.actors.create_group("water", owner="anna", title="Waterbeheer")
    bert, carla, anna = await clients("bert"), await clients("carla"), await clients("anna")

    _, html = await bert.get("/groups/water")
    assert "Join group" in html and "Start a discussion" not in html
    status, _, _ = await bert.post(
        "/groups/water/discussions", {"title": "x", "content": "y"}, form_page="/groups/water"
    )
    assert status == 403  # not a member yet
    status, html, _ = await bert.post("/groups/water/join", {}, form_page="/groups/water")
    assert status == 200 and "You joined the group." in html
    await settle(instance)
    _, html = await bert.get("/groups/water")
    assert "You are a member of this group." in html and "Leave group" in html

    status, html, _ = await bert.post(
        "/groups/water/discussions", {"title": " ", "content": ""}, form_page="/groups/water"
    )
    assert status == 422
    labelled_error(html, "title", "Give the discussion a subject.")
    labelled_error(html, "content", "Write a message.")
    status, html, url = await bert.post(
        "/groups/water/discussions",
        {"title": "Dijkversterking", "content": "Het water stijgt.\n\nWat doen we <nu>?"},
        form_page="/groups/water",
    )
    assert status == 200 and "/groups/water/discussions/" in url, html[:2000]
    assert "<h1>Dijkversterking</h1>" in html
    assert "<p>Het water stijgt.</p><p>Wat doen we &lt;nu&gt;?</p>" in html
    await settle(instance)
    opening = await post_id(instance, "Het water stijgt")
    stored = await value(instance, "SELECT document FROM objects WHERE id = $1", opening)
    group_uri = instance.url("/groups/water")
    assert stored["audience"] == [group_uri] and stored["cc"] == [group_uri]
    assert stored["name"] == "Dijkversterking"

    # Carla is no member: she reads (an open group is public) but cannot reply.
    _, html = await carla.get(f"/groups/water/discussions/{opening}")
    assert "Het water stijgt." in html and "Join the group to take part" in html
    status, _, _ = await carla.post(
        f"/groups/water/discussions/{opening}", {"content": "Ik ook"}, form_page="/groups/water"
    )
    assert status == 403

    # The owner replies to the opening post, Bert to that reply.
    status, html, _ = await anna.post(
        f"/groups/water/discussions/{opening}", {"content": ""}, form_page="/groups/water"
    )
    assert status == 422
    labelled_error(html, "content", "Write a message.")
    status, html, _ = await anna.post(
        f"/groups/water/discussions/{opening}",
        {"content": "Eerst meten."},
        form_page="/groups/water",
    )
    assert status == 200 and "Your reply was posted." in html and "Eerst meten." in html
    first_reply = await post_id(instance, "Eerst meten.")
    status, html, _ = await bert.post(
        f"/groups/water/discussions/{opening}",
        {"content": "Goed plan.", "in_reply_to": str(first_reply)},
        form_page="/groups/water",
    )
    assert status == 200 and "Goed plan." in html
    await settle(instance)
    answer = await post_id(instance, "Goed plan.")
    parent = await value(instance, "SELECT in_reply_to FROM objects WHERE id = $1", answer)
    assert parent == await value(instance, "SELECT uri FROM objects WHERE id = $1", first_reply)
    _, html = await carla.get("/groups/water")
    assert "Dijkversterking" in html and "Replies: 2" in html

    # Nobody but the author or staff deletes a post.
    status, _, _ = await carla.post(
        f"/groups/water/posts/{answer}/delete", {}, form_page="/groups/water"
    )
    assert status == 403
    status, html, _ = await bert.post(
        f"/groups/water/posts/{answer}/delete", {}, form_page="/groups/water"
    )
    assert status == 200 and "The post was deleted." in html
    # Staff delete anyone's post: a Delete announced by the group.
    _, html = await anna.get(f"/groups/water/discussions/{opening}")
    assert html.count("Delete<span") == 2  # the opening post and Anna's reply
    status, html, url = await anna.post(
        f"/groups/water/posts/{opening}/delete",
        {"back": f"/groups/water/discussions/{opening}"},
        form_page="/groups/water",
    )
    assert status == 200 and url == instance.url("/groups/water")  # the discussion is gone
    assert "The post was deleted." in html
    await settle(instance)
    assert await value(
        instance,
        """SELECT count(*) FROM activities a JOIN actors g ON g.id = a.actor_id
           WHERE a.type = 'Delete' AND g.username = 'water'""",
    ) == 1
    _, html = await carla.get("/groups/water")
    assert "Dijkversterking" not in html and "No discussions yet." in html

    status, html, _ = await bert.post("/groups/water/leave", {}, form_page="/groups/water")
    assert status == 200 and "You left the group." in html and "Join group" in html
    assert await follow_state(instance, instance.url("/users/bert"), group_uri) is None


# ----------------------------------------------------------------------------- closed groups


async def test_closed_group_requests_roles_bans_and_reports(
    instance: Instance, clients: Any
) -> None:
    await people(instance, "anna", "bert", "carla", "dirk")
    await instance.runtime.actors.create_group(
        "raad", owner="anna", title="Raad", kind=GroupKind.CLOSED
    )
    anna, bert, carla = await clients("anna"), await clients("bert"), await clients("carla")
    for member in (bert, carla):
        _, html = await member.get("/groups/raad")
        assert "Request to join" in html
        status, html, _ = await member.post("/groups/raad/join", {}, form_page="/groups/raad")
        assert "Your request to join was sent to the group&#39;s moderators." in html
    await settle(instance)
    _, html = await bert.get("/groups/raad")
    assert "Your request to join is waiting for an answer." in html
    for path in ("/groups/raad/moderation",):
        status, _ = await bert.get(path)
        assert status == 403
    status, _, _ = await bert.post(
        "/groups/raad/moderation/requests",
        {"member": instance.url("/users/bert"), "decision": "approve"},
        form_page="/groups/raad",
    )
    assert status == 403

    status, html = await anna.get("/groups/raad/moderation")
    assert status == 200 and "Requests to join" in html
    assert 'aria-current="page">Moderation' in html and "@bert@" in html and "@carla@" in html
    bert_uri, carla_uri = instance.url("/users/bert"), instance.url("/users/carla")
    status, html, _ = await anna.post(
        "/groups/raad/moderation/requests",
        {"member": bert_uri, "decision": "maybe"},
        form_page="/groups/raad",
    )
    assert status == 422 and "Choose approve or refuse." in html and 'role="alert"' in html
    status, html, _ = await anna.post(
        "/groups/raad/moderation/requests",
        {"member": bert_uri, "decision": "approve"},
        form_page="/groups/raad",
    )
    assert status == 200 and "The request was approved." in html
    status, html, _ = await anna.post(
        "/groups/raad/moderation/requests",
        {"member": carla_uri, "decision": "refuse"},
        form_page="/groups/raad",
    )
    assert "The request was refused." in html and "Nobody is waiting." in html
    await settle(instance)
    group_uri = instance.url("/groups/raad")
    assert await follow_state(instance, bert_uri, group_uri) == "accepted"
    assert await follow_state(instance, carla_uri, group_uri) is None

    # Roles: only the owner gives them, and only to members.
    status, html, _ = await anna.post(
        "/groups/raad/moderation/roles",
        {"role_member": carla_uri, "role": "moderator"},
        form_page="/groups/raad",
    )
    assert status == 422
    labelled_error(html, "role_member", "Only members of the group can get a role.")
    status, html, _ = await anna.post(
        "/groups/raad/moderation/roles", {"role_member": "", "role": "boss"}, form_page="/"
    )
    assert status == 422
    labelled_error(html, "role", "Choose a role.")
    status, html, _ = await anna.post(
        "/groups/raad/moderation/roles",
        {"role_member": bert_uri, "role": "moderator"},
        form_page="/groups/raad",
    )
    assert status == 200 and "The role was changed." in html
    status, html = await bert.get("/groups/raad/moderation")
    assert status == 200 and "Change role" not in html  # a moderator, not the owner
    status, _, _ = await bert.post(
        "/groups/raad/moderation/roles",
        {"role_member": bert_uri, "role": "admin"},
        form_page="/groups/raad",
    )
    assert status == 403
    _, html = await carla.get("/groups/raad/members")
    assert "Moderator" in html and "@bert@" in html and "Owner" in html

    # Bert posts; a report names his post; Dirk joins and is banned with his posts.
    await bert.post(
        "/groups/raad/discussions",
        {"title": "Agenda", "content": "Punt een."},
        form_page="/groups/raad",
    )
    opening = await post_id(instance, "Punt een.")
    opening_uri = await value(instance, "SELECT uri FROM objects WHERE id = $1", opening)
    async with instance.runtime.pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO reports (activity_uri, reporter_id, object_uris, content)
               VALUES ('https://elders.example/flags/1',
                       (SELECT id FROM actors WHERE username = 'carla'), $1, 'Niet netjes')""",
            [opening_uri],
        )
    dirk = await clients("dirk")
    await dirk.post("/groups/raad/join", {}, form_page="/groups/raad")
    await settle(instance)
    dirk_uri = instance.url("/users/dirk")
    await anna.post(
        "/groups/raad/moderation/requests",
        {"member": dirk_uri, "decision": "approve"},
        form_page="/groups/raad",
    )
    await settle(instance)
    await dirk.post(
        "/groups/raad/discussions",
        {"title": "Reclame", "content": "Koop nu."},
        form_page="/groups/raad",
    )
    await settle(instance)

    status, html = await bert.get("/groups/raad/moderation")
    assert "Niet netjes" in html and f'href="/groups/raad/posts/{opening}"' in html
    status, html = await bert.get(f"/groups/raad/posts/{opening}")
    assert status == 200 and "<h1>Agenda</h1>" in html  # the post in its discussion
    status, html, _ = await bert.post(
        "/groups/raad/moderation/bans", {"ban_member": "", "reason": "x" * 501}, form_page="/"
    )
    assert status == 422
    labelled_error(html, "ban_member", "Choose a member.")
    labelled_error(html, "reason", "Use at most 500 characters.")
    status, html, _ = await bert.post(
        "/groups/raad/moderation/bans",
        {"ban_member": dirk_uri, "reason": "Reclame", "delete_posts": "1"},
        form_page="/groups/raad",
    )
    assert status == 200 and "The member was banned; 1 posts deleted." in html
    assert "Reclame" in html and "Lift the ban" in html
    await settle(instance)
    assert await follow_state(instance, dirk_uri, group_uri) is None
    _, html = await dirk.get("/groups/raad")
    assert "You are banned from this group." in html and "Koop nu" not in html

    status, html, _ = await bert.post(
        "/groups/raad/moderation/unban", {"member": dirk_uri}, form_page="/groups/raad"
    )
    assert "The ban was lifted." in html and "Nobody is banned." in html
    report = await value(instance, "SELECT id FROM reports")
    status, html, _ = await bert.post(
        f"/groups/raad/moderation/reports/{report}/resolve", {}, form_page="/groups/raad"
    )
    assert "The report was marked as dealt with." in html and "No open reports." in html


# ----------------------------------------------------------------------------- members only


async def test_members_only_group_shows_nothing_to_others(
    instance: Instance, clients: Any
) -> None:
    await people(instance, "anna", "bert", "carla")
    await instance.runtime.actors.create_group(
        "geheim", owner="anna", title="Geheim overleg", kind=GroupKind.MEMBERS_ONLY
    )
    anna, bert = await clients("anna"), await clients("bert")
    await bert.post("/groups/geheim/join", {}, form_page="/groups/geheim")
    await settle(instance)
    await anna.post(
        "/groups/geheim/moderation/requests",
        {"member": instance.url("/users/bert"), "decision": "approve"},
        form_page="/groups/geheim",
    )
    await settle(instance)
    status, html, _ = await bert.post(
        "/groups/geheim/discussions",
        {"title": "Vertrouwelijk", "content": "Alleen voor leden."},
        form_page="/groups/geheim",
    )
    assert status == 200, html[:2000]
    await settle(instance)
    opening = await post_id(instance, "Alleen voor leden.")
    stored = await value(instance, "SELECT document FROM objects WHERE id = $1", opening)
    assert stored["to"] == [instance.url("/groups/geheim")] and "cc" not in stored

    carla, guest = await clients("carla"), await clients()
    for client in (carla, guest):
        status, html = await client.get("/groups/geheim")
        assert status == 200 and "Only members can read this group." in html
        assert "Vertrouwelijk" not in html and "Alleen voor leden" not in html
        status, html = await client.get(f"/groups/geheim/discussions/{opening}")
        assert status == 404 and "Alleen voor leden" not in html
    status, _ = await carla.get("/groups/geheim/members")
    assert status == 403
    status, _ = await guest.get("/groups/geheim/members", allow_redirects=False)
    assert status == 303
    _, html = await bert.get("/groups/geheim/members")
    assert "@bert@" in html
    _, html = await bert.get("/groups/geheim")
    assert "Vertrouwelijk" in html


# ----------------------------------------------------------------------------- remote actors


async def test_remote_person_profile_and_lookup_errors(
    instance: Instance, clients: Any, foreign: Any
) -> None:
    await people(instance, "anna")
    await instance.runtime.actors.create_group("water", owner="anna")
    masto = await foreign("mastodon")
    pieter = masto.add_actor("pieter")
    pieter.extra.update(
        {
            "name": "Pieter Jansen",
            "summary": "<p>Hydroloog<script>alert(1)</script></p>",
            "icon": {"type": "Image", "mediaType": "image/png", "url": masto.url("/a.png")},
            "attachment": [
                {"type": "PropertyValue", "name": "Organisatie", "value": "Waterschap Rijn"},
                {"type": "PropertyValue", "name": "Expertise", "value": "<b>Dijken</b>"},
            ],
        }
    )
    guest = await clients()
    status, _ = await guest.get(remote_actor_path(pieter.id))
    assert status == 404  # signed out: only actors already known here
    anna = await clients("anna")
    status, html = await anna.get("/remote/lookup", params={"q": ""})
    assert status == 422
    labelled_error(html, "q", "Enter a handle like @name@host")
    status, html = await anna.get("/remote/lookup", params={"q": "not a handle"})
    assert status == 422 and "Enter a handle like" in html
    status, html = await anna.get("/remote/lookup", params={"q": f"@nobody@{masto.domain}"})
    assert status == 422 and "Nobody with that handle or address was found." in html
    status, html = await anna.get(
        "/remote/lookup", params={"q": f"@water@{instance.config.domain}"}
    )
    assert status == 200 and "<h1>water</h1>" in html

    status, html = await anna.get("/remote/lookup", params={"q": f"@pieter@{masto.domain}"})
    assert status == 200, html[:2000]
    assert "<h1>Pieter Jansen</h1>" in html and f"@pieter@{masto.domain}" in html
    assert "Hydroloog" in html and "<script>" not in html
    assert "<dt>Organisatie</dt><dd>Waterschap Rijn</dd>" in html
    assert "<dd><b>Dijken</b></dd>" in html and masto.url("/a.png") in html
    status, _ = await guest.get(remote_actor_path(pieter.id))
    assert status == 200  # known here now

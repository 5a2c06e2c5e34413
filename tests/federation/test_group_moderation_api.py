"""Group staff moderate over HTTP with a bearer token; Mobilizon-style Leave ends membership."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from harness import Instance, follow_state, people, settle, value

from federatie.domain.actors import GroupKind

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def _call(
    instance: Instance, token: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, instance.url(path), json=body, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None)


async def test_staff_decide_ban_and_remove_over_http(start_instance: Any) -> None:
    a = await start_instance("a")
    b = await start_instance("b")
    await people(a, "alice", "dave")
    await people(b, "owner", "mallory")
    await b.runtime.actors.create_group("raad", owner="owner", kind=GroupKind.CLOSED)
    group = b.url("/groups/raad")
    owner = await b.runtime.actors.issue_token("owner")
    stranger = await b.runtime.actors.issue_token("mallory")
    for name in ("alice", "dave"):
        await a.publish(name, {"type": "Follow", "object": group})
    await settle(a, b)

    status, body = await _call(b, owner, "GET", "/groups/raad/requests")
    assert status == 200
    # Both Follows are delivered concurrently, so their arrival order is not fixed.
    assert sorted(body["pending"]) == [a.url("/users/alice"), a.url("/users/dave")]
    status, _ = await _call(b, stranger, "GET", "/groups/raad/requests")
    assert status == 403

    alice, dave = a.url("/users/alice"), a.url("/users/dave")
    assert (
        await _call(b, owner, "POST", "/groups/raad/requests", {"actor": alice, "accept": True})
    )[0] == 200
    assert (
        await _call(b, owner, "POST", "/groups/raad/requests", {"actor": dave, "accept": False})
    )[0] == 200
    await settle(a, b)
    assert await follow_state(a, alice, group) == "accepted"
    assert await follow_state(a, dave, group) is None

    post = await a.publish(
        "alice",
        {
            "type": "Note",
            "content": "<p>agenda</p>",
            "to": [PUBLIC],
            "cc": [group],
            "audience": group,
        },
    )
    await settle(a, b)
    object_id = post["object"]["id"]
    status, _ = await _call(b, stranger, "POST", "/groups/raad/removals", {"object": object_id})
    assert status == 403
    status, _ = await _call(b, owner, "POST", "/groups/raad/removals", {"object": object_id})
    assert status == 200
    status, body = await _call(b, owner, "POST", "/groups/raad/bans", {"actor": alice})
    assert (status, body["deleted_posts"]) == (200, 0)
    await settle(a, b)
    assert await value(a, "SELECT deleted_at IS NOT NULL FROM objects WHERE uri = $1", object_id)
    assert await follow_state(a, alice, group) is None  # told of the ban


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/groups/raad/requests", {"actor": "x"}, 422),  # no accept
        ("/groups/raad/requests", {"accept": True}, 422),  # no actor
        ("/groups/raad/requests", ["not", "an", "object"], 400),
        ("/groups/raad/requests", {"actor": "https://nobody.example/u", "accept": True}, 404),
        ("/groups/raad/bans", {"actor": "x", "delete_posts": "yes"}, 422),
        ("/groups/raad/removals", {"object": "https://nowhere.example/o"}, 404),
        ("/groups/nogroup/removals", {"object": "x"}, 404),
    ],
)
async def test_bad_moderation_requests(
    instance: Instance, path: str, body: Any, status: int
) -> None:
    await people(instance, "owner")
    await instance.runtime.actors.create_group("raad", owner="owner", kind=GroupKind.CLOSED)
    token = await instance.runtime.actors.issue_token("owner")
    got, answer = await _call(instance, token, "POST", path, body)
    assert got == status and "error" in answer


async def test_leave_ends_membership(start_instance: Any, foreign: Any) -> None:
    b = await start_instance("b")
    await people(b, "owner")
    await b.runtime.actors.create_group("water", owner="owner")
    group = b.url("/groups/water")
    mobilizon = await foreign("mastodon")
    member = mobilizon.add_actor("lid")
    await mobilizon.deliver(member, b.url("/groups/water/inbox"), mobilizon.follow(member, group))
    await settle(b)
    assert await follow_state(b, member.id, group) == "accepted"
    leave = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": mobilizon.url("/leave/1"),
        "type": "Leave",
        "actor": member.id,
        "object": group,
    }
    status, _ = await mobilizon.deliver(member, b.url("/groups/water/inbox"), leave)
    assert status == 202
    await settle(b)
    assert await follow_state(b, member.id, group) is None
